"""Limits and timeouts: concurrency (503), max requests, keep-alive and request-head
timeouts (slowloris), and backpressure on request bodies."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from tests.conftest import running_server

from .raw_client import RawResponse, connect, is_closed
from .server_thread import serving

TIMEOUT = 5


async def hello_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
    await send({"type": "http.response.body", "body": b"hello"})


def test_limit_concurrency_answers_503(server_kind):
    release = threading.Event()
    entered = threading.Event()

    async def app(scope, receive, send):
        if scope["path"] == "/slow":
            entered.set()
            while not release.is_set():
                await __import__("asyncio").sleep(0.01)
        await hello_app(scope, receive, send)

    with running_server(app, server_kind, limit_concurrency=2) as (host, port):
        with connect(port) as slow:
            slow.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            assert entered.wait(TIMEOUT)
            response = httpx.get(f"http://{host}:{port}/")
            release.set()
            assert RawResponse.read_from(slow.makefile("rb")).status == 200
    assert response.status_code == 503


def test_limit_max_requests_stops_server():
    with serving(hello_app, limit_max_requests=3) as (server, port, thread):
        with httpx.Client() as client:
            for _ in range(3):
                assert client.get(f"http://127.0.0.1:{port}/").status_code == 200
        thread.join(TIMEOUT)
        assert not thread.is_alive()


def test_keep_alive_timeout_closes_idle_connection(server_kind):
    with running_server(hello_app, server_kind, timeout_keep_alive=0.3) as (host, port), connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert RawResponse.read_from(sock.makefile("rb")).status == 200
        assert is_closed(sock)


def test_silent_socket_is_dropped(server_kind, request):
    """A client that connects and never sends a byte (uvicorn keeps it forever)."""
    settings = {"timeout_keep_alive": 0.3}
    if server_kind == "asgiws":
        settings["timeout_request_head"] = 0.5
    else:
        request.applymarker(pytest.mark.xfail(strict=True, reason="uvicorn arms no timer before the first request"))
    with running_server(hello_app, server_kind, **settings) as (host, port), connect(port) as sock:
        sock.settimeout(3)
        assert is_closed(sock)


def test_slowloris_head_is_dropped():
    """Bytes trickling in reset the keep-alive timer, but not the request-head timer."""
    with serving(hello_app, timeout_request_head=0.5, timeout_keep_alive=5) as (server, port, _), connect(port) as sock:
        sock.settimeout(0.2)
        dropped = False
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            try:
                sock.sendall(bytes([byte]))
                if sock.recv(1) == b"":
                    dropped = True
                    break
            except TimeoutError:
                continue
            except OSError:
                dropped = True
                break
        assert dropped


def test_head_timer_rearmed_after_response():
    with serving(hello_app, timeout_request_head=0.5, timeout_keep_alive=5) as (server, port, _), connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert RawResponse.read_from(sock.makefile("rb")).status == 200
        sock.sendall(b"GET / HTTP/1.1\r\n")  # a partial head, then silence
        sock.settimeout(3)
        assert is_closed(sock)


def test_request_body_backpressure_bounds_buffering():
    """An app that stops reading: the server stops reading, the client blocks."""
    total = 100 * 1024 * 1024
    first_read = threading.Event()
    release = threading.Event()

    async def app(scope, receive, send):
        await receive()
        first_read.set()
        while not release.is_set():
            await __import__("asyncio").sleep(0.01)
        await hello_app(scope, receive, send)

    with serving(app) as (server, port, _):
        with connect(port) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % total)
            chunk = b"x" * 65536
            sent = 0
            largest = 0
            sock.settimeout(0.5)
            while sent < total:
                try:
                    sent += sock.send(chunk)
                except TimeoutError:
                    break  # the client is blocked: the server stopped reading
                for connection in list(server.server_state.connections):
                    largest = max(largest, connection.buffered_bytes)
            for connection in list(server.server_state.connections):
                largest = max(largest, connection.buffered_bytes)
            release.set()
        assert first_read.is_set()
        assert sent < 16 * 1024 * 1024
        assert largest <= 4 * 65536


def test_response_backpressure_send_waits_for_slow_client():
    """A client that does not read: the app's send() blocks instead of the server buffering."""
    chunk = b"y" * 65536
    progress = {"sent": 0}
    stalled = threading.Event()

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200})
        for _ in range(1600):  # 100 MiB
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            progress["sent"] += len(chunk)
        await send({"type": "http.response.body"})

    with serving(app) as (server, port, _), connect(port) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        previous = -1
        for _ in range(50):  # until the app stops making progress
            time.sleep(0.1)
            if progress["sent"] == previous:
                stalled.set()
                break
            previous = progress["sent"]
        buffered = [c.transport.get_write_buffer_size() for c in list(server.server_state.connections)]
    assert stalled.is_set()
    assert progress["sent"] < 16 * 1024 * 1024
    assert max(buffered) <= 1024 * 1024
