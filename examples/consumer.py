#!/usr/bin/env python
"""The user guide's consumer pattern: receive messages until the connection closes.

    python examples/consumer.py [PORT]

`recv()` returns None once the connection is closed: that ends the loop.
"""

import asyncio
import sys

import asgiws


async def consumer(message):
    print(f"consumed {message}", flush=True)


async def handler(websocket, path):
    while True:
        message = await websocket.recv()
        if message is None:
            break
        await consumer(message)


async def main(port: int) -> None:
    async with asgiws.serve(handler, "localhost", port):
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8765))
