#!/usr/bin/env python
"""The user guide's producer pattern: send what a producer makes while the connection is open.

    python examples/producer.py [PORT]

`send()` raises ConnectionClosed on a closed connection, so the loop checks
`websocket.open` before each send; it turns False as soon as the client has
closed or gone, though this handler never reads.
"""

import asyncio
import itertools
import sys

import asgiws


async def producer(counter=itertools.count(1)):  # noqa: B008 (one count shared by every call, on purpose)
    await asyncio.sleep(0.1)
    return f"tick {next(counter)}"


async def handler(websocket, path):
    while True:
        message = await producer()
        if not websocket.open:
            break
        await websocket.send(message)


async def main(port: int) -> None:
    async with asgiws.serve(handler, "localhost", port):
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8765))
