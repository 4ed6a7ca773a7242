"""The user guide's patterns (examples/*.py, verbatim) against the orderings that break them.

"Both" (examples/both.py) races one `recv()` against one `producer()` call
each turn and cancels the loser. Here the other end drives that race on
purpose, in the same event loop as the handler: it sends message ``c<i>``
and feeds the handler's producer ``p<i>`` with the message first, the
producer first, or both a few loop turns apart in either order (the window
in which a message is handed to a `recv()` that is being cancelled).
Whatever the order, the handler's consumer must see every ``c`` once, in
order, and the other end every ``p``. The handler runs on asgiws's server
(through `serve()` and through an `App` route), and on the client
(`asgiws.connect()`), with the server driving.

"Producer" (examples/producer.py) never reads: only `websocket.open` can
end its loop once the client has gone, before a `send()` that would raise.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

import asgiws
from examples import both, producer

TIMEOUT = 20  # seconds: a bound on the whole exchange, never an assertion
ROUNDS = 8  # times through every ordering below
#: How each message is raced against the producer. An int is a number of loop
#: turns between the two, message first when positive, producer first when negative.
ORDERS: list[Any] = ["message first", "producer first", *range(-6, 7)]
COUNT = ROUNDS * len(ORDERS)


class Guide:
    """The guide's handler, with a consumer that records and a producer the other end feeds."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.consumed: list[str] = []
        self.feed: asyncio.Queue[str] = asyncio.Queue()
        self.finished = asyncio.Event()
        monkeypatch.setattr(both, "consumer", self.consumer)
        monkeypatch.setattr(both, "producer", self.producer)

    async def consumer(self, message: str) -> None:
        self.consumed.append(message)

    async def producer(self) -> str:
        return await self.feed.get()

    async def handler(self, websocket: Any, path: str) -> None:
        try:
            await both.handler(websocket, path)
        finally:
            self.finished.set()


async def turns(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def drive(peer: Any, guide: Guide) -> list[str]:
    """Race every ordering against `guide`, talking to it through `peer`; what the guide produced."""
    produced = []
    for i in range(COUNT):
        order = ORDERS[i % len(ORDERS)]
        message = f"c{i}"
        if order == "message first":
            await peer.send(message)
            while guide.consumed[-1:] != [message]:
                await asyncio.sleep(0)
            guide.feed.put_nowait(f"p{i}")
            produced.append(await peer.recv())
        elif order == "producer first":
            guide.feed.put_nowait(f"p{i}")
            produced.append(await peer.recv())
            await peer.send(message)
        elif order >= 0:
            await peer.send(message)
            await turns(order)
            guide.feed.put_nowait(f"p{i}")
            produced.append(await peer.recv())
        else:
            guide.feed.put_nowait(f"p{i}")
            await turns(-order)
            await peer.send(message)
            produced.append(await peer.recv())
    return produced


@contextlib.asynccontextmanager
async def serving_app(app: Any) -> AsyncIterator[int]:
    """Serve an ASGI app in this event loop; yields its port."""
    server = asgiws.Server(asgiws.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning"))
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def serving_handler(handler: Any, style: str) -> AsyncIterator[int]:
    """Serve `handler(websocket, path)` in this event loop, with `serve()` or as an `App` route."""
    if style == "serve":
        async with asgiws.serve(handler, "127.0.0.1", 0, log_level="warning") as server:
            yield server.sockets[0].getsockname()[1]
    else:
        app = asgiws.App()
        app.websocket("/")(handler)
        async with serving_app(app) as port:
            yield port


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


@pytest.mark.parametrize("style", ["serve", "app"])
def test_guide_handler_on_the_server_loses_no_message(style: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> tuple[list[str], list[str]]:
        guide = Guide(monkeypatch)
        async with serving_handler(guide.handler, style) as port:
            async with asgiws.connect(f"ws://127.0.0.1:{port}/") as client:
                produced = await drive(client, guide)
            await guide.finished.wait()  # recv() returned None: the handler broke out of its loop
        return guide.consumed, produced

    consumed, produced = run(main())
    assert consumed == [f"c{i}" for i in range(COUNT)]
    assert produced == [f"p{i}" for i in range(COUNT)]


def test_guide_handler_on_the_client_loses_no_message(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> tuple[list[str], list[str]]:
        guide = Guide(monkeypatch)
        produced: list[str] = []

        async def server_side(websocket: Any) -> None:
            produced.extend(await drive(websocket, guide))

        async with asgiws.serve(server_side, "127.0.0.1", 0, log_level="warning") as server:
            port = server.sockets[0].getsockname()[1]
            async with asgiws.connect(f"ws://127.0.0.1:{port}/") as client:
                await guide.handler(client, "/")  # ends when the server closes
        return guide.consumed, produced

    consumed, produced = run(main())
    assert consumed == [f"c{i}" for i in range(COUNT)]
    assert produced == [f"p{i}" for i in range(COUNT)]


@pytest.mark.parametrize("style", ["serve", "app"])
@pytest.mark.parametrize("leaving", ["close", "drop"])
def test_guide_producer_ends_at_its_open_check(style: str, leaving: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> tuple[list[str], str]:
        feed: asyncio.Queue[str] = asyncio.Queue()
        monkeypatch.setattr(producer, "producer", feed.get)
        connection: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def handler(websocket: Any, path: str) -> None:
            connection.set_result(websocket)
            try:
                await producer.handler(websocket, path)
            except Exception as exc:
                ended.set_result(f"raised {exc!r}")
                raise
            ended.set_result("returned")

        async with serving_handler(handler, style) as port:
            async with asgiws.connect(f"ws://127.0.0.1:{port}/") as client:
                received = []
                for word in ("one", "two"):
                    feed.put_nowait(word)
                    received.append(await client.recv())
                if leaving == "drop":
                    client.transport.abort()
            websocket = await connection
            try:
                async with asyncio.timeout(5):  # a bound, not a measure: it turns False at once
                    while websocket.open:  # the handler is waiting on its producer, not reading
                        await asyncio.sleep(0.01)
            finally:
                feed.put_nowait("three")
            return received, await ended

    received, ended = run(main())
    assert received == ["one", "two"]
    assert ended == "returned"
