"""Hardening (issue 10, items 2 to 5) against a real server process, `python -m asgiws`, over real sockets.

The same behaviours are tested against a server in a thread of the test
process (test_http.py, test_websocket.py, test_limits.py); here the server
runs as it is deployed, and what it does is seen from outside only: the
bytes on the wire, its log, and /proc (its memory and CPU time).

- Response splitting (item 2): a head the app asks for with CR, LF or NUL
  in a header, a name that is no token or a status outside 100-599 (HTTP,
  `websocket.accept`, the denial response) is never written: the client
  gets the server's own 500, and the log has the app's exception with why.
- Request body timeout (item 4): a body that stops coming gets 408 and a
  closed connection; the app's receive() gets `http.disconnect`; a body
  that trickles in steadily is not cut off.
- Ping flood (item 5): a client that sends pings and never reads makes the
  server stop reading it, so the server's memory stays bounded, while it
  serves others; once the client reads, it gets every pong.
- Descriptor exhaustion (item 3): out of descriptors, the server logs one
  warning per shortage, serves what it has, burns no CPU while it waits,
  and accepts again once descriptors are free.
"""

from __future__ import annotations

import os
import resource
import select
import socket
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from .processes import ServerProcess, need_descriptors
from .raw_client import answered
from .test_websocket import RawClient, frame

#: Seconds a client waits for an answer the server owes it (generous: the machine may be busy).
TIMEOUT = 20

HANDSHAKE = (
    b"GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends on `sock` until it closes the connection (TimeoutError if it does not)."""
    sock.settimeout(TIMEOUT)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def answer_to(port: int, request: bytes) -> bytes:
    """All the server sends back to `request` on a new connection, up to its closing it."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        return read_until_closed(sock)


# -- Item 2: response splitting ------------------------------------------------------------------

#: HTTP response heads that must never reach the wire, by path: (status, headers, why, as logged).
HTTP_HEADS: dict[str, tuple[Any, list[tuple[bytes, bytes]], str]] = {
    "/crlf-in-value": (200, [(b"x-a", b"1\r\nset-cookie: stolen=1")], "invalid value for header b'x-a'"),
    "/lf-in-value": (200, [(b"x-a", b"1\nset-cookie: stolen=1")], "invalid value for header b'x-a'"),
    "/cr-in-value": (200, [(b"x-a", b"1\rset-cookie: stolen=1")], "invalid value for header b'x-a'"),
    "/nul-in-value": (200, [(b"x-a", b"stolen\x00")], "invalid value for header b'x-a'"),
    "/crlf-in-name": (200, [(b"set-cookie: stolen=1\r\nx-a", b"1")], "invalid header name b'set-cookie: stolen"),
    "/name-not-a-token": (200, [(b"x stolen", b"1")], "invalid header name b'x stolen'"),
    "/empty-name": (200, [(b"", b"stolen")], "invalid header name b''"),
    "/status-600": (600, [(b"x-a", b"stolen")], "invalid status code 600"),
    "/status-99": (99, [(b"x-a", b"stolen")], "invalid status code 99"),
    "/status-text": ("200", [(b"x-a", b"stolen")], "invalid status code '200'"),
}

#: WebSocket answers that must never reach the wire, by path: (the app's message, why, as logged).
WS_ANSWERS: dict[str, tuple[dict[str, Any], str]] = {
    "/accept-crlf-in-value": (
        {"type": "websocket.accept", "headers": [(b"x-a", b"1\r\nset-cookie: stolen=1")]},
        "invalid value for header b'x-a'",
    ),
    "/accept-nul-in-value": (
        {"type": "websocket.accept", "headers": [(b"x-a", b"stolen\x00")]},
        "invalid value for header b'x-a'",
    ),
    "/accept-name-not-a-token": (
        {"type": "websocket.accept", "headers": [(b"x stolen", b"1")]},
        "invalid header name b'x stolen'",
    ),
    "/denial-lf-in-value": (
        {"type": "websocket.http.response.start", "status": 403, "headers": [(b"x-a", b"1\nset-cookie: stolen=1")]},
        "invalid value for header b'x-a'",
    ),
    "/denial-lf-in-name": (
        {"type": "websocket.http.response.start", "status": 403, "headers": [(b"set-cookie: stolen\n", b"1")]},
        "invalid header name b'set-cookie: stolen",
    ),
    "/denial-status-600": (
        {"type": "websocket.http.response.start", "status": 600, "headers": [(b"x-a", b"stolen")]},
        "invalid status code 600",
    ),
    "/denial-status-99": (
        {"type": "websocket.http.response.start", "status": 99, "headers": [(b"x-a", b"stolen")]},
        "invalid status code 99",
    ),
}

#: Sends what HTTP_HEADS or WS_ANSWERS give for the path, then a body; lets send()'s exception propagate.
_APP_HEADS = {path: (status, headers) for path, (status, headers, _) in HTTP_HEADS.items()}
_APP_ANSWERS = {path: message for path, (message, _) in WS_ANSWERS.items()}
SPLITTING_APP = f"HTTP_HEADS = {_APP_HEADS!r}\nWS_ANSWERS = {_APP_ANSWERS!r}\n" + textwrap.dedent(
    """
    async def app(scope, receive, send):
        if scope["type"] == "http":
            status, headers = HTTP_HEADS[scope["path"]]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": b"stolen"})
        elif scope["type"] == "websocket":
            await receive()
            await send(WS_ANSWERS[scope["path"]])
            await send({"type": "websocket.http.response.body", "body": b"stolen"})
    """
)


def assert_logged_error(server: ServerProcess, why: str) -> None:
    """The log's next error is the app's exception, its traceback ending with `why`."""
    server.wait_for("ERROR:    Exception in ASGI application")
    line = server.wait_for(why)
    # The traceback's last line, "ExceptionClass: why...", not some other line that quotes it.
    exception, _, reason = line.partition(": ")
    assert exception.rsplit(".", 1)[-1] in ("RuntimeError", "InvalidAccept", "InvalidResponse"), line
    assert reason.startswith(why), line


def test_response_heads_that_cannot_be_sent_are_never_written_and_are_logged(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, "--port", "0", "--lifespan", "off", app=SPLITTING_APP) as server:
        port = server.wait_for_port()
        for path, (_, _, why) in HTTP_HEADS.items():
            response = answer_to(port, b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
            head, _, body = response.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 500 "), (path, response)
            assert body == b"Internal Server Error", (path, response)
            assert b"stolen" not in response, (path, response)
            assert_logged_error(server, why)
        for path, (_, why) in WS_ANSWERS.items():
            response = answer_to(port, HANDSHAKE % path.encode())
            head, _, body = response.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 500 "), (path, response)
            assert body == b"Internal Server Error", (path, response)
            assert b"stolen" not in response, (path, response)
            assert_logged_error(server, why)
    assert server.exit_status == 0
    errors = [line for line in server.log if "Exception in ASGI application" in line]
    assert len(errors) == len(HTTP_HEADS) + len(WS_ANSWERS)


# -- Item 4: a request body that stops coming ----------------------------------------------------

#: Seconds without a byte of the body before the server gives up (--timeout-request-body).
BODY_TIMEOUT = 1.0

#: Records each request's received message types in MESSAGES, served as JSON at /messages.
#: /started begins its response before it reads the body.
BODY_APP = textwrap.dedent(
    """
    import json

    MESSAGES = {}

    async def respond(send, body):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    async def app(scope, receive, send):
        path = scope["path"]
        if path == "/messages":
            await respond(send, json.dumps(MESSAGES).encode())
            return
        seen = MESSAGES[path] = []
        if path == "/started":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
            await send({"type": "http.response.body", "body": b"started", "more_body": True})
        size = 0
        while True:
            message = await receive()
            seen.append(message["type"])
            if message["type"] == "http.disconnect":
                return
            size += len(message["body"])
            if not message["more_body"]:
                break
        await respond(send, b"%d" % size)
    """
)


def messages_seen(port: int, path: str, until: str) -> list[str]:
    """The message types the app's receive() returned for `path`, once the last is `until` (polled)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        seen = httpx.get(f"http://127.0.0.1:{port}/messages", timeout=TIMEOUT).json().get(path, [])
        if seen and seen[-1] == until:
            return seen
        if time.monotonic() >= deadline:  # a give-up bound for the poll, not a measurement
            pytest.fail(f"the app's receive() for {path} returned {seen}")
        time.sleep(0.05)


def test_a_request_body_that_stops_coming_is_answered_408_and_the_app_told(tmp_path: Path) -> None:
    # The other deadlines are far: each connection here ends by the request body's.
    timeouts = ["--timeout-request-body", str(BODY_TIMEOUT), "--timeout-request-head", "60"]
    timeouts += ["--timeout-keep-alive", "60"]
    with ServerProcess(tmp_path, "--port", "0", "--lifespan", "off", *timeouts, app=BODY_APP) as server:
        port = server.wait_for_port()

        # Three bytes of ten, then nothing: 408, and the connection closes.
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(b"POST /stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            response = read_until_closed(sock)
        head, _, body = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), response
        assert b"\r\nconnection: close" in head.lower(), response
        assert body == b"Request Timeout", response
        assert messages_seen(port, "/stalled", until="http.disconnect") == ["http.request", "http.disconnect"]
        server.wait_for(f"Request body timed out: no byte for {BODY_TIMEOUT:g} s.")

        # A body that trickles in a byte at a time, each well within the timeout of the last, for twice the
        # timeout in all: the bytes of a chunk-size line (with an extension) are no body for the app to
        # receive, so only their coming keeps the deadline away.
        trickle = b"5;ext=" + b"x" * 14 + b"\r\n"
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(b"POST /steady HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            assert len(trickle) * BODY_TIMEOUT / 10 > BODY_TIMEOUT  # it outlasts the timeout, or proves nothing
            for byte in trickle:
                time.sleep(BODY_TIMEOUT / 10)
                sock.sendall(bytes([byte]))
            sock.sendall(b"hello\r\n0\r\n\r\n")
            response = read_until_closed(sock)
        assert response.startswith(b"HTTP/1.1 200 "), response
        assert response.endswith(b"\r\n\r\n5"), response
        assert "http.disconnect" not in messages_seen(port, "/steady", until="http.request")

        # The app began its response before the body stopped: no 408, the response is cut.
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(b"POST /started HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            response = read_until_closed(sock)
        assert response.startswith(b"HTTP/1.1 200 "), response
        assert response.endswith(b"\r\n\r\nstarted"), response
        assert messages_seen(port, "/started", until="http.disconnect") == ["http.request", "http.disconnect"]
    assert server.exit_status == 0
    assert sum("Request body timed out" in line for line in server.log) == 2


# -- Item 5: a client that floods pings and never reads ------------------------------------------

#: Echoes WebSocket messages; answers HTTP requests with "hello".
ECHO_APP = textwrap.dedent(
    """
    async def app(scope, receive, send):
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            while (message := await receive())["type"] == "websocket.receive":
                await send({**message, "type": "websocket.send"})
        elif scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
            await send({"type": "http.response.body", "body": b"hello"})
    """
)

#: Bytes of pings the flooding client tries to send: far more than kernel buffers hold.
FLOOD = 128 * 2**20
#: The server's RSS may grow by this much during the flood (its pongs, were they queued, would be ~120 MiB).
RSS_GROWTH_LIMIT = 16 * 2**20
#: Seconds the client's socket stays unwritable before it counts the server as no longer reading it.
BLOCKED_FOR = 3.0


def rss(pid: int) -> int:
    """The resident set size of process `pid`, in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def serves_others(port: int) -> None:
    """Another WebSocket gets its echo, and an HTTP request its answer."""
    with ws_connect(f"ws://127.0.0.1:{port}/", open_timeout=TIMEOUT) as websocket:
        websocket.send("still there?")
        assert websocket.recv(timeout=TIMEOUT) == "still there?"
    assert httpx.get(f"http://127.0.0.1:{port}/", timeout=TIMEOUT).text == "hello"


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_ping_flood_that_never_reads_stops_the_server_reading_it(tmp_path: Path, loop: str) -> None:
    pytest.importorskip(loop)
    # No keep-alive pings: on a slow machine their timeout would close the flooding connection midway.
    args = ["--port", "0", "--lifespan", "off", "--loop", loop, "--ws-ping-interval", "none"]
    with ServerProcess(tmp_path, *args, app=ECHO_APP) as server:
        port = server.wait_for_port()
        pid = server.process.pid
        serves_others(port)  # warmed up: what a connection costs is in the baseline
        baseline = peak = rss(pid)

        ping = frame(0x9, b"p" * 125, mask_key=b"\x00\x00\x00\x00")
        chunk = ping * 8192
        client = RawClient("127.0.0.1", port)
        assert client.status == 101
        client.sock.setblocking(False)
        sent = 0
        blocked = False
        while sent < FLOOD:
            try:
                sent += client.sock.send(memoryview(chunk)[sent % len(chunk) :])
            except BlockingIOError:
                peak = max(peak, rss(pid))
                _, writable, _ = select.select([], [client.sock], [], BLOCKED_FOR)
                if not writable:
                    blocked = True  # the server stopped reading this socket
                    break
        peak = max(peak, rss(pid))
        assert peak - baseline < RSS_GROWTH_LIMIT, f"RSS {baseline} -> {peak} bytes after {sent} bytes of pings"
        assert blocked, f"the server read all {sent} bytes of pings that were never read"

        # Meanwhile it serves everyone else, and its memory stays where it was.
        serves_others(port)
        assert rss(pid) - baseline < RSS_GROWTH_LIMIT

        # Once the client reads, the server reads again, and answers every whole ping it got.
        client.sock.settimeout(TIMEOUT)
        expected = sent // len(ping) * (2 + 125)
        received = len(client.buffer)
        while received < expected:
            data = client.sock.recv(1 << 20)
            assert data, f"the server closed the connection after {received} of {expected} bytes of pongs"
            received += len(data)
        assert received == expected
        client.close()
    assert server.exit_status == 0


# -- Item 3: out of descriptors ------------------------------------------------------------------

#: The server's RLIMIT_NOFILE, soft and hard alike (it raises its soft limit to the hard one at start).
DESCRIPTORS = 32
#: Clients per burst: more than the server has descriptors.
BURST = 2 * DESCRIPTORS
REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
#: Seconds during which the server, out of descriptors with clients waiting, must burn (almost) no CPU.
IDLE_WINDOW = 3.0
CPU_LIMIT = 0.3


def low_limit() -> None:
    """In the server process, before exec: a descriptor limit it cannot raise."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTORS, DESCRIPTORS))


def cpu_seconds(pid: int) -> float:
    """The user and system CPU time process `pid` has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14, 15


def answered_until_quiet(socks: list[socket.socket]) -> list[socket.socket]:
    """The sockets among `socks` answered before a second passes with no answer at all (read and dropped)."""
    done: list[socket.socket] = []
    while more := answered([sock for sock in socks if sock not in done], within=1.0):
        done += more
    return done


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_out_of_descriptors_the_server_waits_without_spinning_and_logs_once_per_shortage(
    tmp_path: Path, loop: str
) -> None:
    pytest.importorskip(loop)
    need_descriptors(4 * BURST)
    # Idle connections are never dropped by the server here: only the test frees its descriptors.
    args = ["--port", "0", "--lifespan", "off", "--loop", loop, "--timeout-keep-alive", "300"]
    server = ServerProcess(tmp_path, *args, "--timeout-request-head", "300", preexec_fn=low_limit)
    socks: list[socket.socket] = []
    try:
        port = server.wait_for_port()
        pid = server.process.pid
        for _ in range(2):
            burst = [socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) for _ in range(BURST)]
            socks += burst
            for sock in burst:
                sock.sendall(REQUEST)
            warning = server.wait_for("Cannot accept connections")
            assert "Too many open files" in warning
            # Every connection it accepted is answered; the others wait in the backlog.
            served = answered_until_quiet(burst)
            waiting = [sock for sock in burst if sock not in served]
            assert served and waiting, (len(served), len(waiting))
            # The warning counts the connections that hold its descriptors (and, in the second burst, some of
            # the first's that it has not seen close yet).
            assert int(warning.split("(")[1].split()[0]) >= len(served), (warning, len(served))

            # While they wait, the server does not spin (its CPU time barely moves) and serves what it has.
            before = cpu_seconds(pid)
            late = answered(waiting, within=IDLE_WINDOW)  # none, unless the machine is very slow
            used = cpu_seconds(pid) - before
            assert used < CPU_LIMIT, f"{used:.2f} s of CPU in {IDLE_WINDOW} s while out of descriptors"
            waiting = [sock for sock in waiting if sock not in late]
            kept = served[0]
            kept.sendall(REQUEST)
            assert answered([kept], within=TIMEOUT) == [kept]

            # Descriptors free up: every waiting client is accepted and answered, each closed once answered.
            for sock in served[1:] + late:
                sock.close()
            while waiting:
                readable, _, _ = select.select(waiting, [], [], TIMEOUT)
                assert readable, f"{len(waiting)} clients still wait with descriptors free"
                for sock in readable:
                    assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
                    sock.close()
                    waiting.remove(sock)
            server.wait_for("Accepting connections again")
            kept.close()
    finally:
        for sock in socks:
            sock.close()
        status = server.stop()
    log = "".join(server.log)
    assert log.count("Cannot accept connections") == 2, log  # one warning per shortage
    assert log.count("Accepting connections again") == 2, log
    assert "Traceback" not in log
    assert status == 0
