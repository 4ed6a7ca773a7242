#!/usr/bin/env python
"""The basic example's client: asks your name, sends it, prints the greeting.

    python examples/client.py [URI]
"""

import asyncio
import sys

import asgiws


async def hello(uri: str) -> None:
    async with asgiws.connect(uri) as websocket:
        name = input("What's your name? ")
        await websocket.send(name)
        print(f"> {name}")

        greeting = await websocket.recv()
        print(f"< {greeting}")


if __name__ == "__main__":
    asyncio.run(hello(sys.argv[1] if len(sys.argv) > 1 else "ws://localhost:8765"))
