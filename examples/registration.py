#!/usr/bin/env python
"""Registration: the user guide's pattern for keeping the set of connected clients.

    python examples/registration.py [PORT]

Each client is greeted, along with everyone already connected, when it
arrives, and stays registered for ten seconds. This in-memory set only works
in one process; across processes, use a message broker: the same pattern
with `PubSub.join()` is examples/registration_pubsub.py.
"""

import asyncio
import sys

import asgiws

connected = set()


# The guide's handler, modernised to async/await.
async def handler(websocket, path):
    global connected
    # Register.
    connected.add(websocket)
    try:
        # Implement logic here.
        await asyncio.wait(
            # Python 3.11's asyncio.wait() takes tasks, no longer coroutines:
            # ensure_future() is the one change the guide's code needs.
            [asyncio.ensure_future(ws.send("Hello!")) for ws in connected])
        await asyncio.sleep(10)
    finally:
        # Unregister.
        connected.remove(websocket)


async def main(port: int) -> None:
    async with asgiws.serve(handler, "localhost", port):
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8765))
