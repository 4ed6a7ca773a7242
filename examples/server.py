#!/usr/bin/env python
"""The basic example's server: reads a name, answers with a greeting.

    python examples/server.py [PORT]
"""

import asyncio
import sys

import asgiws


async def hello(websocket, path):
    name = await websocket.recv()
    print(f"< {name}", flush=True)

    greeting = f"Hello {name}!"
    await websocket.send(greeting)
    print(f"> {greeting}", flush=True)


async def main(port: int) -> None:
    async with asgiws.serve(hello, "localhost", port):
        await asyncio.get_running_loop().create_future()  # serve forever


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8765))
