#!/usr/bin/env python
"""Consumer and producer on one connection: the user guide's "Both" pattern.

    python examples/both.py [PORT]

`/` runs `handler`, the guide's code as the guide writes it (only
modernised to async/await): each turn races one `recv()` against one
`producer()` call and cancels the loser. Cancelling `recv()` loses no
message: one that arrived meanwhile is returned by the next `recv()`.

`/straight` is the straightforward version the guide asks for: one task
consumes, one produces, and the first to finish (the connection closed)
cancels the other.
"""

import asyncio
import itertools
import sys

import asgiws
from asgiws import App

_ticks = itertools.count(1)


async def consumer(message):
    print(f"consumed {message}", flush=True)


async def producer():
    await asyncio.sleep(0.1)
    return f"tick {next(_ticks)}"


# The guide's handler, verbatim.
async def handler(websocket, path):
    while True:
        listener_task = asyncio.ensure_future(websocket.recv())
        producer_task = asyncio.ensure_future(producer())
        done, pending = await asyncio.wait(  # noqa: RUF059 (the guide's code, verbatim)
            [listener_task, producer_task],
            return_when=asyncio.FIRST_COMPLETED)

        if listener_task in done:
            message = listener_task.result()
            if message is None:
                break
            await consumer(message)
        else:
            listener_task.cancel()

        if producer_task in done:
            message = producer_task.result()
            if not websocket.open:
                break
            await websocket.send(message)
        else:
            producer_task.cancel()


async def consume_all(websocket):
    async for message in websocket:
        await consumer(message)


async def produce_forever(websocket):
    while websocket.open:
        message = await producer()
        await websocket.send(message)


async def straight_handler(websocket, path):
    tasks = [asyncio.ensure_future(consume_all(websocket)), asyncio.ensure_future(produce_forever(websocket))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


app = App()
app.websocket("/")(handler)
app.websocket("/straight")(straight_handler)


if __name__ == "__main__":
    asgiws.run(app, host="localhost", port=int(sys.argv[1]) if len(sys.argv) > 1 else 8765)
