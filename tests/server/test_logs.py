"""What the server logs: colours on a terminal only, the WebSocket access line, DEBUG per connection, TRACE per message.

Colours need a terminal: the server runs as `python -m asgiws` with its
stdout and stderr on a pseudo-terminal (`pty.openpty()`), or on pipes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from asgiws.server.logs import HTTP_ACCESS, AccessFormatter
from asgiws.testing import LiveServer

ANSI = re.compile(r"\x1b\[[0-9;]*m")

#: This module, as the command line names the app below.
APP = f"{__name__}:app"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """HTTP: 404 for /missing, else 200; WebSocket: echoes text."""
    if scope["type"] == "http":
        await receive()
        status = 404 if scope["path"] == "/missing" else 200
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body"})
    elif scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while (message := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message.get("text") or ""})


class Output:
    """Reads a file descriptor in a thread, keeping everything as text."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.text = ""
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self.fd], [], [], 30)
            if not ready:
                return
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # the pty's other end is closed
                return
            if not chunk:
                return
            self.text += chunk.decode(errors="replace")

    def wait_for(self, pattern: str) -> re.Match[str]:
        deadline = time.monotonic() + 20
        while (match := re.search(pattern, ANSI.sub("", self.text))) is None:
            assert time.monotonic() < deadline, f"no {pattern!r} in {self.text!r}"
            time.sleep(0.02)
        return match


def serve_and_request(*options: str, terminal: bool) -> str:
    """Run `python -m asgiws` (stdout and stderr on a terminal, or on pipes), GET / and /missing; all it wrote."""
    command = [sys.executable, "-m", "asgiws", APP, "--port", "0", "--lifespan", "off", *options]
    if terminal:
        controller, terminal_fd = pty.openpty()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=terminal_fd, stderr=terminal_fd)
        os.close(terminal_fd)
        output = Output(controller)
    else:
        read_end, write_end = os.pipe()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=write_end, stderr=write_end)
        os.close(write_end)
        output = Output(read_end)
    try:
        port = output.wait_for(r"running on http://127\.0\.0\.1:(\d+)").group(1)
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/missing").status_code == 404
        output.wait_for(r'"GET /missing HTTP/1\.1" 404')
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        output.thread.join(timeout=5)
        os.close(output.fd)
    return output.text


# -- Colours -----------------------------------------------------------------------------------


def test_colours_on_a_terminal() -> None:
    text = serve_and_request(terminal=True)
    green, red = "\x1b[32m", "\x1b[31m"
    assert f"{green}INFO\x1b[0m:" in text
    assert f'"GET / HTTP/1.1" {green}200\x1b[0m' in text
    assert f'"GET /missing HTTP/1.1" {red}404\x1b[0m' in text


def test_no_colours_when_piped() -> None:
    text = serve_and_request(terminal=False)
    assert '"GET /missing HTTP/1.1" 404' in text
    assert "\x1b[" not in text


def test_no_use_colors_on_a_terminal() -> None:
    text = serve_and_request("--no-use-colors", terminal=True)
    assert '"GET /missing HTTP/1.1" 404' in text
    assert "\x1b[" not in text


def test_use_colors_when_piped() -> None:
    text = serve_and_request("--use-colors", terminal=False)
    assert '"GET /missing HTTP/1.1" \x1b[31m404\x1b[0m' in text


def test_access_formatter_colours_only_its_copy_of_the_record() -> None:
    record = logging.LogRecord(
        "asgiws.access", logging.INFO, __file__, 1, HTTP_ACCESS, ("c", "GET", "/", "1.1", 503), None
    )
    formatted = AccessFormatter("%(levelprefix)s%(message)s", use_colors=True).format(record)
    assert formatted == '\x1b[32mINFO\x1b[0m:     c - "GET / HTTP/1.1" \x1b[91m503\x1b[0m'
    assert record.getMessage() == 'c - "GET / HTTP/1.1" 503'  # another handler sees it plain
    assert AccessFormatter("%(levelprefix)s%(message)s", use_colors=False).format(record) == (
        'INFO:     c - "GET / HTTP/1.1" 503'
    )


# -- Records -------------------------------------------------------------------------------------


class Records(logging.Handler):
    """Every record of the server's loggers."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, logger: str | None = None) -> list[str]:
        return [record.getMessage() for record in self.records if logger is None or record.name == logger]


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    loggers = [logging.getLogger(name) for name in ("asgiws.error", "asgiws.access", "asgiws.asgi")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


def websocket_session(url: str, count: int) -> None:
    async def session() -> None:
        async with websockets.connect(url) as ws:
            for index in range(count):
                await ws.send(f"message {index}")
                await ws.recv()

    asyncio.run(session())


def test_websocket_access_line_has_path_duration_messages_and_close_code(records: Records) -> None:
    with LiveServer(app, log_level="info", lifespan="off") as server:
        websocket_session(server.ws_url + "/chat?room=1", 3)
    lines = records.messages("asgiws.access")
    assert any(line.endswith('"WebSocket /chat?room=1" [accepted]') for line in lines), lines
    (closed,) = [line for line in lines if "[closed" in line]
    match = re.fullmatch(
        r'127\.0\.0\.1:\d+ - "WebSocket /chat\?room=1" \[closed 1000\] (\d+\.\d{3})s, messages in 3, out 3', closed
    )
    assert match is not None, closed
    assert float(match.group(1)) >= 0


def test_debug_says_what_happens_to_each_connection(records: Records) -> None:
    with LiveServer(app, log_level="debug", lifespan="off", timeout_keep_alive=0.2) as server:
        with httpx.Client() as client:
            assert client.get(server.url + "/").status_code == 200
            deadline = time.monotonic() + 10
            while not any("closed: keep-alive timeout" in line for line in records.messages()):
                assert time.monotonic() < deadline, records.messages()
                time.sleep(0.05)
        assert httpx.get(server.url + "/", headers={"Connection": "close"}).status_code == 200
        websocket_session(server.ws_url + "/chat", 1)
    debug = [record.getMessage() for record in records.records if record.levelno == logging.DEBUG]
    assert sum(line.endswith(" - HTTP connection opened") for line in debug) == 3
    assert any(line.endswith(" - HTTP connection closed: keep-alive timeout") for line in debug), debug
    assert any(line.endswith(" - HTTP connection closed: no keep-alive") for line in debug), debug
    assert any(line.endswith(" - HTTP connection upgraded to WebSocket /chat") for line in debug), debug
    assert any(line.endswith(" - WebSocket /chat accepted") for line in debug), debug
    assert any(line.endswith(" - WebSocket /chat closed: 1000 from the client") for line in debug), debug
    assert not records.messages("asgiws.asgi")  # ASGI messages only at TRACE


def test_info_says_nothing_per_connection(records: Records) -> None:
    with LiveServer(app, log_level="info", lifespan="off") as server:
        assert httpx.get(server.url + "/").status_code == 200
        websocket_session(server.ws_url + "/chat", 1)
    assert [record for record in records.records if record.levelno < logging.INFO] == []


def test_trace_logs_the_asgi_messages(records: Records) -> None:
    with LiveServer(app, log_level="trace", lifespan="off") as server:
        assert httpx.post(server.url + "/", content=b"secret body").status_code == 200
        websocket_session(server.ws_url + "/chat", 2)
    trace = records.messages("asgiws.asgi")
    assert any(" - ASGI [" in line and "started {'type': 'http'" in line for line in trace), trace
    assert any("received {'type': 'http.request', 'body': '<11 bytes>'" in line for line in trace), trace
    assert any("sent {'type': 'http.response.start', 'status': 200" in line for line in trace), trace
    assert sum("received {'type': 'websocket.receive', 'text': '<9 chars>'}" in line for line in trace) == 2, trace
    assert sum("sent {'type': 'websocket.send', 'text': '<9 chars>'}" in line for line in trace) == 2, trace
    assert any("received {'type': 'websocket.disconnect', 'code': 1000" in line for line in trace), trace
    assert not any("secret body" in line or "message 0" in line for line in trace)  # payloads are sizes only
    assert all(record.levelname == "TRACE" for record in records.records if record.name == "asgiws.asgi")


async def failing_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """/fail raises before responding; /body waits for a body that never comes."""
    if scope["type"] == "http" and scope["path"] == "/fail":
        raise RuntimeError("the app failed")
    if scope["type"] == "http" and scope["path"] == "/body":
        while (await receive())["more_body"]:
            pass
    await app(scope, receive, send)


def test_the_servers_own_answers_in_place_of_the_app_have_access_lines(records: Records) -> None:
    """A 500 for a failed app and a 408 for a body that stopped coming are logged as the app's responses are."""
    with LiveServer(failing_app, log_level="info", lifespan="off", timeout_request_body=0.3) as server:
        assert httpx.get(server.url + "/fail?x=1").status_code == 500
        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            sock.sendall(b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            assert sock.makefile("rb").readline().startswith(b"HTTP/1.1 408 ")
    lines = records.messages("asgiws.access")
    assert any(re.fullmatch(r'127\.0\.0\.1:\d+ - "GET /fail\?x=1 HTTP/1\.1" 500', line) for line in lines), lines
    assert any(re.fullmatch(r'127\.0\.0\.1:\d+ - "POST /body HTTP/1\.1" 408', line) for line in lines), lines


def test_a_websocket_upgrade_over_the_concurrency_limit_has_an_access_line(records: Records) -> None:
    with LiveServer(app, log_level="info", lifespan="off", limit_concurrency=1) as server:
        with pytest.raises(websockets.InvalidStatus) as refused:
            websocket_session(server.ws_url + "/chat", 1)
    assert refused.value.response.status_code == 503
    lines = records.messages("asgiws.access")
    assert any(re.fullmatch(r'127\.0\.0\.1:\d+ - "WebSocket /chat" 503', line) for line in lines), lines
    assert "Exceeded concurrency limit." in records.messages("asgiws.error")
