"""Each example runs as its own process and is talked to by a real client."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.examples.browser import chromium_path, open_page
from tests.pubsub.redis_server import RedisServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def example(
    name: str, *args: str, force_stop: bool = False, port_option: str | None = None
) -> Iterator[tuple[int, subprocess.Popen]]:
    """Run examples/NAME.py on a free port until it accepts connections.

    The port is its first argument, or follows `port_option` ("--port").
    At the end it gets SIGINT; with `force_stop`, SIGINT again until it exits
    (a second Ctrl-C stops waiting for handlers that are still running;
    signals sent back to back may count as one).
    """
    port = free_port()
    port_args = [str(port)] if port_option is None else [port_option, str(port)]
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / name), *port_args, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                    # With no listener, a connect to a port in the ephemeral range can
                    # succeed by meeting itself (TCP simultaneous open): that is not the example.
                    if probe.getsockname() != probe.getpeername():
                        break
            except OSError as exc:
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited early:\n{process.stdout.read()}") from exc
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not listen on port {port}") from exc
                time.sleep(0.05)
        yield port, process
    finally:
        process.send_signal(signal.SIGINT)
        if force_stop:
            for _ in range(50):
                try:
                    process.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"{name} did not stop on SIGINT")


def stop_and_read(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=10)
    return output


def test_server_and_client() -> None:
    with example("server.py") as (port, server):
        client = subprocess.run(
            [sys.executable, str(EXAMPLES / "client.py"), f"ws://localhost:{port}"],
            input="Ada\n",
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert client.returncode == 0, client.stderr
        assert "> Ada" in client.stdout
        assert "< Hello Ada!" in client.stdout
        output = stop_and_read(server)
    assert "< Ada" in output
    assert "> Hello Ada!" in output


def test_server_with_websockets_client() -> None:
    async def talk(port: int) -> str:
        async with connect(f"ws://127.0.0.1:{port}/any/path?x=1") as ws:
            await ws.send("Grace")
            return await asyncio.wait_for(ws.recv(), 5)

    with example("server.py") as (port, _):
        assert asyncio.run(talk(port)) == "Hello Grace!"


def test_time_page_and_socket_from_one_process() -> None:
    async def collect(port: int) -> list[str]:
        async with connect(f"ws://127.0.0.1:{port}/time", origin=f"http://127.0.0.1:{port}") as ws:  # type: ignore[arg-type]
            return [await asyncio.wait_for(ws.recv(), 5) for _ in range(3)]

    async def refused(port: int, origin: str | None) -> int:
        with pytest.raises(InvalidStatus) as info:
            await connect(f"ws://127.0.0.1:{port}/time", origin=origin)  # type: ignore[arg-type]
        return info.value.response.status_code

    with example("time.py") as (port, _):
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "location.host" in page.text  # connects back to where it was served from
        stamps = asyncio.run(collect(port))
        # A page of another site (or no browser at all) may not open it.
        assert asyncio.run(refused(port, "https://elsewhere.example")) == 403
        assert asyncio.run(refused(port, None)) == 403
    assert len(stamps) == 3
    assert stamps == sorted(stamps)


# In CI (.ci/run installs Chromium) a missing browser is a failure, not a skip.
@pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"), reason="chromium is not installed (.ci/run installs it)"
)
def test_time_page_in_chromium() -> None:
    async def watch(port: int) -> tuple[str, int, int, str]:
        async with open_page(f"http://127.0.0.1:{port}/") as page:
            count = "document.querySelectorAll('#messages li').length"
            first = 0
            for _ in range(100):
                first = await page.evaluate(count)
                if first >= 1:
                    break
                await asyncio.sleep(0.1)
            later = first
            for _ in range(100):
                later = await page.evaluate(count)
                if later >= first + 2:
                    break
                await asyncio.sleep(0.1)
            status = await page.evaluate("document.getElementById('status').textContent")
            extensions = await page.evaluate("ws.extensions")
            return status, first, later, extensions

    with example("time.py") as (port, _):
        status, first, later, extensions = asyncio.run(watch(port))
    assert status == "connected"
    assert first >= 1, "no timestamp arrived in the page"
    assert later >= first + 2, "timestamps stopped arriving"
    # Chromium offers permessage-deflate; the server accepts it by default.
    assert "permessage-deflate" in extensions


def test_consumer() -> None:
    async def send(port: int) -> None:
        async with connect(f"ws://127.0.0.1:{port}/") as ws:
            for word in ("one", "two", "three"):
                await ws.send(word)

    with example("consumer.py") as (port, server):
        asyncio.run(send(port))
        time.sleep(0.3)
        output = stop_and_read(server)
    assert "consumed one" in output and "consumed three" in output


def test_producer() -> None:
    async def receive(port: int) -> list[str]:
        async with connect(f"ws://127.0.0.1:{port}/") as ws:
            return [await asyncio.wait_for(ws.recv(), 5) for _ in range(3)]

    with example("producer.py") as (port, _):
        ticks = asyncio.run(receive(port))
    assert all(tick.startswith("tick ") for tick in ticks)


@pytest.mark.parametrize("path", ["/", "/straight"])
def test_both(path: str) -> None:
    async def talk(port: int) -> list[str]:
        async with connect(f"ws://127.0.0.1:{port}{path}") as ws:
            await ws.send("hello there")
            return [await asyncio.wait_for(ws.recv(), 5) for _ in range(2)]

    with example("both.py") as (port, server):
        ticks = asyncio.run(talk(port))
        time.sleep(0.3)
        output = stop_and_read(server)
    assert all(tick.startswith("tick ") for tick in ticks)
    assert "consumed hello there" in output


async def greetings(first_port: int, second_port: int) -> tuple[list[str], list[str]]:
    """What a first client, then a second one, of the registration pattern receive."""
    async with connect(f"ws://127.0.0.1:{first_port}/") as first:
        seen_first = [await asyncio.wait_for(first.recv(), 5)]
        async with connect(f"ws://127.0.0.1:{second_port}/") as second:
            seen_first.append(await asyncio.wait_for(first.recv(), 5))
            seen_second = [await asyncio.wait_for(second.recv(), 5)]
        return seen_first, seen_second


# The guide's version, verbatim, and the same pattern on PubSub.join() (in-process here).
@pytest.mark.parametrize("name", ["registration.py", "registration_pubsub.py"])
def test_registration(name: str) -> None:
    # The guide's handler stays ten seconds whatever the client does: a second Ctrl-C ends it.
    with example(name, force_stop=True) as (port, _):
        seen_first, seen_second = asyncio.run(greetings(port, port))
    assert seen_first == ["Hello!", "Hello!"]  # on its arrival, then on the second one's
    assert seen_second == ["Hello!"]


def test_registration_across_two_processes_on_one_redis(redis_server: RedisServer) -> None:
    with (
        example("registration_pubsub.py", "--redis", redis_server.url, force_stop=True) as (port_a, _),
        example("registration_pubsub.py", "--redis", redis_server.url, force_stop=True) as (port_b, _),
    ):
        seen_first, seen_second = asyncio.run(greetings(port_a, port_b))
    assert seen_first == ["Hello!", "Hello!"]  # the second client's arrival, on the other process, too
    assert seen_second == ["Hello!"]


def test_raw_asgi() -> None:
    async def shout(port: int) -> str:
        async with connect(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send("quiet")
            return await asyncio.wait_for(ws.recv(), 5)

    with example("raw_asgi.py") as (port, _):
        assert httpx.get(f"http://127.0.0.1:{port}/some/where", timeout=5).text == "GET /some/where\n"
        assert asyncio.run(shout(port)) == "QUIET"


def test_starlette_app() -> None:
    pytest.importorskip("starlette")

    async def echo(port: int) -> str:
        async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
            await ws.send("x")
            return await asyncio.wait_for(ws.recv(), 5)

    with example("starlette_app.py") as (port, _):
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).json() == {"hello": "world"}
        assert asyncio.run(echo(port)) == "echo: x"
