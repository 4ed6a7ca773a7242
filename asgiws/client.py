"""`connect()`: the WebSocket client, on the same sans-I/O core as the server.

    async with asgiws.connect("ws://localhost:8765/") as ws:
        await ws.send("Hello")
        print(await ws.recv())

`ClientConnection` is an `asyncio.Protocol`: `data_received` feeds the
`ClientHandshake` until the 101, then the client-side `WebSocketConnection`
(which masks what it sends), and turns its events into queued messages. Its
public side is the same WebSocket object API as the handlers of
`asgiws.serve()`: `recv()` returns None once closed, `async for` ends at close,
`send()` raises `ConnectionClosed` on a closed connection.

Per connection there is no task and at most one timer at a time: the
keep-alive ping, then its pong deadline, then (once closing) the close
deadline. Nothing is allocated per message beyond the message itself and,
when `recv()` has to wait, one future. Frames sent during one turn of the
event loop leave in one write (one system call instead of one per message,
the main cost of a small message), flushed at the end of that turn or as
soon as they reach `write_limit` bytes.

Limits, with the server's defaults (both read `protocol.limits`) so that both ends agree:
`max_size` 16 MiB per received message (websockets uses 1 MiB; 16 MiB is
uvicorn's and our server's `ws_max_size`), `max_queue` 32 received messages
before reading pauses, `write_limit` 64 KiB in the transport's buffer before
`send()` waits, `open_timeout` and `close_timeout` 10 s, pings every 20 s
answered within 20 s. "No limit" is an explicit None. While reading is
paused, pongs are not read either: a client that leaves `max_queue` messages
unread for longer than `ping_timeout` is disconnected (1011), as with websockets.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl as ssl_module
import time
import urllib.parse
from collections import deque
from typing import Any, AsyncIterator, Generator, Iterable, Mapping, Sequence

from .app.datastructures import Headers
from .protocol import events, limits
from .protocol.connection import Side, State, WebSocketConnection
from .protocol.deflate import DeflateSettings
from .protocol.errors import ConnectionClosed, HandshakeError, connection_closed
from .protocol.handshake import ClientHandshake, ClientHandshakeResult
from .server.flow_control import FlowControl

__all__ = ["connect", "Connect", "ClientConnection", "parse_uri"]

#: permessage-deflate as the server does it, with the window bits and memLevel of `protocol.limits`.
DEFLATE = DeflateSettings()

_TextMessage = events.TextMessage
_BinaryMessage = events.BinaryMessage
_Pong = events.Pong
_CloseReceived = events.CloseReceived
_ConnectionFailed = events.ConnectionFailed
_CLOSED = State.CLOSED
_OPEN = State.OPEN

HeadersLike = Mapping[str, str] | Iterable[tuple[str, str]]


def parse_uri(uri: str) -> tuple[bool, str, int, str, str | None]:
    """(secure, host, port, resource, userinfo) of a ws:// or wss:// URI (RFC 6455 section 3)."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(f"{uri!r} is not a ws:// or wss:// URI")
    if parts.fragment:
        raise ValueError(f"{uri!r} has a fragment, which WebSocket URIs cannot have")
    if not parts.hostname:
        raise ValueError(f"{uri!r} has no host")
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    userinfo = None
    if parts.username is not None:
        userinfo = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
    return secure, parts.hostname, port, resource, userinfo


class ClientConnection(asyncio.Protocol):
    """One client WebSocket connection: the asyncio protocol and the object users hold."""

    def __init__(
        self,
        handshake: ClientHandshake,
        resource: str,
        *,
        max_size: int | None,
        max_queue: int | None,
        write_limit: int,
        ping_interval: float | None,
        ping_timeout: float | None,
        close_timeout: float | None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.handshake: ClientHandshake | None = handshake
        self.path = resource
        self.max_size = max_size
        self.max_queue = max_queue
        self.write_limit = write_limit
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.conn: WebSocketConnection | None = None
        #: Negotiated at the handshake.
        self.subprotocol: str | None = None
        self.response_headers: Headers = Headers()
        self.request_headers: Headers = Headers(handshake.request_headers)
        #: Close code and reason received from the server; 1006 when TCP closed without one.
        self.close_code: int | None = None
        self.close_reason: str | None = None
        #: Round-trip time of the last ping answered, in seconds (0 before any).
        self.latency = 0.0
        self._opened: asyncio.Future[None] = self.loop.create_future()
        self._lost: asyncio.Future[None] = self.loop.create_future()
        self._messages: deque[str | bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None  # recv() waiting for a message
        self._flow: FlowControl = None  # type: ignore[assignment]  # created with the transport
        self._timer: asyncio.TimerHandle | None = None
        self._pings: dict[bytes, tuple[asyncio.Future[float], float]] = {}
        self._keepalive: bytes | None = None  # payload of the keep-alive ping in flight
        self._pending: list[bytes] = []  # frames to write at the end of this loop turn
        self._pending_size = 0

    # -- what the user reads -------------------------------------------------

    @property
    def open(self) -> bool:
        """True between the handshake and the first close frame (sent or received)."""
        conn = self.conn
        return conn is not None and conn.state is _OPEN and not self._lost.done()

    @property
    def closed(self) -> bool:
        """True once the closing handshake is over or the connection is lost."""
        conn = self.conn
        return self._lost.done() or (conn is not None and conn.state is _CLOSED)

    @property
    def remote_address(self) -> Any:
        return self.transport.get_extra_info("peername") if self.transport is not None else None

    @property
    def local_address(self) -> Any:
        return self.transport.get_extra_info("sockname") if self.transport is not None else None

    # -- asyncio.Protocol ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._flow = FlowControl(transport)
        self.transport.set_write_buffer_limits(high=self.write_limit)
        assert self.handshake is not None
        self.transport.write(self.handshake.request)

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        if conn is not None:
            self._process(conn.receive_data(data))
            return
        handshake = self.handshake
        if handshake is None:
            return  # the handshake failed; the transport is closing
        try:
            result = handshake.receive_data(data)
        except HandshakeError as exc:
            self._handshake_failed(exc)
            return
        if result is not None:
            self._handshake_done(result)

    def eof_received(self) -> bool | None:
        if self.conn is not None:
            self._process(self.conn.receive_eof())
        elif self.handshake is not None:
            try:
                self.handshake.receive_eof()
            except HandshakeError as exc:
                self._handshake_failed(exc)
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        if not self._opened.done():
            self._opened.set_exception(HandshakeError("connection lost during the opening handshake", 0))
            self._opened.exception()  # marked retrieved: _wait_open() re-raises it, if still waiting
        if self.close_code is None:
            self.close_code, self.close_reason = 1006, ""
        if not self._lost.done():
            self._lost.set_result(None)
        self._wake()
        if self._flow is not None:
            self._flow.connection_lost()
        error = connection_closed(self.close_code, self.close_reason or "")
        for future, _ in self._pings.values():
            if not future.done():
                future.set_exception(error)
                future.exception()  # nobody may be awaiting this pong
        self._pings.clear()

    def pause_writing(self) -> None:
        self._flow.pause_writing()

    def resume_writing(self) -> None:
        self._flow.resume_writing()

    # -- opening handshake ----------------------------------------------------------

    def _handshake_done(self, result: ClientHandshakeResult) -> None:
        self.handshake = None
        self.subprotocol = result.subprotocol
        self.response_headers = Headers(result.raw_headers)
        self.conn = WebSocketConnection(Side.CLIENT, extensions=result.extensions, max_size=self.max_size)
        if self._opened.done():  # connect() gave up (open_timeout) in the meantime
            self.transport.abort()
            return
        self._schedule_ping()
        self._opened.set_result(None)
        if result.leftover:
            self._process(self.conn.receive_data(result.leftover))

    def _handshake_failed(self, exc: HandshakeError) -> None:
        self.handshake = None
        if not self._opened.done():
            self._opened.set_exception(exc)
        self.transport.close()

    async def _wait_open(self) -> None:
        try:
            await self._opened
        except BaseException:
            self.transport.abort()
            raise

    # -- received events ---------------------------------------------------------------

    def _process(self, received: list[Any]) -> None:
        """Queue messages, settle pings, follow the close handshake; then write the replies."""
        messages = self._messages
        before = len(messages)
        for event in received:
            kind = type(event)
            if kind is _TextMessage or kind is _BinaryMessage:
                messages.append(event.data)
            elif kind is _Pong:
                self._pong(event.payload)
            elif kind is _CloseReceived:
                self._peer_closed(event.code, event.reason)
            elif kind is _ConnectionFailed:
                # We failed the connection: report the code we closed with (1002, 1007, 1009).
                self._peer_closed(event.code, "")
        conn = self.conn
        assert conn is not None
        output = conn.data_to_send()
        if output:
            self._write(output)
        if conn.close_expected():
            self._flush()
            self.transport.close()
        if len(messages) > before:
            self._wake()
            max_queue = self.max_queue
            if max_queue is not None and len(messages) >= max_queue:
                self._flow.pause_reading()

    def _peer_closed(self, code: int, reason: str) -> None:
        """A close frame arrived, the connection failed, or EOF: record the code, await TCP's end."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        # RFC 6455 section 7.1.1: the server closes TCP first; wait for it, bounded.
        self._arm_abort()
        self._wake()
        self._flow.resume_reading()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- receiving ----------------------------------------------------------------------

    async def recv(self) -> str | bytes | None:
        """The next message (`str` for text, `bytes` for binary), or None once closed."""
        messages = self._messages
        if not messages:
            if self.conn is None:
                raise RuntimeError("the opening handshake is not complete")
            if self.closed or self.conn.close_sent is not None:
                return None  # after our close frame, data frames are dropped (RFC 6455 section 5.5.1)
            if self._waiter is not None:
                raise RuntimeError("recv() is already being awaited by another coroutine")
            waiter = self._waiter = self.loop.create_future()
            try:
                await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None
            if not messages:
                return None
        message = messages.popleft()
        if self._flow.read_paused and len(messages) <= (self.max_queue or 0) // 2:
            self._flow.resume_reading()
        return message

    async def __aiter__(self) -> AsyncIterator[str | bytes]:
        while (message := await self.recv()) is not None:
            yield message

    # -- sending ------------------------------------------------------------------------

    def _closed_error(self) -> ConnectionClosed:
        return connection_closed(self.close_code or 1006, self.close_reason or "")

    async def send(self, message: str | bytes) -> None:
        """Send a text (`str`) or binary (`bytes`) message; ConnectionClosed once closed.

        Waits while the transport's write buffer is above `write_limit`.
        """
        conn = self.conn
        if conn is None:
            raise RuntimeError("the opening handshake is not complete")
        if self._lost.done():
            raise self._closed_error()
        if type(message) is str:
            data = conn.send_text(message)
        elif isinstance(message, (bytes, bytearray, memoryview)):
            data = conn.send_binary(message)  # type: ignore[arg-type]
        else:
            raise TypeError(f"WebSocket messages are str or bytes, not {type(message).__name__}")
        self._write(data)
        if self._flow.write_paused:
            await self._drain()

    def _write(self, data: bytes) -> None:
        """Queue frame bytes for the end of this loop turn (at once past `write_limit`)."""
        pending = self._pending
        if not pending:
            self.loop.call_soon(self._flush)
        pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= self.write_limit:
            self._flush()

    def _flush(self) -> None:
        """Hand the queued frames to the transport in one write."""
        pending = self._pending
        if pending:
            self._pending = []
            self._pending_size = 0
            if not self.transport.is_closing():
                self.transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    async def _drain(self) -> None:
        await self._flow.drain()
        if self._lost.done():
            raise self._closed_error()

    async def ping(self, data: str | bytes | None = None) -> asyncio.Future[float]:
        """Send a ping; the returned future resolves to the round-trip time when its pong arrives.

        `data` defaults to 4 random bytes. As RFC 6455 section 5.5.3 allows, a
        pong acknowledges every earlier ping too. Raises ConnectionClosed once closed.
        """
        conn = self.conn
        if conn is None:
            raise RuntimeError("the opening handshake is not complete")
        if self._lost.done():
            raise self._closed_error()
        if data is None:
            payload = os.urandom(4)
            while payload in self._pings:
                payload = os.urandom(4)
        else:
            payload = data.encode() if isinstance(data, str) else bytes(data)
            if payload in self._pings:
                raise RuntimeError("a ping with the same payload is already waiting for its pong")
        self._write(conn.send_ping(payload))
        future: asyncio.Future[float] = self.loop.create_future()
        self._pings[payload] = (future, time.monotonic())
        return future

    def _pong(self, payload: bytes) -> None:
        pings = self._pings
        if payload not in pings:
            return  # unsolicited, or for a ping already acknowledged
        now = time.monotonic()
        # Dicts keep insertion order: every ping up to this one is answered.
        for key in list(pings):
            future, sent_at = pings.pop(key)
            if not future.done():
                future.set_result(now - sent_at)
            if key == payload:
                self.latency = now - sent_at
                break
        if payload == self._keepalive:
            self._keepalive = None
            if self.open:  # once closing, the timer is the close deadline: keep it
                self._schedule_ping()

    # -- keep-alive ---------------------------------------------------------------------

    def _schedule_ping(self) -> None:
        self._cancel_timer()
        if self.ping_interval is not None:
            self._timer = self.loop.call_later(self.ping_interval, self._send_keepalive)

    def _send_keepalive(self) -> None:
        self._timer = None
        if not self.open:
            return
        self._keepalive = payload = os.urandom(4)
        while payload in self._pings:
            self._keepalive = payload = os.urandom(4)
        self._write(self.conn.send_ping(payload))  # type: ignore[union-attr]
        future: asyncio.Future[float] = self.loop.create_future()
        self._pings[payload] = (future, time.monotonic())
        if self.ping_timeout is not None:
            self._timer = self.loop.call_later(self.ping_timeout, self._keepalive_timed_out)

    def _keepalive_timed_out(self) -> None:
        self._timer = None
        if self.open:
            # The server is unresponsive: fail the connection (1011, as websockets does).
            self._write(self.conn.send_close(1011, "keepalive ping timeout"))  # type: ignore[union-attr]
            self._flush()
            self.close_code, self.close_reason = 1011, "keepalive ping timeout"
        self.transport.abort()  # connection_lost wakes recv()

    # -- closing ----------------------------------------------------------------------

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame, then wait (at most `close_timeout`) for the server to close TCP.

        Closing a closed connection does nothing.
        """
        conn = self.conn
        if conn is None:
            self.transport.abort()
            return
        if not self._lost.done():
            if conn.close_sent is None and conn.state is not _CLOSED:
                self._write(conn.send_close(code, reason))
                self._flush()
                self._arm_abort()
                # The server's close may sit behind messages nobody will read.
                self._flow.resume_reading()
            await asyncio.shield(self._lost)

    async def wait_closed(self) -> None:
        """Return once the TCP connection is closed."""
        await asyncio.shield(self._lost)

    def _arm_abort(self) -> None:
        """Replace any timer with the close deadline: past it, TCP is dropped."""
        self._cancel_timer()
        if self.close_timeout is not None:
            self._timer = self.loop.call_later(self.close_timeout, self.transport.abort)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def __repr__(self) -> str:
        state = "open" if self.open else "closed" if self.closed else "connecting" if self.conn is None else "closing"
        return f"<ClientConnection {self.path} {state}>"


def _header_pairs(headers: HeadersLike | None) -> list[tuple[str, str]]:
    if headers is None:
        return []
    raw_items = getattr(headers, "raw_items", None)
    if raw_items is not None:
        return list(raw_items())
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


class Connect:
    """Open a WebSocket connection to `uri` (ws:// or wss://).

    ``ws = await connect(uri)`` or ``async with connect(uri) as ws``. Keywords:
    `subprotocols` to offer; `additional_headers` (a mapping or pairs);
    `origin`; `user_agent_header` (None: none sent); `compression`
    ("deflate", the default, or None); `max_size` (16 MiB), `max_queue` (32),
    `write_limit` (64 KiB); `open_timeout` (10 s), `ping_interval` and
    `ping_timeout` (20 s), `close_timeout` (10 s); `ssl` (an SSLContext, or
    True for the default context; implied by wss://), `server_hostname`;
    `sock` (an already connected socket). None disables a limit or timeout.

    Raises `InvalidStatus` (with `.status`) when the server refuses the
    handshake, `HandshakeError` for any other invalid handshake, OSError when
    the server cannot be reached, and TimeoutError past `open_timeout`.
    """

    def __init__(
        self,
        uri: str,
        *,
        subprotocols: Sequence[str] | None = None,
        additional_headers: HeadersLike | None = None,
        origin: str | None = None,
        user_agent_header: str | None = "asgiws",
        compression: str | None = "deflate",
        max_size: int | None = limits.MAX_MESSAGE_SIZE,
        max_queue: int | None = limits.MAX_QUEUE,
        write_limit: int = limits.WRITE_LIMIT,
        open_timeout: float | None = limits.OPEN_TIMEOUT,
        ping_interval: float | None = limits.PING_INTERVAL,
        ping_timeout: float | None = limits.PING_TIMEOUT,
        close_timeout: float | None = limits.CLOSE_TIMEOUT,
        ssl: ssl_module.SSLContext | bool | None = None,
        server_hostname: str | None = None,
        sock: Any = None,
    ) -> None:
        if compression not in ("deflate", None):
            raise ValueError(f"unsupported compression {compression!r}: 'deflate' or None")
        secure, host, port, resource, userinfo = parse_uri(uri)
        if ssl is None and secure:
            ssl = True
        if ssl and not secure:
            raise ValueError("ssl is for wss:// URIs")
        if ssl is True:
            ssl = ssl_module.create_default_context()
        headers = _header_pairs(additional_headers)
        if userinfo is not None and not any(name.lower() == "authorization" for name, _ in headers):
            headers.append(("Authorization", "Basic " + base64.b64encode(userinfo.encode()).decode("ascii")))
        self.uri = uri
        self._host = host
        self._port = port
        self._resource = resource
        self._ssl = ssl or None
        self._server_hostname = server_hostname
        self._sock = sock
        self._open_timeout = open_timeout
        self._handshake_args: dict[str, Any] = {
            "secure": secure,
            "subprotocols": list(subprotocols or ()),
            "headers": headers,
            "compression": DEFLATE if compression else None,
            "origin": origin,
            "user_agent": user_agent_header,
        }
        self._settings: dict[str, Any] = {
            "max_size": max_size,
            "max_queue": max_queue,
            "write_limit": write_limit,
            "ping_interval": ping_interval,
            "ping_timeout": ping_timeout,
            "close_timeout": close_timeout,
        }
        self.connection: ClientConnection | None = None

    async def _create(self) -> ClientConnection:
        loop = asyncio.get_running_loop()
        handshake = ClientHandshake(self._host, self._port, self._resource, **self._handshake_args)

        def factory() -> ClientConnection:
            return ClientConnection(handshake, self._resource, **self._settings)

        async with asyncio.timeout(self._open_timeout):
            if self._sock is not None:
                _, connection = await loop.create_connection(
                    factory, sock=self._sock, ssl=self._ssl, server_hostname=self._ssl_hostname()
                )
            else:
                _, connection = await loop.create_connection(
                    factory, self._host, self._port, ssl=self._ssl, server_hostname=self._ssl_hostname()
                )
            await connection._wait_open()
        self.connection = connection
        return connection

    def _ssl_hostname(self) -> str | None:
        if self._ssl is None:
            return None
        return self._server_hostname or self._host

    def __await__(self) -> Generator[Any, None, ClientConnection]:
        return self._create().__await__()

    async def __aenter__(self) -> ClientConnection:
        return await self._create()

    async def __aexit__(self, *exc_info: Any) -> None:
        if self.connection is not None:
            await self.connection.close()


#: ``connect(uri, **options)``: the name users call; see `Connect`.
connect = Connect
