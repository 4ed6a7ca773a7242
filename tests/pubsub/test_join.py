"""join() over real servers and real WebSocket clients: App, serve(), and two server processes on one Redis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

import asgiws
from tests.app.wire import run
from tests.conftest import running_server
from tests.pubsub.chat_app import make_app
from tests.pubsub.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
BURST = 1000


async def join(url: str) -> ClientConnection:
    websocket = await connect(url)
    assert await websocket.recv() == "joined"
    return websocket


async def chat(senders: list[ClientConnection], members: list[ClientConnection], count: int = BURST // 2) -> None:
    """Each sender sends `count` messages at once; every member must get all of them, in one order.

    A burst of 1000 with two senders: join() sends through broadcast(), which
    never cuts a burst short for a client that reads.
    """

    async def send(index: int, websocket: ClientConnection) -> None:
        for i in range(count):
            await websocket.send(f"{index}:{i}")

    await asyncio.gather(*(send(index, websocket) for index, websocket in enumerate(senders)))
    total = count * len(senders)
    received = [[await member.recv() for _ in range(total)] for member in members]
    assert all(got == received[0] for got in received)  # one order for all, as Redis received them
    for index in range(len(senders)):
        assert [m for m in received[0] if m.startswith(f"{index}:")] == [f"{index}:{i}" for i in range(count)]


def test_join_in_an_app(pubsub_url: str, server_kind: str) -> None:
    # PubSub speaks ASGI through the framework only, so the app runs on uvicorn as well.
    with running_server(make_app(asgiws.PubSub(pubsub_url)), server_kind, lifespan="on") as (host, port):

        async def main() -> None:
            members = [await join(f"ws://{host}:{port}/rooms/lobby") for _ in range(3)]
            elsewhere = await join(f"ws://{host}:{port}/rooms/other")
            await chat(members[:2], members)
            await asyncio.gather(*(member.close() for member in members))
            await elsewhere.send("only here")
            assert await elsewhere.recv() == "only here"
            await elsewhere.close()

        run(main())


def test_join_in_a_serve_handler(pubsub_url: str) -> None:
    async def main() -> None:
        async with asgiws.PubSub(pubsub_url) as pubsub:

            async def handler(websocket: Any, path: str) -> None:
                async with pubsub.join(path, websocket):
                    await websocket.send("joined")
                    async for message in websocket:
                        await pubsub.publish(path, message)

            async with asgiws.serve(handler, "127.0.0.1", 0, log_level="warning") as server:
                port = server.sockets[0].getsockname()[1]
                members = [await join(f"ws://127.0.0.1:{port}/room") for _ in range(2)]
                await chat(members, members)
                await asyncio.gather(*(member.close() for member in members))

    run(main())


@contextlib.contextmanager
def server_process(redis_url: str) -> Iterator[int]:
    """tests/pubsub/chat_app.py served by `python -m asgiws` in a process of its own; yields its port."""
    command = [sys.executable, "-m", "asgiws", "tests.pubsub.chat_app:app", "--port", "0", "--lifespan", "on"]
    environment = {**os.environ, "PUBSUB_URL": redis_url, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "running on http://127.0.0.1:" in line:
                yield int(line.split("127.0.0.1:")[1].split()[0])
                break
        else:
            raise RuntimeError("the server process did not start")
    finally:
        process.terminate()
        process.wait(15)


def test_join_across_two_server_processes_on_one_redis(redis_server: RedisServer) -> None:
    with server_process(redis_server.url) as port_a, server_process(redis_server.url) as port_b:

        async def main() -> None:
            on_a = [await join(f"ws://127.0.0.1:{port_a}/rooms/lobby") for _ in range(2)]
            on_b = [await join(f"ws://127.0.0.1:{port_b}/rooms/lobby") for _ in range(2)]
            # Four members, two processes: two Redis subscriptions.
            assert redis_server.client().pubsub_numsub("asgiws:0:lobby")[0][1] == 2
            # One sender on each server; all four members see the same messages in the same order.
            await chat([on_a[0], on_b[0]], on_a + on_b)
            await asyncio.gather(*(member.close() for member in on_a + on_b))

        run(main(), timeout=20)


def test_the_server_keeps_serving_while_redis_is_down(redis_server: RedisServer) -> None:
    with running_server(make_app(asgiws.PubSub(redis_server.url, timeout=0.5))) as (host, port):

        async def main() -> None:
            async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
                member = await join(f"ws://{host}:{port}/rooms/lobby")
                assert (await http.get("/rooms/lobby/publish", params={"message": "before"})).status_code == 200
                assert await member.recv() == "before"
                redis_server.kill()
                assert (await http.get("/rooms/lobby/publish", params={"message": "lost"})).status_code == 503
                assert (await http.get("/health")).text == "ok"
                await (await member.ping())  # the joined WebSocket is still served
                # Back without its data: the room's messages may be lost, so the member is told to reconnect.
                redis_server.start()
                await member.wait_closed()
                assert member.close_code == 1012
                member = await join(f"ws://{host}:{port}/rooms/lobby")
                assert (await http.get("/rooms/lobby/publish", params={"message": "after"})).status_code == 200
                assert await member.recv() == "after"
                await member.close()

        run(main(), timeout=20)


def test_a_burst_of_publishes_reaches_every_joined_member_whole(pubsub_url: str, server_kind: str) -> None:
    """1000 messages published at once by the server (in one loop turn in process): one burst for broadcast().

    On Redis, the publishes outnumber the connections a process may open, so
    they wait for one: none fails with redis-py's "Too many connections".
    """
    with running_server(make_app(asgiws.PubSub(pubsub_url)), server_kind, lifespan="on") as (host, port):

        async def main() -> None:
            members = [await join(f"ws://{host}:{port}/rooms/lobby") for _ in range(3)]
            async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
                params = {"count": BURST}  # all at once: on Redis more than its pool's connections
                assert (await http.get("/rooms/lobby/burst", params=params)).text == "published"

            async def read(member: ClientConnection) -> list[str | bytes]:
                return [await member.recv() for _ in range(BURST)]

            received = await asyncio.gather(*(read(member) for member in members))
            assert all(got == received[0] for got in received)  # one order for all, as the broker received them
            assert sorted(received[0], key=int) == [f"{i}" for i in range(BURST)]  # each once
            if pubsub_url == "memory://":
                assert received[0] == [f"{i}" for i in range(BURST)]  # in the order published
            await asyncio.gather(*(member.close() for member in members))

        run(main(), timeout=30)
