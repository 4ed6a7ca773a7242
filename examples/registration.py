#!/usr/bin/env python
"""Registration: keep the set of connected clients; greet them all on each arrival.

    python examples/registration.py [PORT]

Each new client triggers a broadcast to everyone connected. This in-memory
set only works in one process; across processes use a message broker.
"""

import asyncio
import sys

import asgiws

connected = set()


async def handler(websocket, path):
    connected.add(websocket)
    try:
        asgiws.broadcast(connected, f"Hello! {len(connected)} connected")
        async for message in websocket:  # stay until the client leaves
            pass
    finally:
        connected.remove(websocket)


async def main(port: int) -> None:
    async with asgiws.serve(handler, "localhost", port):
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8765))
