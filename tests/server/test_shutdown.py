"""Graceful shutdown: in-flight requests finish, idle ones close, a deadline bounds it,
and the command line exits 0 on SIGINT."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading

from .raw_client import RawResponse, connect, is_closed
from .server_thread import serving

TIMEOUT = 5


def test_in_flight_request_completes_then_server_exits():
    entered = threading.Event()
    release = threading.Event()

    async def app(scope, receive, send):
        entered.set()
        while not release.is_set():
            await asyncio.sleep(0.01)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]})
        await send({"type": "http.response.body", "body": b"done"})

    with serving(app) as (server, port, thread), connect(port) as busy, connect(port) as idle:
        busy.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert entered.wait(TIMEOUT)
        server.should_exit = True
        assert is_closed(idle)  # idle keep-alive connections close at once
        assert thread.is_alive()  # ... but the server waits for the busy one
        release.set()
        response = RawResponse.read_from(busy.makefile("rb"))
        thread.join(TIMEOUT)
        assert not thread.is_alive()
    assert response.status == 200 and response.body == b"done"
    assert response.header("connection") == "close"


def test_graceful_shutdown_timeout_cancels_stuck_requests():
    cancelled = threading.Event()
    entered = threading.Event()

    async def app(scope, receive, send):
        entered.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with serving(app, timeout_graceful_shutdown=0.3) as (server, port, thread), connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert entered.wait(TIMEOUT)
        server.should_exit = True
        thread.join(TIMEOUT)
        assert not thread.is_alive()
        assert cancelled.is_set()
        assert is_closed(sock)


APP_MODULE = textwrap.dedent(
    """
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})
    """
)


def test_cli_exits_0_on_sigint(tmp_path):
    (tmp_path / "sigint_app.py").write_text(APP_MODULE)
    process = subprocess.Popen(
        [sys.executable, "-m", "asgiws", "sigint_app:app", "--app-dir", str(tmp_path), "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=str(tmp_path),
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True)
    reader.start()
    try:
        log = []
        while True:
            line = lines.get(timeout=10)
            log.append(line)
            if "asgiws running on http://127.0.0.1:" in line:
                break
        port = int(line.split("127.0.0.1:")[1].split()[0])
        with connect(port) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert RawResponse.read_from(sock.makefile("rb")).body == b"ok"
        os.kill(process.pid, signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(TIMEOUT)
    while not lines.empty():
        log.append(lines.get())
    assert any("Shutting down" in line for line in log)


def test_shutdown_closes_websockets_with_1001():
    from websockets.asyncio.client import connect as ws_connect
    from websockets.exceptions import ConnectionClosed

    async def app(scope, receive, send):
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            while (await receive())["type"] != "websocket.disconnect":
                pass

    async def client(server, port):
        async with ws_connect(f"ws://127.0.0.1:{port}/", open_timeout=TIMEOUT) as ws:
            server.should_exit = True
            try:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            except ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else None

    with serving(app) as (server, port, thread):
        code = asyncio.run(client(server, port))
        thread.join(TIMEOUT)
        assert not thread.is_alive()
    assert code == 1001


HANGING_APP = textwrap.dedent(
    """
    import asyncio

    async def app(scope, receive, send):
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"started", "more_body": True})
            await asyncio.sleep(3600)
    """
)


def test_second_sigint_forces_exit(tmp_path):
    (tmp_path / "hanging_app.py").write_text(HANGING_APP)
    process = subprocess.Popen(
        [sys.executable, "-m", "asgiws", "hanging_app:app", "--app-dir", str(tmp_path), "--port", "0",
         "--timeout-graceful-shutdown", "none"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True)
    reader.start()

    def wait_for(text: str) -> str:
        while True:
            line = lines.get(timeout=10)
            if text in line:
                return line

    try:
        line = wait_for("asgiws running on http://127.0.0.1:")
        port = int(line.split("127.0.0.1:")[1].split()[0])
        with connect(port) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")  # the request is in flight
            os.kill(process.pid, signal.SIGINT)
            wait_for("Waiting for connections to close")
            assert process.poll() is None  # the request in flight holds the shutdown
            os.kill(process.pid, signal.SIGINT)
            assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
