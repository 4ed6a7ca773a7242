#!/usr/bin/env python
"""Consumer and producer on one connection, two ways.

    python examples/both.py [PORT]

`/` runs the seed's version: race one recv() against one producer() call,
over and over. `/straight` is the straightforward version the seed asks for:
one task consumes, one produces, and the first to finish (the connection
closed) cancels the other.
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


async def racing_handler(websocket, path):
    listener_task = asyncio.ensure_future(websocket.recv())
    producer_task = asyncio.ensure_future(producer())
    try:
        while True:
            done, _ = await asyncio.wait([listener_task, producer_task], return_when=asyncio.FIRST_COMPLETED)
            if listener_task in done:
                message = listener_task.result()
                if message is None:
                    break
                await consumer(message)
                listener_task = asyncio.ensure_future(websocket.recv())
            if producer_task in done:
                message = producer_task.result()
                if not websocket.open:
                    break
                await websocket.send(message)
                producer_task = asyncio.ensure_future(producer())
    finally:
        listener_task.cancel()
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
app.websocket("/")(racing_handler)
app.websocket("/straight")(straight_handler)


if __name__ == "__main__":
    asgiws.run(app, host="localhost", port=int(sys.argv[1]) if len(sys.argv) > 1 else 8765)
