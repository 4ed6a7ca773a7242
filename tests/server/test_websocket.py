"""The server's WebSocket glue, over real sockets: ASGI "WebSocket" 2.5 as uvicorn serves it.

Each behaviour runs against asgiws and uvicorn (`server_kind`). Apps run in
the server's thread and report what they saw through a thread-safe queue.
Clients are the `websockets` library, or raw sockets where a test needs
frames no real client sends (unmasked, invalid UTF-8, a silent peer).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import os
import queue
import re
import select
import socket
import struct
import threading
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed as ClientConnectionClosed
from websockets.exceptions import InvalidStatus

from tests.conftest import running_server

TIMEOUT = 10  # seconds: a bound on every wait, never an assertion


# -- Apps ------------------------------------------------------------------------


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "websocket"
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


def recording_echo_app(seen: queue.Queue[Any], receive_again: bool = False) -> Any:
    """Echo, then report the disconnect message (and, if asked, what a later receive returns)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                seen.put(message)
                if receive_again:
                    try:
                        seen.put(await asyncio.wait_for(receive(), 1))
                    except TimeoutError:
                        seen.put(None)  # a receive that hangs: reported as None
                return
            await send({"type": "websocket.send", "text": message.get("text"), "bytes": message.get("bytes")})

    return app


def uvicorn_fails(request: pytest.FixtureRequest, server_kind: str, reason: str) -> None:
    """Mark the uvicorn param as an expected failure: it runs, and must fail."""
    if server_kind == "uvicorn":
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def get(seen: queue.Queue[Any]) -> Any:
    return seen.get(timeout=TIMEOUT)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


# -- A raw client ----------------------------------------------------------------


class RawClient:
    """A WebSocket client on a plain blocking socket, to send any frame at all."""

    def __init__(self, host: str, port: int, path: str = "/", extra: bytes = b"") -> None:
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        key = base64.b64encode(os.urandom(16))
        self.sock.sendall(
            b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + f"{host}:{port}".encode() + b"\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\n"
            b"Sec-WebSocket-Version: 13\r\n" + extra + b"\r\n"
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])
        self.head = head

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed by the server")
        self.buffer += data

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def send_frame(self, opcode: int, payload: bytes, fin: bool = True, mask: bool = True) -> None:
        self.sock.sendall(frame(opcode, payload, fin=fin, mask=mask))

    def recv_frame(self) -> tuple[int, bool, bytes]:
        """(opcode, fin, payload) of the next frame from the server."""
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        assert not second & 0x80, "a server must not mask frames"
        return first & 0x0F, bool(first & 0x80), self._read(length)

    def recv_close(self) -> tuple[int, bytes]:
        """Skip to the next close frame; its (code, reason)."""
        while True:
            opcode, _, payload = self.recv_frame()
            if opcode == 0x8:
                return (struct.unpack("!H", payload[:2])[0] if payload else 1005), payload[2:]

    def at_eof(self) -> bool:
        """True once the server closed TCP (after everything it sent was read)."""
        try:
            while True:
                self._fill()
        except EOFError:
            return True
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bool = True, mask_key: bytes | None = None) -> bytes:
    head = bytes([(0x80 if fin else 0) | opcode])
    length = len(payload)
    mask_bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    if not mask:
        return head + payload
    key = os.urandom(4) if mask_key is None else mask_key
    if key == b"\x00\x00\x00\x00":
        return head + key + payload  # masking with zeros leaves the payload as it is
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes((key * (length // 4 + 1))[:length], "big")).to_bytes(
        length, "big"
    )
    return head + key + masked


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


# -- Opening handshake --------------------------------------------------------------


def test_accept_with_subprotocol_and_headers(server_kind: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["subprotocols"] == ["chat", "superchat"]
        await receive()
        await send({"type": "websocket.accept", "subprotocol": "superchat", "headers": [(b"x-custom", b"yes")]})
        await receive()

    async def client(host: str, port: int) -> None:
        async with connect(f"ws://{host}:{port}/", subprotocols=["chat", "superchat"]) as ws:
            assert ws.subprotocol == "superchat"
            assert ws.response.headers["x-custom"] == "yes"

    with running_server(app, server_kind) as (host, port):
        run(client(host, port))


def test_close_before_accept_is_403(server_kind: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.close"})

    async def client(host: str, port: int) -> None:
        with pytest.raises(InvalidStatus) as info:
            async with connect(f"ws://{host}:{port}/"):
                pass
        assert info.value.response.status_code == 403

    with running_server(app, server_kind) as (host, port):
        run(client(host, port))


def test_ws_origins_refuses_other_origins_with_403_before_the_app_runs() -> None:
    calls: list[str] = []
    records = Records()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        calls.append(dict(scope["headers"]).get(b"origin", b"").decode())
        await echo_app(scope, receive, send)

    async def status(uri: str, origin: str | None) -> int:
        try:
            async with connect(uri, origin=origin) as ws:  # type: ignore[arg-type]
                await ws.send("hi")
                assert await ws.recv() == "hi"
                return 101
        except InvalidStatus as exc:
            return exc.response.status_code

    # As the command line gives it: one comma-separated string; "null" (an opaque origin) only when listed.
    logging.getLogger("asgiws.error").addHandler(records)
    try:
        with running_server(app, ws_origins="https://a.example, null") as (host, port):
            uri = f"ws://{host}:{port}/"
            statuses = [
                run(status(uri, origin))
                for origin in ["https://a.example", "null", "https://evil.example", "https://a.example.evil", None]
            ]
        with running_server(app, ws_origins=["https://a.example"]) as (host, port):
            statuses.append(run(status(f"ws://{host}:{port}/", "null")))
    finally:
        logging.getLogger("asgiws.error").removeHandler(records)
    assert statuses == [101, 101, 403, 403, 403, 403]
    assert calls == ["https://a.example", "null"]
    refusals = [r.getMessage() for r in records.records if r.levelno == logging.WARNING and "403" in r.getMessage()]
    assert len(refusals) == 4
    assert "'https://evil.example' is not allowed" in refusals[0]
    assert "no Origin" in refusals[2]


def test_denial_response_extension(server_kind: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert "websocket.http.response" in scope["extensions"]
        await receive()
        await send(
            {"type": "websocket.http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"entry"})

    async def client(host: str, port: int) -> None:
        with pytest.raises(InvalidStatus) as info:
            async with connect(f"ws://{host}:{port}/"):
                pass
        assert info.value.response.status_code == 401
        assert info.value.response.body == b"no entry"

    with running_server(app, server_kind) as (host, port):
        run(client(host, port))


def test_app_exception_before_accept_is_500(server_kind: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        raise ValueError("boom")

    async def client(host: str, port: int) -> None:
        with pytest.raises(InvalidStatus) as info:
            async with connect(f"ws://{host}:{port}/"):
                pass
        assert info.value.response.status_code == 500

    with running_server(app, server_kind) as (host, port):
        run(client(host, port))


@pytest.mark.parametrize(
    "method, version",
    [("GET", b"8"), ("POST", b"13")],
    ids=["unsupported-version", "not-GET"],
)
def test_invalid_handshake_is_answered_with_4xx(server_kind: str, method: str, version: bytes) -> None:
    with running_server(echo_app, server_kind) as (host, port):
        sock = socket.create_connection((host, port), timeout=TIMEOUT)
        sock.sendall(
            method.encode() + b" / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: " + version + b"\r\n\r\n"
        )
        response = b""
        while b"\r\n\r\n" not in response:
            data = sock.recv(4096)
            if not data:
                break
            response += data
        sock.close()
        status = int(response.split(b" ", 2)[1])
        assert 400 <= status < 500


# -- Messages -------------------------------------------------------------------------


def test_text_and_bytes_echo(server_kind: str) -> None:
    async def client(host: str, port: int) -> None:
        async with connect(f"ws://{host}:{port}/") as ws:
            await ws.send("héllo")
            assert await ws.recv() == "héllo"
            await ws.send(b"\x00\xff")
            assert await ws.recv() == b"\x00\xff"
            await ws.send("")
            assert await ws.recv() == ""
            big = os.urandom(200_000)
            await ws.send(big)
            assert await ws.recv() == big

    with running_server(echo_app, server_kind) as (host, port):
        run(client(host, port))


def test_ping_between_fragments(server_kind: str) -> None:
    with running_server(echo_app, server_kind) as (host, port):
        client = RawClient(host, port)
        assert client.status == 101
        client.send_frame(0x1, b"hel", fin=False)
        client.send_frame(0x9, b"are you there")
        client.send_frame(0x0, b"lo", fin=True)
        assert client.recv_frame() == (0xA, True, b"are you there")
        assert client.recv_frame() == (0x1, True, b"hello")
        client.close()


def test_cancelled_receive_loses_and_reorders_nothing(server_kind: str) -> None:
    """An app that cancels each pending receive() a few loop turns after starting it gets every message, in order.

    After the cancel it either awaits the cancelled task, or calls receive()
    again at once, before the cancelled one has even run its cancellation.
    """
    seen: queue.Queue[Any] = queue.Queue()
    count = 300

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        received = []
        for attempt in itertools.count():
            task = asyncio.ensure_future(receive())
            for _ in range(attempt % 5):
                await asyncio.sleep(0)
            completed = task.done()
            task.cancel()
            if completed:
                message = task.result()
            elif attempt % 2:
                message = await receive()
            else:
                try:
                    message = await task
                except asyncio.CancelledError:
                    continue
            if message["type"] == "websocket.disconnect":
                break
            received.append(message["text"])
        seen.put(received)

    async def client(host: str, port: int) -> None:
        async with connect(f"ws://{host}:{port}/") as ws:
            for i in range(count):
                await ws.send(str(i))
                if i % 3:
                    await asyncio.sleep(0.0005 * (i % 4))

    with running_server(app, server_kind) as (host, port):
        run(client(host, port))
        assert get(seen) == [str(i) for i in range(count)]


def test_a_second_receive_while_one_waits_is_refused() -> None:
    """Instead of leaving the first one waiting forever: it still gets the message."""
    seen: queue.Queue[Any] = queue.Queue()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        first = asyncio.ensure_future(receive())
        await asyncio.sleep(0)  # the first one now waits
        try:
            await receive()
        except RuntimeError:
            seen.put("refused")
        seen.put(await first)

    async def client(host: str, port: int) -> None:
        async with connect(f"ws://{host}:{port}/") as ws:
            await ws.send("one")

    with running_server(app, "asgiws") as (host, port):
        run(client(host, port))
        assert get(seen) == "refused"
        assert get(seen) == {"type": "websocket.receive", "text": "one"}


def test_connection_extension_tells_an_app_that_does_not_read_that_the_client_left() -> None:
    seen: queue.Queue[Any] = queue.Queue()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        state = scope["extensions"]["asgiws.connection"]
        seen.put(state["disconnected"])
        for _ in range(TIMEOUT * 100):  # bounded: it turns True as soon as the close frame is read
            if state["disconnected"]:
                break
            await asyncio.sleep(0.01)
        seen.put([await receive(), await receive()])

    async def client(host: str, port: int) -> None:
        async with connect(f"ws://{host}:{port}/") as ws:
            await ws.send("unread")
            await ws.close(4001, "bye")

    with running_server(app, "asgiws") as (host, port):
        run(client(host, port))
        assert get(seen) is False
        assert get(seen) == [
            {"type": "websocket.receive", "text": "unread"},
            {"type": "websocket.disconnect", "code": 4001, "reason": "bye"},
        ]


# -- Closing ----------------------------------------------------------------------------


def test_client_close_code_and_reason_reach_the_app(server_kind: str) -> None:
    seen: queue.Queue[Any] = queue.Queue()

    async def client(host: str, port: int) -> None:
        async with connect(f"ws://{host}:{port}/") as ws:
            await ws.close(4001, "bye now")
            assert ws.close_code == 4001

    with running_server(recording_echo_app(seen), server_kind) as (host, port):
        run(client(host, port))
        disconnect = get(seen)
        assert disconnect["type"] == "websocket.disconnect"
        assert disconnect["code"] == 4001
        assert disconnect.get("reason") == "bye now"


def test_receive_after_disconnect_repeats_the_disconnect(server_kind: str, request: pytest.FixtureRequest) -> None:
    uvicorn_fails(request, server_kind, "uvicorn's second receive says 1005, not the code the peer sent")
    seen: queue.Queue[Any] = queue.Queue()

    async def client(host: str, port: int) -> None:
        async with connect(f"ws://{host}:{port}/") as ws:
            await ws.close(4001, "bye now")

    with running_server(recording_echo_app(seen, receive_again=True), server_kind) as (host, port):
        run(client(host, port))
        first = get(seen)
        again = get(seen)
        assert again == first


def test_server_close_code_and_reason_reach_the_client(server_kind: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 4002, "reason": "done here"})

    async def client(host: str, port: int) -> None:
        async with connect(f"ws://{host}:{port}/") as ws:
            with pytest.raises(ClientConnectionClosed):
                await ws.recv()
            assert ws.close_code == 4002
            assert ws.close_reason == "done here"

    with running_server(app, server_kind) as (host, port):
        run(client(host, port))


def test_app_returning_closes_with_1000(server_kind: str, request: pytest.FixtureRequest) -> None:
    uvicorn_fails(request, server_kind, "uvicorn drops TCP without a close frame (1006) when the app returns")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "bye"})

    async def client(host: str, port: int) -> None:
        async with connect(f"ws://{host}:{port}/") as ws:
            assert await ws.recv() == "bye"
            with pytest.raises(ClientConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1000

    with running_server(app, server_kind) as (host, port):
        run(client(host, port))


def test_app_exception_after_accept_closes_with_1011(server_kind: str, request: pytest.FixtureRequest) -> None:
    uvicorn_fails(request, server_kind, "uvicorn drops TCP without a close frame (1006) when the app raises")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        raise ValueError("boom")

    async def client(host: str, port: int) -> None:
        async with connect(f"ws://{host}:{port}/") as ws:
            with pytest.raises(ClientConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1011

    with running_server(app, server_kind) as (host, port):
        run(client(host, port))


def test_tcp_drop_is_disconnect_1006(server_kind: str, request: pytest.FixtureRequest) -> None:
    uvicorn_fails(
        request,
        server_kind,
        "uvicorn reports 1005 (a close frame without a code) for a TCP drop; RFC 6455 7.1.5 says 1006",
    )
    seen: queue.Queue[Any] = queue.Queue()
    with running_server(recording_echo_app(seen), server_kind) as (host, port):
        client = RawClient(host, port)
        client.send_frame(0x1, b"ping?")
        assert client.recv_frame() == (0x1, True, b"ping?")
        client.close()
        assert get(seen)["code"] == 1006


def test_send_after_close_raises_oserror(server_kind: str) -> None:
    seen: queue.Queue[Any] = queue.Queue()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        seen.put((await receive())["type"])
        for _ in range(3):  # the server may need a moment to notice the lost TCP connection
            try:
                await send({"type": "websocket.send", "text": "anyone?"})
            except BaseException as exc:
                seen.put(exc)
                return
            await asyncio.sleep(0.05)
        seen.put(None)

    async def client(host: str, port: int) -> None:
        async with connect(f"ws://{host}:{port}/") as ws:
            await ws.close()

    with running_server(app, server_kind) as (host, port):
        run(client(host, port))
        assert get(seen) == "websocket.disconnect"
        assert isinstance(get(seen), OSError)


# -- Protocol errors from the peer: a close frame with the code, then TCP closed ----------


def test_unmasked_frame_is_closed_with_1002(server_kind: str) -> None:
    with running_server(echo_app, server_kind) as (host, port):
        client = RawClient(host, port)
        client.send_frame(0x1, b"unmasked", mask=False)
        assert client.recv_close()[0] == 1002
        assert client.at_eof()
        client.close()


def test_echo_of_a_message_before_a_bad_frame_precedes_the_close() -> None:
    # Autobahn 3.2, 4.1.3, 5.15...: strict is the echo, then the close 1002. RFC 6455
    # allows dropping the echo (uvicorn does, at times), so this is asgiws' own behaviour.
    with running_server(echo_app, "asgiws") as (host, port):
        client = RawClient(host, port)
        client.sock.sendall(frame(0x1, b"valid") + frame(0x3, b""))  # then a reserved opcode
        assert client.recv_frame() == (0x1, True, b"valid")
        assert client.recv_close()[0] == 1002
        assert client.at_eof()
        client.close()


def test_invalid_utf8_is_closed_with_1007(server_kind: str) -> None:
    seen: queue.Queue[Any] = queue.Queue()
    with running_server(recording_echo_app(seen), server_kind) as (host, port):
        client = RawClient(host, port)
        client.send_frame(0x1, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80")
        assert client.recv_close()[0] == 1007
        assert client.at_eof()
        client.close()
        assert get(seen)["code"] == 1007


def test_message_over_max_size_is_closed_with_1009(server_kind: str) -> None:
    with running_server(echo_app, server_kind, ws_max_size=1000, ws_per_message_deflate=False) as (host, port):
        client = RawClient(host, port)
        client.send_frame(0x2, b"x" * 1000)  # exactly the limit passes
        assert client.recv_frame() == (0x2, True, b"x" * 1000)
        client.send_frame(0x2, b"x" * 600, fin=False)
        client.send_frame(0x0, b"x" * 401)
        assert client.recv_close()[0] == 1009
        assert client.at_eof()
        client.close()


# -- permessage-deflate -----------------------------------------------------------------


@pytest.mark.parametrize("enabled", [True, False])
def test_permessage_deflate(server_kind: str, enabled: bool) -> None:
    async def client(host: str, port: int) -> None:
        async with connect(f"ws://{host}:{port}/") as ws:
            names = [extension.name for extension in ws.protocol.extensions]
            assert names == (["permessage-deflate"] if enabled else [])
            message = "compress me " * 1000
            await ws.send(message)
            assert await ws.recv() == message
            await ws.send(message.encode())
            assert await ws.recv() == message.encode()

    with running_server(echo_app, server_kind, ws_per_message_deflate=enabled) as (host, port):
        run(client(host, port))


def test_permessage_deflate_window_bits(server_kind: str) -> None:
    if server_kind == "uvicorn":
        pytest.skip("uvicorn uses zlib's default window; the 12-bit window is asgiws' choice, for memory")
    with running_server(echo_app, server_kind) as (host, port):
        client = RawClient(
            host, port, extra=b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        )
        assert client.status == 101
        extensions = [line for line in client.head.split(b"\r\n") if line.lower().startswith(b"sec-websocket-ext")]
        assert len(extensions) == 1
        assert b"server_max_window_bits=12" in extensions[0]
        assert b"client_max_window_bits=12" in extensions[0]
        client.close()


# -- Timeouts -------------------------------------------------------------------------------


def test_keepalive_ping_timeout(server_kind: str) -> None:
    seen: queue.Queue[Any] = queue.Queue()
    settings = {"ws_ping_interval": 0.1, "ws_ping_timeout": 0.1}
    with running_server(recording_echo_app(seen), server_kind, **settings) as (host, port):
        client = RawClient(host, port)
        opcode, _, _ = client.recv_frame()
        assert opcode == 0x9  # a ping, which this client never answers
        assert client.recv_close()[0] == 1011
        assert client.at_eof()
        client.close()
        assert get(seen)["type"] == "websocket.disconnect"


def test_keepalive_pong_keeps_the_connection(server_kind: str) -> None:
    settings = {"ws_ping_interval": 0.05, "ws_ping_timeout": 5}
    with running_server(echo_app, server_kind, **settings) as (host, port):
        client = RawClient(host, port)
        for _ in range(3):
            opcode, _, payload = client.recv_frame()
            assert opcode == 0x9
            client.send_frame(0xA, payload)
        client.send_frame(0x1, b"still here")
        while True:
            opcode, _, payload = client.recv_frame()
            if opcode == 0x1:
                break
            assert opcode == 0x9
            client.send_frame(0xA, payload)
        assert payload == b"still here"
        client.close()


def test_close_timeout_drops_a_silent_peer(server_kind: str) -> None:
    if server_kind == "uvicorn":
        pytest.skip("uvicorn has no ws_close_timeout setting")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})

    with running_server(app, server_kind, ws_close_timeout=0.2) as (host, port):
        client = RawClient(host, port)
        assert client.recv_close()[0] == 1000
        # This client never answers the close: the server drops TCP after the timeout.
        assert client.at_eof()
        client.close()


def test_server_closes_tcp_after_close_handshake(server_kind: str) -> None:
    with running_server(echo_app, server_kind) as (host, port):
        client = RawClient(host, port)
        client.send_frame(0x8, close_payload(1000, b"bye"))
        assert client.recv_close()[0] == 1000
        assert client.at_eof()  # RFC 6455 7.1.1: the server closes TCP first
        client.close()


# -- Backpressure -----------------------------------------------------------------------------


def test_app_that_never_receives_stops_the_server_reading(server_kind: str) -> None:
    release = threading.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        while not release.is_set():
            await asyncio.sleep(0.05)

    chunk = frame(0x2, b"x" * 1_000_000, mask_key=b"\x00\x00\x00\x00")
    with running_server(app, server_kind, ws_max_queue=4, ws_per_message_deflate=False) as (host, port):
        client = RawClient(host, port)
        client.sock.setblocking(False)
        sent = 0
        blocked = False
        view = memoryview(chunk)
        offset = 0
        while sent < 100_000_000:
            try:
                n = client.sock.send(view[offset:])
            except BlockingIOError:
                # Not writable for a while: the server stopped reading this socket.
                _, writable, _ = select.select([], [client.sock], [], 1.0)
                if not writable:
                    blocked = True
                    break
                continue
            sent += n
            offset = (offset + n) % len(chunk)
        release.set()
        client.close()
    assert blocked
    assert sent < 100_000_000


def test_pings_from_a_peer_that_never_reads_stop_the_server_reading() -> None:
    """A ping flood with nothing read: the pongs wait in a bounded buffer, none is lost once the peer reads."""
    ping = frame(0x9, b"p" * 125, mask_key=b"\x00\x00\x00\x00")
    chunk = ping * 8192
    pong_size = 2 + 125
    limit = 64 * 2**20
    with running_server(echo_app, "asgiws") as (host, port):
        client = RawClient(host, port)
        client.sock.setblocking(False)
        sent = 0
        blocked = False
        while sent < limit:
            try:
                sent += client.sock.send(memoryview(chunk)[sent % len(chunk) :])
            except BlockingIOError:
                # Not writable for a while: the server stopped reading this socket.
                _, writable, _ = select.select([], [client.sock], [], 0.5)
                if not writable:
                    blocked = True
                    break
        assert blocked and sent < limit
        # Once the client reads, the server reads again and answers every ping it got whole.
        client.sock.settimeout(TIMEOUT)
        expected = sent // len(ping) * pong_size
        received = len(client.buffer)
        while received < expected:
            data = client.sock.recv(1 << 20)
            assert data, "the server closed the connection"
            received += len(data)
        assert received == expected
        client.close()


# -- Graceful shutdown --------------------------------------------------------------------------


def test_graceful_shutdown_closes_with_1001(server_kind: str, request: pytest.FixtureRequest) -> None:
    uvicorn_fails(request, server_kind, "uvicorn closes WebSockets with 1012 (service restart) on shutdown")
    servers = running_server(echo_app, server_kind, ws_close_timeout=5)
    host, port = servers.__enter__()
    client = RawClient(host, port)
    client.send_frame(0x1, b"hi")
    assert client.recv_frame() == (0x1, True, b"hi")
    stopper = threading.Thread(target=servers.__exit__, args=(None, None, None))
    stopper.start()
    try:
        assert client.recv_close()[0] == 1001
        client.send_frame(0x8, close_payload(1001))
        assert client.at_eof()
    finally:
        client.close()
        stopper.join(TIMEOUT)
    assert not stopper.is_alive()


def test_send_waits_while_the_peer_does_not_read(server_kind: str) -> None:
    progress: list[int] = []
    count = 64
    payload = os.urandom(1_000_000)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        for n in range(1, count + 1):
            await send({"type": "websocket.send", "bytes": payload})
            progress.append(n)

    with running_server(app, server_kind, ws_per_message_deflate=False) as (host, port):
        client = RawClient(host, port)
        # The client reads nothing: the app's sends must stall instead of buffering 64 MB.
        seen = -1
        while len(progress) != seen:
            seen = len(progress)
            select.select([], [], [], 0.5)  # a pause without a busy loop
        assert seen < count
        # Once the client reads, every message arrives, in full.
        for _ in range(count):
            assert client.recv_frame() == (0x2, True, payload)
        client.close()
    assert len(progress) == count


# -- Logs -----------------------------------------------------------------------------------------


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_access_log_and_app_traceback() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        message = await receive()
        if message.get("text") == "fail":
            raise ValueError("boom")

    access, errors = Records(), Records()
    try:
        with running_server(app, "asgiws", log_level="info") as (host, port):
            logging.getLogger("asgiws.access").addHandler(access)
            logging.getLogger("asgiws.error").addHandler(errors)
            client = RawClient(host, port, path="/room?x=1")
            client.send_frame(0x1, b"fail")
            assert client.recv_close()[0] == 1011
            client.send_frame(0x8, close_payload(1011))
            assert client.at_eof()
            client.close()
        # The server has stopped: every record is in.
    finally:
        logging.getLogger("asgiws.access").removeHandler(access)
        logging.getLogger("asgiws.error").removeHandler(errors)
    lines = [record.getMessage() for record in access.records]
    assert any(line.endswith('"WebSocket /room?x=1" [accepted]') for line in lines)
    closed = re.compile(r'"WebSocket /room\?x=1" \[closed 1011\] [0-9.]+s, messages in 1, out 0$')
    assert any(closed.search(line) for line in lines)
    failures = [record for record in errors.records if record.exc_info]
    assert failures and failures[0].exc_info[0] is ValueError


def test_frames_sent_with_the_handshake_are_not_lost(server_kind: str, request: pytest.FixtureRequest) -> None:
    uvicorn_fails(request, server_kind, "uvicorn never processes a frame that came in the same read as the request")
    with running_server(echo_app, server_kind) as (host, port):
        # The expected failure is a hang: do not wait long for it.
        sock = socket.create_connection((host, port), timeout=2 if server_kind == "uvicorn" else TIMEOUT)
        # The request and a first frame in one write: the server must keep the frame for after the accept.
        sock.sendall(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            + frame(0x1, b"early bird")
        )
        data = b""
        while not data.endswith(b"early bird"):
            chunk = sock.recv(4096)
            assert chunk, f"closed after {data!r}"
            data += chunk
        assert data.startswith(b"HTTP/1.1 101 ")
        assert b"\r\n\r\n\x81\x0aearly bird" in data
        sock.close()


def test_accepting_a_subprotocol_not_offered_is_500(server_kind: str, request: pytest.FixtureRequest) -> None:
    uvicorn_fails(request, server_kind, "uvicorn sends a 101 with a subprotocol the client never offered")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept", "subprotocol": "unoffered"})

    with running_server(app, server_kind) as (host, port):
        client = RawClient(host, port)
        client.close()
        assert client.status == 500


def test_denial_response_with_invalid_header_is_500(server_kind: str, request: pytest.FixtureRequest) -> None:
    uvicorn_fails(
        request, server_kind, "uvicorn drops TCP without any response when the app's denial response is invalid"
    )
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.http.response.start", "status": 404, "headers": [(b"x-bad", b"a\r\nb")]})
        await send({"type": "websocket.http.response.body", "body": b"gone"})

    with running_server(app, server_kind) as (host, port):
        client = RawClient(host, port)
        client.close()
        assert client.status == 500


def refused_handshake(host: str, port: int) -> bytes:
    """All the server sends back to a valid handshake request, up to its closing the connection."""
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sock.sendall(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        response = b""
        while chunk := sock.recv(4096):
            response += chunk
    return response


@pytest.mark.parametrize(
    "start",
    [
        {"type": "websocket.accept", "headers": [(b"x-a", b"1\r\nset-cookie: stolen=1")]},
        {"type": "websocket.accept", "headers": [(b"x stolen", b"1")]},
        {"type": "websocket.http.response.start", "status": 403, "headers": [(b"x-a", b"stolen\x00")]},
        {"type": "websocket.http.response.start", "status": 403, "headers": [(b"set-cookie: stolen\n", b"1")]},
        {"type": "websocket.http.response.start", "status": 600, "headers": [(b"x-a", b"stolen")]},
    ],
    ids=["accept-crlf", "accept-name", "denial-nul", "denial-name", "denial-status"],
)
def test_a_handshake_answer_that_cannot_be_sent_raises_to_the_app_and_is_a_500(start: dict[str, Any]) -> None:
    errors: queue.Queue[Any] = queue.Queue()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        try:
            await send(start)  # raises here, before a denial's body: nothing was built to be sent
        except ValueError as exc:
            errors.put(exc)
            raise
        errors.put(None)
        await send({"type": "websocket.http.response.body", "body": b"stolen"})

    with running_server(app, "asgiws", log_level="critical") as (host, port):
        response = refused_handshake(host, port)
    assert isinstance(get(errors), ValueError)
    assert response.startswith(b"HTTP/1.1 500 ")
    assert b"stolen" not in response


def test_invalid_denial_status_is_answered_with_the_servers_own_500(server_kind: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            raise ValueError("the server answers its own HTTP 500")
        await receive()
        await send({"type": "websocket.http.response.start", "status": 700, "headers": []})

    with running_server(app, server_kind) as (host, port):
        http = httpx.get(f"http://{host}:{port}/", timeout=TIMEOUT)
        response = refused_handshake(host, port)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500 ")
    assert http.status_code == 500
    assert body == http.content == b"Internal Server Error"


# -- TLS ----------------------------------------------------------------------------------------------


def test_echo_over_tls(server_kind: str, tmp_path: Any) -> None:
    import ssl

    import trustme

    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certificate.cert_chain_pems[0].write_to_path(certfile)
    certificate.private_key_pem.write_to_path(keyfile)
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    authority.configure_trust(context)

    async def client(host: str, port: int) -> None:
        async with connect(f"wss://{host}:{port}/", ssl=context) as ws:
            await ws.send("secret")
            assert await ws.recv() == "secret"
            await ws.send(b"\x00" * 100_000)
            assert await ws.recv() == b"\x00" * 100_000

    settings = {"ssl_certfile": str(certfile), "ssl_keyfile": str(keyfile)}
    with running_server(echo_app, server_kind, **settings) as (host, port):
        run(client(host, port))


def test_root_path_is_in_the_scope_path(server_kind: str) -> None:
    seen: queue.Queue[Any] = queue.Queue()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.put((scope["root_path"], scope["path"], scope["query_string"]))
        await receive()
        await send({"type": "websocket.accept"})
        await receive()

    async def client(host: str, port: int) -> None:
        async with connect(f"ws://{host}:{port}/room?x=1"):
            pass

    with running_server(app, server_kind, root_path="/api") as (host, port):
        run(client(host, port))
    assert get(seen) == ("/api", "/api/room", b"x=1")


def test_small_sends_in_a_tight_loop_still_wait_for_a_slow_peer(server_kind: str) -> None:
    progress: list[int] = []
    count = 50_000  # 50 MB of 1 KB messages, sent without the app ever yielding on its own

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        for n in range(count):
            await send({"type": "websocket.send", "bytes": n.to_bytes(4, "big") * 256})
            progress.append(n)

    with running_server(app, server_kind, ws_per_message_deflate=False) as (host, port):
        client = RawClient(host, port)
        seen = -1
        while len(progress) != seen:
            seen = len(progress)
            select.select([], [], [], 0.5)  # a pause without a busy loop
        assert seen < count
        for n in range(1000):  # in order, none lost
            assert client.recv_frame() == (0x2, True, n.to_bytes(4, "big") * 256)
        client.close()


def test_burst_answers_keep_their_order(server_kind: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        while (message := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "bytes": message["text"].encode()})
            if message["text"] == "last":
                await send({"type": "websocket.close", "code": 4000})

    with running_server(app, server_kind) as (host, port):
        client = RawClient(host, port)
        messages = [f"message {n}".encode() for n in range(200)] + [b"last"]
        # One write: the server reads many messages at once and answers them as a burst.
        client.sock.sendall(b"".join(frame(0x1, message) for message in messages))
        for message in messages:
            assert client.recv_frame() == (0x2, True, message)
        assert client.recv_close()[0] == 4000  # after the burst it closed
        client.send_frame(0x8, close_payload(4000))
        assert client.at_eof()
        client.close()


def test_graceful_shutdown_does_not_wait_for_a_silent_peer() -> None:
    servers = running_server(echo_app, "asgiws", ws_close_timeout=0.2, timeout_graceful_shutdown=None)
    host, port = servers.__enter__()
    client = RawClient(host, port)
    stopper = threading.Thread(target=servers.__exit__, args=(None, None, None))
    stopper.start()
    try:
        assert client.recv_close()[0] == 1001
        # No answer from this client: the close timeout drops it and the server finishes stopping.
        assert client.at_eof()
        stopper.join(TIMEOUT)
        assert not stopper.is_alive()
    finally:
        client.close()
        stopper.join(TIMEOUT)


# -- A real framework on top ----------------------------------------------------------------------------


def test_starlette_websocket_endpoint(server_kind: str) -> None:
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    seen: queue.Queue[Any] = queue.Queue()

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol="v1")
        try:
            while True:
                data = await websocket.receive_json()
                await websocket.send_json({"echo": data, "path": websocket.url.path})
        except WebSocketDisconnect as exc:
            seen.put(exc.code)

    app = Starlette(routes=[WebSocketRoute("/json", endpoint)])

    async def client(host: str, port: int) -> None:
        async with connect(f"ws://{host}:{port}/json", subprotocols=["v1"]) as ws:
            await ws.send('{"n": 1}')
            assert await ws.recv() == '{"echo":{"n":1},"path":"/json"}'
            await ws.close(4100)
        with pytest.raises(InvalidStatus) as info:  # no such route: Starlette closes before accept
            async with connect(f"ws://{host}:{port}/nowhere"):
                pass
        assert info.value.response.status_code == 403

    with running_server(app, server_kind) as (host, port):
        run(client(host, port))
        assert get(seen) == 4100
