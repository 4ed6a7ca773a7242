"""examples/chat.py: rooms in one process, and shared through one real redis-server by two
processes on two ports (two machines, simulated) and by `--workers 2` on one port.

Real WebSocket clients on every side: every message reaches every member of
its room, on every process, in one order for all, and nothing crosses rooms.
Then the page itself, in two headless Chromium pages on the two servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.examples.browser import Page, chromium_path, open_page
from tests.examples.test_examples import example
from tests.pubsub.redis_server import RedisServer
from tests.server.processes import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
COUNT = 500  # messages each sender sends at once: a burst of 1000 with two senders
TIMEOUT = 30  # seconds: a bound on a whole test's exchange, never an assertion

Members = dict[str, ClientConnection]


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, TIMEOUT))


@contextlib.asynccontextmanager
async def open_clients() -> AsyncIterator[list[ClientConnection]]:
    """A list for the WebSockets `join()` opens, all closed together at the end of the block.

    Together: a client that stopped reading (a failed test's) waits out its close timeout.
    """
    clients: list[ClientConnection] = []
    try:
        yield clients
    finally:
        await asyncio.gather(*(websocket.close() for websocket in clients))


async def join(clients: list[ClientConnection], port: int, room: str, name: str) -> ClientConnection:
    """A member of `room` on the server at `port`, in `clients`, once its arrival is announced to it."""
    websocket = await connect(f"ws://127.0.0.1:{port}/rooms/{room}?name={name}", close_timeout=2)
    clients.append(websocket)
    # Announced after the server joined it to the room: from here on it gets every message.
    assert json.loads(await websocket.recv()) == {"type": "join", "name": name}
    return websocket


async def lines(websocket: ClientConnection, count: int) -> list[str]:
    """The next `count` chat messages `websocket` gets, as "name: text" (arrivals skipped)."""
    received: list[str] = []
    while len(received) < count:
        message = json.loads(await websocket.recv())
        if message["type"] == "message":
            received.append(f"{message['name']}: {message['text']}")
    return received


async def converse(red: Members, red_senders: list[str], blue: Members, blue_senders: list[str]) -> None:
    """Each red sender sends COUNT messages at once, then each blue sender one, then a red sender a last.

    Every member gets its room's messages, each sender's in the order sent,
    all members of a room in the same order; nothing reaches the other room.
    The red burst reaches every member whole: no healthy client loses a message.
    """

    async def send(name: str, members: Members, count: int) -> None:
        for i in range(count):
            await members[name].send(f"{i}")

    await asyncio.gather(*(send(name, red, COUNT) for name in red_senders))
    heard = {name: await lines(websocket, COUNT * len(red_senders)) for name, websocket in red.items()}
    first = next(iter(heard.values()))
    assert all(got == first for got in heard.values()), "members of one room saw different orders"
    for sender in red_senders:
        assert [line for line in first if line.startswith(f"{sender}: ")] == [f"{sender}: {i}" for i in range(COUNT)]

    await asyncio.gather(*(send(name, blue, 1) for name in blue_senders))
    heard = {name: await lines(websocket, len(blue_senders)) for name, websocket in blue.items()}
    first = next(iter(heard.values()))
    assert all(got == first for got in heard.values()), "members of one room saw different orders"
    assert sorted(first) == sorted(f"{sender}: 0" for sender in blue_senders), "a red message reached blue"

    await red[red_senders[0]].send("last")
    for websocket in red.values():
        assert await lines(websocket, 1) == [f"{red_senders[0]}: last"], "a blue message reached red"


def test_rooms_in_one_process() -> None:
    async def main(port: int) -> None:
        async with open_clients() as clients:
            red = {name: await join(clients, port, "red", name) for name in ("ada", "bob", "cy")}
            blue = {name: await join(clients, port, "blue", name) for name in ("dee", "eve")}
            await converse(red, ["ada", "bob"], blue, ["dee", "eve"])

    with example("chat.py", port_option="--port") as (port, _):
        page = httpx.get(f"http://127.0.0.1:{port}/rooms/red", timeout=5)
        assert page.headers["content-type"].startswith("text/html")
        assert "location.host" in page.text  # connects back to where it was served from
        run(main(port))


def test_two_servers_on_one_redis(redis_server: RedisServer) -> None:
    async def main(port_a: int, port_b: int) -> None:
        async with open_clients() as clients:
            red = {name: await join(clients, port_a, "red", name) for name in ("a1", "a2")}
            red |= {name: await join(clients, port_b, "red", name) for name in ("b1", "b2")}
            blue = {"a3": await join(clients, port_a, "blue", "a3"), "b3": await join(clients, port_b, "blue", "b3")}
            await converse(red, ["a1", "b1"], blue, ["a3", "b3"])

    redis = ("--redis", redis_server.url)
    with (
        example("chat.py", *redis, port_option="--port") as (port_a, _),
        example("chat.py", *redis, port_option="--port") as (port_b, _),
    ):
        run(main(port_a, port_b))


def subscribed_processes(redis_server: RedisServer, room: str) -> int:
    """How many processes follow `room` (PubSub subscribes once per process to a channel ending in the topic)."""
    client = redis_server.client()
    channels = client.pubsub_channels(f"*:{room}")
    return sum(count for _, count in client.pubsub_numsub(*channels)) if channels else 0


def test_two_workers_on_one_redis(redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def main(port: int) -> None:
        async with open_clients() as clients:
            # The kernel hands connections to either worker: join until both follow the room on Redis.
            red = {"m0": await join(clients, port, "red", "m0")}
            while (following := subscribed_processes(redis_server, "red")) < 2:
                assert len(red) < 40, f"after {len(red)} members, {following} worker(s) follow the room on Redis"
                last = f"m{len(red)}"
                red[last] = await join(clients, port, "red", last)
            # The first member and the last one are on different workers.
            blue = {name: await join(clients, port, "blue", name) for name in ("x", "y", "z")}
            await converse(red, ["m0", last], blue, ["x", "y"])

    monkeypatch.setenv("ASGIWS_REDIS_URL", redis_server.url)
    command = [sys.executable, "-m", "asgiws", "examples.chat:app"]
    with ServerProcess(tmp_path, "--workers", "2", "--port", "0", command=command, cwd=ROOT) as server:
        port = server.wait_for_port(count=2)
        run(main(port))


async def until(page: Page, expression: str) -> None:
    """Wait until the JavaScript `expression` is true in `page`."""
    while not await page.evaluate(expression):
        await asyncio.sleep(0.05)


def shown(text: str) -> str:
    """JavaScript: whether the page's messages list has a line `text`."""
    return f"[...document.querySelectorAll('#messages li')].some((li) => li.textContent === {json.dumps(text)})"


# In CI (.ci/run installs Chromium) a missing browser is a failure, not a skip.
@pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"), reason="chromium is not installed (.ci/run installs it)"
)
def test_pages_in_chromium_on_two_servers(redis_server: RedisServer) -> None:
    async def main(port_a: int, port_b: int) -> None:
        async with (
            open_page(f"http://127.0.0.1:{port_a}/rooms/lobby?name=ada") as ada,
            open_page(f"http://127.0.0.1:{port_b}/rooms/lobby?name=bob") as bob,
        ):
            # Each page shows its own arrival once the server has joined it to the room.
            await until(ada, shown("ada joined"))
            await until(bob, shown("bob joined"))
            await ada.evaluate("$('text').value = 'hello from ada'; $('send').requestSubmit()")
            await until(bob, shown("ada: hello from ada"))
            await bob.evaluate("$('text').value = 'hi ada'; $('send').requestSubmit()")
            await until(ada, shown("bob: hi ada"))
            assert await ada.evaluate("$('status').textContent") == "in lobby as ada"

    redis = ("--redis", redis_server.url)
    with (
        example("chat.py", *redis, port_option="--port") as (port_a, _),
        example("chat.py", *redis, port_option="--port") as (port_b, _),
    ):
        run(main(port_a, port_b))
