"""SIGTERM to a real server process under load: 500 WebSockets streaming and 50 HTTP responses in flight.

Half the WebSockets stream numbered messages from the server, half echo
what their client streams. Every WebSocket gets a close frame with 1001
after an unbroken stream,
every HTTP response arrives whole, connections made once the shutdown has
started are refused, and the process exits 0 before
`timeout_graceful_shutdown` without cancelling anything. The same with
``--workers 2``, SIGTERM going to the supervisor.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .processes import ServerProcess, need_descriptors

WEBSOCKETS = 500
RESPONSES = 50
#: Each HTTP response streams CHUNKS chunks, one every CHUNK_INTERVAL seconds: 3 s in all.
CHUNKS = 30
CHUNK_INTERVAL = 0.1
#: --timeout-graceful-shutdown: well past the 3 s the responses need.
GRACEFUL = 10
#: Seconds for what must happen promptly (connecting, the first message, a refusal).
TIMEOUT = 20

APP = textwrap.dedent(
    f"""
    import asyncio

    async def app(scope, receive, send):
        if scope["type"] == "websocket" and scope["path"] == "/echo":
            await receive()
            await send({{"type": "websocket.accept"}})
            while (message := await receive())["type"] == "websocket.receive":
                try:
                    await send({{"type": "websocket.send", "text": message["text"]}})
                except OSError:
                    return
        elif scope["type"] == "websocket":
            await receive()
            await send({{"type": "websocket.accept"}})
            count = 0
            try:
                while True:  # a numbered message every 50 ms until the connection closes
                    await send({{"type": "websocket.send", "text": str(count)}})
                    count += 1
                    await asyncio.sleep(0.05)
            except OSError:  # ConnectionClosed: sending on a closed WebSocket (ASGI spec 2.4)
                return
        elif scope["type"] == "http":
            await send({{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}})
            for index in range({CHUNKS}):
                await send({{"type": "http.response.body", "body": b"chunk %d\\n" % index, "more_body": True}})
                await asyncio.sleep({CHUNK_INTERVAL})
            await send({{"type": "http.response.body", "body": b"end\\n"}})
    """
)

FULL_BODY = b"".join(b"chunk %d\n" % index for index in range(CHUNKS)) + b"end\n"


@dataclass
class Load:
    """What the clients saw."""

    close_codes: list[int | None] = field(default_factory=list)
    broken_streams: int = 0  # a WebSocket whose numbered messages skipped or repeated one
    bodies: list[bytes] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)


async def stream(ws: ClientConnection, load: Load) -> None:
    """Read the numbered messages after the first until the server closes; note the close code it sent."""
    expected = 1
    try:
        async for message in ws:
            if int(message) != expected:
                load.broken_streams += 1
            expected += 1
    except ConnectionClosed:
        pass
    load.close_codes.append(ws.close_code)  # the code of the close frame received (1006: none)


async def echo(ws: ClientConnection, load: Load) -> None:
    """Send numbered messages, each once the last came back, until the server closes; note its close code."""
    count = 1
    try:
        while True:
            await ws.send(str(count))
            if await ws.recv() != str(count):
                load.broken_streams += 1
            count += 1
            await asyncio.sleep(0.05)
    except ConnectionClosed:
        pass
    load.close_codes.append(ws.close_code)


async def fetch(client: httpx.AsyncClient, port: int, started: asyncio.Event, load: Load, counter: list[int]) -> None:
    """GET one streaming response; `started` is set once every response has sent its first chunk."""
    try:
        async with client.stream("GET", f"http://127.0.0.1:{port}/") as response:
            body = b""
            async for chunk in response.aiter_raw():
                if not body:
                    counter[0] += 1
                    if counter[0] == RESPONSES:
                        started.set()
                body += chunk
            load.bodies.append(body)
    except httpx.HTTPError as exc:  # e.g. RemoteProtocolError: the body ended before its last chunk
        load.http_errors.append(repr(exc))


def refused(port: int) -> bool:
    """Whether a new TCP connection to `port` is refused."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def refused_within(port: int, seconds: float) -> bool:
    """Whether new connections are refused within `seconds` (listening stops a moment after the log line)."""
    deadline = time.monotonic() + seconds
    while True:
        if refused(port):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


async def load_and_terminate(server: ServerProcess, port: int, workers: int) -> tuple[Load, bool, float]:
    """Open the load, SIGTERM the server mid-flight, let the clients finish.

    Returns what the clients saw, whether a connection made during the
    shutdown was refused, and when the SIGTERM was sent (monotonic).
    """
    load = Load()
    opening = asyncio.Semaphore(100)

    async def open_one(path: str) -> ClientConnection:
        async with opening:
            uri = f"ws://127.0.0.1:{port}{path}"
            ws = await connect(uri, open_timeout=TIMEOUT, ping_interval=None, close_timeout=TIMEOUT)
            if path == "/echo":
                await ws.send("0")
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "0"
            return ws

    # Half the WebSockets stream from the server, half echo what their client streams.
    paths = ["/", "/echo"] * (WEBSOCKETS // 2)
    websockets = await asyncio.gather(*(open_one(path) for path in paths))
    readers = [
        asyncio.create_task((echo if path == "/echo" else stream)(ws, load))
        for path, ws in zip(paths, websockets, strict=True)
    ]
    started = asyncio.Event()
    limits = httpx.Limits(max_connections=RESPONSES, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=TIMEOUT) as client:
        counter = [0]
        fetches = [asyncio.create_task(fetch(client, port, started, load, counter)) for _ in range(RESPONSES)]
        await asyncio.wait_for(started.wait(), TIMEOUT)
        assert not load.bodies, "a response ended before the SIGTERM"
        server.signal(signal.SIGTERM)
        terminated = time.monotonic()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, server.wait_for, "Shutting down", workers)
        was_refused = await loop.run_in_executor(None, refused_within, port, 2.0)
        if was_refused:
            assert not load.bodies, "the responses must still be in flight when new connections are refused"
        await asyncio.wait_for(asyncio.gather(*fetches, *readers), GRACEFUL + TIMEOUT)
    return load, was_refused, terminated


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_under_load_closes_websockets_with_1001_and_finishes_responses(tmp_path, workers):
    need_descriptors(WEBSOCKETS + RESPONSES + 100)  # in this process and in the server, which inherits the limit
    options = ["--port", "0", "--no-access-log", "--timeout-graceful-shutdown", str(GRACEFUL)]
    with ServerProcess(tmp_path, *options, "--workers", str(workers), app=APP) as server:
        port = server.wait_for_port(workers)
        load, was_refused, terminated = asyncio.run(load_and_terminate(server, port, workers))
        status = server.wait(timeout=max(0.0, terminated + GRACEFUL - time.monotonic()))
        log = server.log

    print(  # shown by `pytest -rP`
        f"workers={workers}: close codes {Counter(load.close_codes)}, broken streams {load.broken_streams}, "
        f"complete responses {load.bodies.count(FULL_BODY)}/{RESPONSES}, HTTP errors {len(load.http_errors)}, "
        f"new connection refused: {was_refused}, exit status {status}"
    )
    assert load.close_codes == [1001] * WEBSOCKETS
    assert load.broken_streams == 0
    assert load.http_errors == []
    assert load.bodies == [FULL_BODY] * RESPONSES
    assert status == 0
    assert not [line for line in log if "ERROR" in line or "Traceback" in line or "Cancel" in line]
    assert was_refused, "a connection made during the shutdown was not refused"
