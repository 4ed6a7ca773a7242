#!/usr/bin/env python
"""Registration, grown up: the guide's pattern with `PubSub.join()` in place of the in-memory set.

    python examples/registration_pubsub.py [PORT] [--redis URL]

It behaves as examples/registration.py (the guide's version, verbatim):
each client is greeted, along with everyone already connected, when it
arrives, and stays registered for ten seconds. Here "everyone" is every
client of every process on the same Redis (``--redis`` or the
``ASGIWS_REDIS_URL`` environment variable); without one, of this process.
"""

import argparse
import asyncio
import os

import asgiws

pubsub = asgiws.PubSub(os.environ.get("ASGIWS_REDIS_URL"))


async def handler(websocket, path):
    # Register: from here on, every "Hello!" published by any process reaches this client.
    async with pubsub.join("hello", websocket):
        # Implement logic here.
        await pubsub.publish("hello", "Hello!")
        await asyncio.sleep(10)
    # Unregistered when the block ends.


async def main(port: int) -> None:
    async with pubsub, asgiws.serve(handler, "localhost", port):
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The guide's registration pattern, across processes.")
    parser.add_argument("port", nargs="?", type=int, default=8765)
    parser.add_argument("--redis", metavar="URL", help="e.g. redis://127.0.0.1:6379/0 (default: $ASGIWS_REDIS_URL)")
    args = parser.parse_args()
    if args.redis:
        pubsub = asgiws.PubSub(args.redis)
    asyncio.run(main(args.port))
