"""`asgiws.connect` against two real servers: asgiws's own and the `websockets` library's.

Every behaviour that both servers can show runs against both (`server`
parametrized). The asgiws server runs in a thread (tests.conftest); the
websockets server runs in the test's event loop. Both run the same small set
of behaviours, chosen by the request path, and report what they saw through
a thread-safe queue. Raw sockets stand in for servers that misbehave.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import importlib.util
import json
import os
import queue
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import trustme
from websockets.asyncio.server import serve as websockets_serve

import asgiws
from asgiws import ConnectionClosed, HandshakeError, InvalidStatus
from tests.conftest import running_server

TIMEOUT = 10  # seconds: a bound on every wait, never an assertion
SERVERS = ["asgiws", "websockets"]


# -- The behaviours, once per server ----------------------------------------------


def _query(target: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}


class Reports(queue.Queue):  # type: ignore[type-arg]
    """What a server saw, and an event that releases its `/sink` behaviour."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()


async def sink(seen: Reports) -> None:
    """Read nothing until the test is done."""
    for _ in range(TIMEOUT * 100):
        if seen.release.is_set():
            return
        await asyncio.sleep(0.01)


def asgiws_app(seen: queue.Queue[Any]) -> Any:
    """A raw ASGI app: the path picks what it does (see `websockets_handler` for the same)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        await receive()  # websocket.connect
        path = scope["path"]
        params = _query("?" + scope["query_string"].decode())
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        if path == "/forbidden":
            await send({"type": "websocket.close"})
            return
        if path == "/notfound":
            await send({"type": "websocket.http.response.start", "status": 404, "headers": []})
            await send({"type": "websocket.http.response.body", "body": b"nope"})
            return
        offered = scope.get("subprotocols", [])
        await send({"type": "websocket.accept", "subprotocol": "superchat" if "superchat" in offered else None})
        if path == "/info":
            info = {"token": headers.get("x-token"), "offer": headers.get("sec-websocket-extensions")}
            await send({"type": "websocket.send", "text": json.dumps(info)})
        elif path == "/close":
            await send({"type": "websocket.close", "code": 4000, "reason": "bye"})
        elif path == "/send":
            await send({"type": "websocket.send", "bytes": b"x" * int(params["n"])})
        elif path == "/flood":
            for i in range(int(params["n"])):
                await send({"type": "websocket.send", "text": str(i)})
        elif path == "/sink":
            seen.put("sinking")
            await sink(seen)
            return
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                seen.put(("closed", message["code"]))
                return
            with contextlib.suppress(OSError):  # the client closed: read on, to its disconnect
                await send({"type": "websocket.send", "text": message.get("text"), "bytes": message.get("bytes")})

    return app


def websockets_handler(seen: queue.Queue[Any]) -> Any:
    async def handler(ws: Any) -> None:
        target = ws.request.path
        path = urlsplit(target).path
        params = _query(target)
        seen.put(("extensions", [ext.name for ext in ws.protocol.extensions]))
        if path == "/info":
            info = {
                "token": ws.request.headers.get("x-token"),
                "offer": ws.request.headers.get("sec-websocket-extensions"),
            }
            await ws.send(json.dumps(info))
        elif path == "/close":
            await ws.close(4000, "bye")
            return
        elif path == "/send":
            await ws.send(b"x" * int(params["n"]))
        elif path == "/flood":
            for i in range(int(params["n"])):
                await ws.send(str(i))
        elif path == "/sink":
            seen.put("sinking")
            await sink(seen)
            return
        elif path == "/abort":
            ws.transport.abort()
            return
        try:
            async for message in ws:
                await ws.send(message)
        finally:
            seen.put(("closed", ws.close_code))

    return handler


def websockets_process_request(connection: Any, request: Any) -> Any:
    if request.path == "/forbidden":
        return connection.respond(http.HTTPStatus.FORBIDDEN, "no\n")
    if request.path == "/notfound":
        return connection.respond(http.HTTPStatus.NOT_FOUND, "nope")
    return None


class Server:
    """Where a test's server listens and what it saw."""

    def __init__(self, uri: str, seen: queue.Queue[Any]) -> None:
        self.uri = uri
        self.seen = seen

    async def get(self) -> Any:
        """The next report; polls, since the websockets server runs in this very loop."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                try:
                    return self.seen.get_nowait()
                except queue.Empty:
                    await asyncio.sleep(0.01)

    async def closed_code(self) -> int:
        """The close code the server's side reported (skipping other reports)."""
        while True:
            item = await self.get()
            if isinstance(item, tuple) and item[0] == "closed":
                return item[1]


@contextlib.asynccontextmanager
async def serving(
    kind: str,
    *,
    max_size: int | None = 2**24,
    max_queue: int = 32,
    compression: bool = True,
    tls: tuple[str, str] | None = None,
) -> AsyncIterator[Server]:
    """Run server `kind` with the behaviours above."""
    seen = Reports()
    scheme = "wss" if tls else "ws"
    if kind == "asgiws":
        settings: dict[str, Any] = {}
        if tls:
            settings = {"ssl_certfile": tls[0], "ssl_keyfile": tls[1]}
        with running_server(
            asgiws_app(seen),
            "asgiws",
            ws_max_size=max_size,
            ws_max_queue=max_queue,
            ws_per_message_deflate=compression,
            **settings,
        ) as (host, port):
            yield Server(f"{scheme}://{host}:{port}", seen)
    else:
        context = None
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
        async with websockets_serve(
            websockets_handler(seen),
            "127.0.0.1",
            0,
            select_subprotocol=lambda _, offered: "superchat" if "superchat" in offered else None,
            process_request=websockets_process_request,
            max_size=max_size,
            max_queue=max_queue,
            compression="deflate" if compression else None,
            ssl=context,
            close_timeout=1,  # /sink leaves megabytes unread before the client's close
        ) as server:
            port = server.sockets[0].getsockname()[1]
            yield Server(f"{scheme}://127.0.0.1:{port}", seen)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT * 2))


@pytest.fixture(params=SERVERS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


# -- Messages ---------------------------------------------------------------------


@pytest.mark.parametrize("message", ["hello", "ünïcödé ✓", "", b"\x00\xff bytes", b""])
def test_round_trip_keeps_type(kind: str, message: str | bytes) -> None:
    async def main() -> Any:
        async with serving(kind) as server:
            async with asgiws.connect(server.uri + "/echo") as ws:
                await ws.send(message)
                return await ws.recv()

    received = run(main())
    assert received == message
    assert type(received) is type(message)


def test_one_mebibyte_round_trip(kind: str) -> None:
    big = bytes(range(256)) * 4096

    async def main() -> tuple[Any, Any]:
        async with serving(kind) as server:
            async with asgiws.connect(server.uri + "/echo") as ws:
                await ws.send(big)
                await ws.send(big.decode("latin-1"))
                return await ws.recv(), await ws.recv()

    binary, text = run(main())
    assert binary == big
    assert text == big.decode("latin-1")


def test_burst_of_sends_arrives_in_order_before_the_close(kind: str) -> None:
    """Frames sent in one loop turn leave together: order kept, the close frame last."""

    async def main() -> tuple[list[Any], Any]:
        async with serving(kind) as server:
            async with asgiws.connect(server.uri + "/echo") as ws:
                for i in range(1000):  # 1000 sends without giving the loop a turn
                    await ws.send(str(i) if i % 2 else str(i).encode())
                echoed = [await ws.recv() for _ in range(1000)]
                for i in range(10):
                    await ws.send(f"last {i}")
                await ws.close()
            return echoed, await server.closed_code()

    echoed, code = run(main())
    assert echoed == [str(i) if i % 2 else str(i).encode() for i in range(1000)]
    assert code == 1000


def test_await_form_and_attributes(kind: str) -> None:
    async def main() -> tuple[Any, ...]:
        async with serving(kind) as server:
            ws = await asgiws.connect(server.uri + "/echo?a=1&b=2")
            try:
                before = (ws.open, ws.closed, ws.close_code)
                address = ws.remote_address
                await ws.send("x")
                await ws.recv()
            finally:
                await ws.close()
            return before, (ws.open, ws.closed), ws.path, address, ws.request_headers, await server.closed_code()

    before, after, path, address, request_headers, server_code = run(main())
    assert before == (True, False, None)
    assert after == (False, True)
    assert path == "/echo?a=1&b=2"
    assert address[0] == "127.0.0.1"
    assert request_headers["upgrade"] == "websocket"
    assert server_code == 1000


def test_async_for_ends_cleanly_at_close(kind: str) -> None:
    async def main() -> tuple[list[Any], Any, Any, Any]:
        async with serving(kind) as server:
            async with asgiws.connect(server.uri + "/flood?n=5") as ws:
                received = []
                async for message in ws:
                    received.append(message)
                    if len(received) == 5:
                        await ws.close()
                return received, await ws.recv(), ws.close_code, ws.closed

    received, after, code, closed = run(main())
    assert received == ["0", "1", "2", "3", "4"]
    assert after is None
    assert code == 1000
    assert closed


def test_cancelled_recv_loses_nothing(kind: str) -> None:
    async def main() -> Any:
        async with serving(kind) as server:
            async with asgiws.connect(server.uri + "/echo") as ws:
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(ws.recv(), 0.05)  # nothing sent yet
                await ws.send("after")
                return await ws.recv()

    assert run(main()) == "after"


# -- Handshake options ------------------------------------------------------------


def test_subprotocol_chosen_by_server(kind: str) -> None:
    async def main() -> tuple[Any, Any]:
        async with serving(kind) as server:
            async with asgiws.connect(server.uri + "/echo", subprotocols=["chat", "superchat"]) as ws:
                offered = ws.request_headers["sec-websocket-protocol"]
                return ws.subprotocol, offered

    assert run(main()) == ("superchat", "chat, superchat")


def test_no_subprotocol_when_none_offered(kind: str) -> None:
    async def main() -> Any:
        async with serving(kind) as server:
            async with asgiws.connect(server.uri + "/echo") as ws:
                return ws.subprotocol

    assert run(main()) is None


@pytest.mark.parametrize("headers", [{"X-Token": "abc"}, [("X-Token", "abc")]])
def test_additional_headers_reach_the_server(kind: str, headers: Any) -> None:
    async def main() -> Any:
        async with serving(kind) as server:
            async with asgiws.connect(server.uri + "/info", additional_headers=headers) as ws:
                return json.loads(await ws.recv())

    assert run(main())["token"] == "abc"


def test_compression_negotiated_on_both_sides(kind: str) -> None:
    text = "compress me " * 10000

    async def main() -> tuple[Any, ...]:
        async with serving(kind) as server:
            async with asgiws.connect(server.uri + "/info") as ws:
                info = json.loads(await ws.recv())
                await ws.send(text)
                echoed = await ws.recv()
                extensions = [ext.name for ext in ws.conn.extensions]
                answer = ws.response_headers.get("sec-websocket-extensions", "")
            server_side = await server.get() if kind == "websockets" else None
            return info, echoed, extensions, answer, server_side

    info, echoed, extensions, answer, server_side = run(main())
    assert "permessage-deflate" in info["offer"]  # what the server received
    assert answer.startswith("permessage-deflate")  # what the server answered
    assert extensions == ["permessage-deflate"]  # what the client uses
    if kind == "websockets":
        assert server_side == ("extensions", ["permessage-deflate"])  # what the server uses
    assert echoed == text


@pytest.mark.parametrize("side", ["client", "server"])
def test_compression_disabled(kind: str, side: str) -> None:
    async def main() -> tuple[Any, ...]:
        async with serving(kind, compression=side != "server") as server:
            options = {"compression": None} if side == "client" else {}
            async with asgiws.connect(server.uri + "/info", **options) as ws:
                info = json.loads(await ws.recv())
                await ws.send("plain")
                echoed = await ws.recv()
                extensions = list(ws.conn.extensions)
                answer = ws.response_headers.get("sec-websocket-extensions")
            return info, echoed, extensions, answer

    info, echoed, extensions, answer = run(main())
    if side == "client":
        assert info["offer"] is None
    else:
        assert "permessage-deflate" in info["offer"]
    assert answer is None
    assert extensions == []
    assert echoed == "plain"


# -- Closing ---------------------------------------------------------------------


def test_server_close_code_and_reason(kind: str) -> None:
    async def main() -> tuple[Any, ...]:
        async with serving(kind) as server:
            async with asgiws.connect(server.uri + "/close") as ws:
                first = await ws.recv()
                second = await ws.recv()
                with pytest.raises(ConnectionClosed) as raised:
                    await ws.send("too late")
                return first, second, ws.close_code, ws.close_reason, ws.open, raised.value

    first, second, code, reason, is_open, error = run(main())
    assert first is None and second is None
    assert (code, reason) == (4000, "bye")
    assert not is_open
    assert isinstance(error, asgiws.ConnectionClosedError)
    assert (error.code, error.reason) == (4000, "bye")


def test_send_after_client_close_raises(kind: str) -> None:
    async def main() -> tuple[Any, ...]:
        async with serving(kind) as server:
            ws = await asgiws.connect(server.uri + "/echo")
            await ws.close(1000, "done")
            await ws.close()  # closing again does nothing
            with pytest.raises(ConnectionClosed) as raised:
                await ws.send("x")
            with pytest.raises(ConnectionClosed):
                await ws.ping()
            return raised.value, await ws.recv(), await server.closed_code()

    error, received, server_code = run(main())
    assert isinstance(error, asgiws.ConnectionClosedOK)
    assert error.code == 1000
    assert received is None
    assert server_code == 1000


def test_connection_dropped_without_close_frame() -> None:
    async def main() -> tuple[Any, ...]:
        async with serving("websockets") as server:
            async with asgiws.connect(server.uri + "/abort") as ws:
                return await ws.recv(), ws.close_code, ws.closed

    assert run(main()) == (None, 1006, True)


# -- Ping / pong ------------------------------------------------------------------


def test_ping_pong(kind: str) -> None:
    async def main() -> tuple[Any, ...]:
        async with serving(kind) as server:
            async with asgiws.connect(server.uri + "/echo") as ws:
                first = await ws.ping()
                second = await ws.ping(b"custom")
                latency = await second
                attribute = ws.latency
                pending = await ws.ping(b"again")
                with pytest.raises(RuntimeError):  # same payload as a ping still unanswered
                    await ws.ping(b"again")
                await pending
                return first.done(), first.result(), latency, attribute

    first_done, first_latency, latency, attribute = run(main())
    assert first_done  # a pong acknowledges every earlier ping
    assert first_latency >= 0 and latency >= 0  # round-trip times; their sizes are bench/'s business
    assert attribute == latency


def test_keepalive_pings_keep_a_quiet_connection_open(kind: str) -> None:
    async def main() -> tuple[Any, ...]:
        async with serving(kind) as server:
            async with asgiws.connect(server.uri + "/echo", ping_interval=0.01, ping_timeout=TIMEOUT) as ws:
                while ws.latency == 0:  # set by the first keep-alive pong
                    await asyncio.sleep(0.01)
                await ws.send("still here")
                return await ws.recv(), ws.open

    assert run(main()) == ("still here", True)


def test_keepalive_timeout_closes_with_1011() -> None:
    async def main() -> tuple[Any, ...]:
        async with silent_websocket_server() as port:
            ws = await asgiws.connect(f"ws://127.0.0.1:{port}/", ping_interval=0.01, ping_timeout=0.01)
            return await ws.recv(), ws.close_code, ws.closed

    assert run(main()) == (None, 1011, True)


def test_close_deadline_survives_a_late_keepalive_pong() -> None:
    """A pong arriving after close() must not replace the close deadline with a new ping timer."""

    async def main() -> tuple[Any, ...]:
        async with pong_only_websocket_server() as port:
            ws = await asgiws.connect(f"ws://127.0.0.1:{port}/", ping_interval=0.001, close_timeout=0.2)
            while ws.latency == 0 or ws._keepalive is None:  # pings flow, and one is in flight now
                await asyncio.sleep(0)
            await ws.close()  # the server never answers: the deadline drops TCP
            return ws.closed, ws.close_code

    assert run(main()) == (True, 1006)


def test_keepalive_waits_while_reading_is_paused(kind: str) -> None:
    """A user behind on its messages is not the server being gone: no 1011, nothing lost."""

    async def main() -> tuple[Any, ...]:
        async with serving(kind) as server:
            options = {"max_queue": 4, "ping_interval": 0.01, "ping_timeout": 0.01}
            async with asgiws.connect(server.uri + "/flood?n=200", **options) as ws:
                while ws.transport.is_reading():  # the queue fills up and reading pauses
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.3)  # many ping intervals and timeouts with reading paused
                received = [await ws.recv() for _ in range(200)]
                return received, ws.close_code

    assert run(main()) == ([str(i) for i in range(200)], None)


# -- Limits -----------------------------------------------------------------------


def test_max_size_exceeded_fails_with_1009(kind: str) -> None:
    async def main() -> tuple[Any, ...]:
        async with serving(kind) as server:
            async with asgiws.connect(server.uri + "/send?n=1001", max_size=1000) as ws:
                return await ws.recv(), ws.close_code, await server.closed_code()

    assert run(main()) == (None, 1009, 1009)


def test_exactly_max_size_passes(kind: str) -> None:
    async def main() -> Any:
        async with serving(kind) as server:
            async with asgiws.connect(server.uri + "/send?n=1000", max_size=1000) as ws:
                return await ws.recv()

    assert run(main()) == b"x" * 1000


def test_server_max_size_closes_client_with_1009(kind: str) -> None:
    async def main() -> tuple[Any, ...]:
        async with serving(kind, max_size=1000) as server:
            async with asgiws.connect(server.uri + "/echo") as ws:
                await ws.send(b"y" * 1001)
                return await ws.recv(), ws.close_code

    assert run(main()) == (None, 1009)


def test_reading_pauses_beyond_max_queue(kind: str) -> None:
    async def main() -> tuple[Any, ...]:
        async with serving(kind) as server:
            async with asgiws.connect(server.uri + "/flood?n=200", max_queue=4) as ws:
                while ws.transport.is_reading():  # the queue fills up
                    await asyncio.sleep(0.01)
                received = [await ws.recv() for _ in range(200)]
                return received, ws.transport.is_reading()

    received, reading = run(main())
    assert received == [str(i) for i in range(200)]
    assert reading


def test_send_waits_for_a_slow_server(kind: str) -> None:
    chunk = bytes(range(256)) * 1024  # 256 KiB, incompressible enough with compression off

    async def main() -> tuple[bool, int]:
        async with serving(kind, max_queue=1) as server:
            async with asgiws.connect(server.uri + "/sink", compression=None, write_limit=2**16) as ws:
                while await server.get() != "sinking":
                    pass
                blocked = False
                biggest = 0
                for _ in range(64):  # 16 MiB: more than the socket buffers hold
                    try:
                        await asyncio.wait_for(ws.send(chunk), 0.5)
                    except TimeoutError:
                        blocked = True
                    biggest = max(biggest, ws.transport.get_write_buffer_size())
                    if blocked:
                        break
                server.seen.release.set()
                ws.transport.abort()
                return blocked, biggest

    blocked, biggest = run(main())
    assert blocked, "send() never waited although the server reads nothing"
    assert biggest <= 2**16 + len(chunk) + 16


# -- Refusals and failures ----------------------------------------------------------


@pytest.mark.parametrize(("path", "status"), [("/forbidden", 403), ("/notfound", 404)])
def test_refused_handshake_raises_invalid_status(kind: str, path: str, status: int) -> None:
    async def main() -> InvalidStatus:
        async with serving(kind) as server:
            with pytest.raises(InvalidStatus) as raised:
                await asgiws.connect(server.uri + path)
            return raised.value

    error = run(main())
    assert error.status == status
    assert isinstance(error, HandshakeError)
    if path == "/notfound":
        assert error.body == b"nope"


def test_echo_of_a_message_before_a_bad_frame_precedes_the_failing_close() -> None:
    """As on the server: the user answers the messages that came before the bad frame, then 1002 goes."""

    async def main() -> tuple[Any, ...]:
        async with misbehaving_websocket_server(b"\x81\x05valid" + b"\x83\x00") as (port, frames):
            async with asgiws.connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
                async for message in ws:
                    await ws.send(message)
                code = ws.close_code
            return await frames, code

    frames, code = run(main())
    assert frames == [(0x1, b"valid"), (0x8, b"\x03\xea")]
    assert code == 1002


def test_invalid_accept_raises_handshake_error() -> None:
    async def main() -> HandshakeError:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: d3Jvbmc=\r\n\r\n"
            )
            await writer.drain()
            await reader.read()
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            with pytest.raises(HandshakeError) as raised:
                await asgiws.connect(f"ws://127.0.0.1:{port}/")
            return raised.value

    error = run(main())
    assert not isinstance(error, InvalidStatus)
    assert error.status == 0


def test_open_timeout_against_a_silent_server() -> None:
    async def main() -> None:
        with socket.socket() as listener:  # accepts (in the kernel) and never answers
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]
            with pytest.raises(TimeoutError):
                await asgiws.connect(f"ws://127.0.0.1:{port}/", open_timeout=0.2)

    run(main())


def test_unreachable_server_raises_oserror() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connection refused

        async def main() -> None:
            with pytest.raises(OSError):
                await asgiws.connect(f"ws://127.0.0.1:{port}/")

        run(main())


@pytest.mark.parametrize("uri", ["http://localhost/", "ws://", "ws://host/#fragment", "localhost:8765"])
def test_invalid_uri(uri: str) -> None:
    with pytest.raises(ValueError):
        asgiws.connect(uri)


# -- TLS ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


def test_wss_with_a_trusted_certificate(kind: str, certificate_authority: trustme.CA, tmp_path: Any) -> None:
    cert = certificate_authority.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(certfile)
    cert.private_key_pem.write_to_path(keyfile)
    context = ssl.create_default_context()
    certificate_authority.configure_trust(context)

    async def main() -> tuple[Any, Any]:
        async with serving(kind, tls=(str(certfile), str(keyfile))) as server:
            assert server.uri.startswith("wss://")
            async with asgiws.connect(server.uri + "/echo", ssl=context) as ws:
                await ws.send("secret")
                echoed = await ws.recv()
            with pytest.raises(ssl.SSLCertVerificationError):
                await asgiws.connect(server.uri + "/echo")  # the system CAs do not know ours
            return echoed, await server.closed_code()

    assert run(main()) == ("secret", 1000)


# -- Autobahn|Testsuite's fuzzing server ------------------------------------------------


def load_harness() -> Any:
    """compliance/run.py as a module (compliance/ is a directory of tools, not a package)."""
    spec = importlib.util.spec_from_file_location("compliance_run", REPO / "compliance" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


REPO = Path(__file__).resolve().parents[1]
harness = load_harness()
wstest = harness.find_wstest()


async def autobahn_echo_agent(url: str, agent: str) -> None:
    """Echo every message of every case, as Autobahn asks of a client under test."""
    for _ in range(300):  # wstest listens within a few seconds of starting
        try:
            ws = await asgiws.connect(f"{url}/getCaseCount")
            break
        except (OSError, HandshakeError):
            # A WebSocket handshake, not a bare TCP connect, tells it is up: a
            # TCP connect to a free local port can connect the socket to itself.
            await asyncio.sleep(0.05)
    count = int(await ws.recv())  # type: ignore[arg-type]
    await ws.close()
    for case in range(1, count + 1):
        with contextlib.suppress(ConnectionClosed):  # the fuzzer drops some connections on purpose
            async with asgiws.connect(f"{url}/runCase?case={case}&agent={agent}") as ws:
                async for message in ws:
                    await ws.send(message)
    async with asgiws.connect(f"{url}/updateReports?agent={agent}") as ws:
        await ws.recv()


@pytest.mark.skipif(wstest is None, reason="Autobahn|Testsuite's wstest is not installed (compliance/install.sh)")
def test_autobahn_fuzzing_server_quick_subset(tmp_path: Path) -> None:
    """The client side of RFC 6455 / 7692: framing, fragments, UTF-8, close, deflate (~20 s).

    ``AUTOBAHN_CLIENT_CASES='*'`` runs every case instead (about 10 minutes).
    """
    cases = os.environ.get("AUTOBAHN_CLIENT_CASES")
    port = harness.free_port()
    spec = {
        "url": f"ws://127.0.0.1:{port}",
        "outdir": str(tmp_path),
        "cases": cases.split(",") if cases else list(harness.QUICK_CASES),
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    with open(tmp_path / "wstest.log", "wb") as log:
        fuzzer = subprocess.Popen(
            [wstest, "-m", "fuzzingserver", "-s", str(tmp_path / "spec.json")], cwd=tmp_path, stdout=log, stderr=log
        )
        try:
            asyncio.run(asyncio.wait_for(autobahn_echo_agent(f"ws://127.0.0.1:{port}", "asgiws"), 1800))
        finally:
            fuzzer.terminate()
            try:
                fuzzer.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                fuzzer.kill()
                fuzzer.wait()
    results = json.loads((tmp_path / "index.json").read_text())["asgiws"]
    failing = {
        case: (result["behavior"], result["behaviorClose"])
        for case, result in results.items()
        if result["behavior"] in harness.FAILING_BEHAVIORS or result["behaviorClose"] in harness.FAILING_CLOSE_BEHAVIORS
    }
    assert len(results) > (0 if cases else 100)
    assert not failing


# -- A server that completes the handshake and then says nothing ---------------------


@contextlib.asynccontextmanager
async def silent_websocket_server() -> AsyncIterator[int]:
    """Accepts the handshake, then never answers a frame (not even a ping)."""
    from asgiws.protocol.handshake import accept_response, parse_upgrade_request
    from asgiws.protocol.http11 import RequestParser

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = RequestParser()
        parser.feed(await reader.readuntil(b"\r\n\r\n"))
        response, _ = accept_response(parse_upgrade_request(parser.next_event()), compression=None)
        writer.write(response)
        await reader.read()  # until the client gives up
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


@contextlib.asynccontextmanager
async def misbehaving_websocket_server(data: bytes) -> AsyncIterator[tuple[int, asyncio.Future[list[Any]]]]:
    """Accepts the handshake, writes `data` in one go, then reads; yields the port and the frames it read."""
    from asgiws.protocol.frames import FrameParser
    from asgiws.protocol.handshake import accept_response, parse_upgrade_request
    from asgiws.protocol.http11 import RequestParser

    frames: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = RequestParser()
        parser.feed(await reader.readuntil(b"\r\n\r\n"))
        response, _ = accept_response(parse_upgrade_request(parser.next_event()), compression=None)
        writer.write(response + data)
        received = FrameParser(require_mask=True)
        received.feed(await reader.read())  # until the client closes TCP
        seen = []
        while (frame := received.next_frame()) is not None:
            seen.append((frame.opcode, frame.payload))
        frames.set_result(seen)
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], frames


@contextlib.asynccontextmanager
async def pong_only_websocket_server() -> AsyncIterator[int]:
    """Accepts the handshake and answers pings, but never the client's close frame."""
    from asgiws.protocol.connection import Side, WebSocketConnection
    from asgiws.protocol.events import Ping
    from asgiws.protocol.frames import Frame, Opcode, serialize_frame
    from asgiws.protocol.handshake import accept_response, parse_upgrade_request
    from asgiws.protocol.http11 import RequestParser

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = RequestParser()
        parser.feed(await reader.readuntil(b"\r\n\r\n"))
        response, _ = accept_response(parse_upgrade_request(parser.next_event()), compression=None)
        writer.write(response)
        conn = WebSocketConnection(Side.SERVER)
        while data := await reader.read(65536):
            for event in conn.receive_data(data):  # a ping may come in one read with the close
                if isinstance(event, Ping):
                    writer.write(serialize_frame(Frame(Opcode.PONG, event.payload), mask=False))
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]
