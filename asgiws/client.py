"""`connect()`: the WebSocket client, on the same protocol core and connection layer as the server.

    async with asgiws.connect("ws://localhost:8765/") as ws:
        await ws.send("Hello")
        print(await ws.recv())

`ClientConnection` is the shared asyncio `Connection` (`asgiws.connection`)
on the client's side: until the 101 its bytes feed the `ClientHandshake`,
then the client-side `WebSocketConnection` (which masks what it sends). The
receive queue, read pausing, coalesced writes and flow control, keep-alive
pings and the close deadline are the connection layer's, as on the server;
this class adds the opening handshake and the user's API, the same WebSocket
object API as the handlers of `asgiws.serve()`: `recv()` returns None once
closed (cancelling it loses no message), `async for` ends at close, `send()`
raises `ConnectionClosed` on a closed connection; plus `ping()` (a future of
the round-trip time) and `latency`.

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
paused, keep-alive waits (as on the server): a pong could not be read
behind the unread messages, and the server is not the one behind.
"""

from __future__ import annotations

import asyncio
import base64
import ssl as ssl_module
import urllib.parse
from collections.abc import AsyncIterator, Generator, Iterable, Mapping, Sequence
from typing import Any

from .connection import Connection
from .protocol import limits
from .protocol.connection import Side, State, WebSocketConnection
from .protocol.deflate import DeflateSettings
from .protocol.errors import HandshakeError
from .protocol.handshake import ClientHandshake, ClientHandshakeResult
from .protocol.headers import Headers

__all__ = ["connect", "Connect", "ClientConnection", "parse_uri"]

#: permessage-deflate as the server does it, with the window bits and memLevel of `protocol.limits`.
DEFLATE = DeflateSettings()

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


class ClientConnection(Connection[str | bytes | None]):
    """One client WebSocket connection: the asyncio protocol and the object users hold.

    `connect()` makes it. Besides its methods and properties: `subprotocol`
    (the one the server chose, or None), `path` (the resource asked for,
    path and query), `request_headers` and `response_headers` (the opening
    handshake's), and `latency` (the round-trip time of the last ping
    answered, in seconds; 0 before any).
    """

    def __init__(self, handshake: ClientHandshake, resource: str, *, max_size: int | None, **options: Any) -> None:
        """`options` are the `Connection`'s: max_queue, write_limit, ping_interval, ping_timeout, close_timeout."""
        super().__init__(**options)
        self.handshake: ClientHandshake | None = handshake
        self.path = resource
        self.max_size = max_size
        #: Negotiated at the handshake.
        self.subprotocol: str | None = None
        self.response_headers: Headers = Headers()
        self.request_headers: Headers = Headers(handshake.request_headers)
        self._opened: asyncio.Future[None] = self.loop.create_future()
        self._lost: asyncio.Future[None] = self.loop.create_future()

    # -- what the user reads -------------------------------------------------

    @property
    def open(self) -> bool:
        """True between the handshake and the first close frame (sent or received)."""
        conn = self.conn
        return conn is not None and conn.state is _OPEN

    @property
    def closed(self) -> bool:
        """True once the closing handshake is over or the connection is lost."""
        conn = self.conn
        return conn.state is _CLOSED if conn is not None else self._lost.done()

    @property
    def close_code(self) -> int | None:
        """The code the connection closed with: the server's, the one we failed it with, or 1006 (TCP lost)."""
        conn = self.conn
        return conn.close_code if conn is not None else None

    @property
    def close_reason(self) -> str | None:
        """The reason that came with `close_code`."""
        conn = self.conn
        return conn.close_reason if conn is not None and conn.close_code is not None else None

    @property
    def remote_address(self) -> Any:
        """The server's address, as the socket gives it: (host, port) for IPv4; None before connecting."""
        return self.transport.get_extra_info("peername") if self.transport is not None else None

    @property
    def local_address(self) -> Any:
        """This end's address, as the socket gives it; None before connecting."""
        return self.transport.get_extra_info("sockname") if self.transport is not None else None

    # -- asyncio.Protocol ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._attach(transport)  # type: ignore[arg-type]  # a stream protocol's is a Transport
        self.transport.set_write_buffer_limits(high=self.write_limit)
        assert self.handshake is not None
        self.transport.write(self.handshake.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._opened.done():
            self._opened.set_exception(HandshakeError("connection lost during the opening handshake", 0))
            self._opened.exception()  # marked retrieved: _wait_open() re-raises it, if still waiting
        super().connection_lost(exc)
        if not self._lost.done():
            self._lost.set_result(None)

    # -- opening handshake ----------------------------------------------------------

    def _handshake_data(self, data: bytes) -> None:
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

    def _handshake_eof(self) -> None:
        if self.handshake is not None:
            try:
                self.handshake.receive_eof()
            except HandshakeError as exc:
                self._handshake_failed(exc)

    def _handshake_done(self, result: ClientHandshakeResult) -> None:
        self.handshake = None
        self.subprotocol = result.subprotocol
        self.response_headers = Headers(result.raw_headers)
        if self._opened.done():  # connect() gave up (open_timeout) in the meantime
            self.transport.abort()
            return
        self._opened.set_result(None)
        conn = WebSocketConnection(Side.CLIENT, extensions=result.extensions, max_size=self.max_size)
        self._open(conn, result.leftover)

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

    # -- receiving ----------------------------------------------------------------------

    def _text(self, data: str | bytes) -> str | bytes | None:
        return data

    _binary = _text

    def _end_message(self) -> None:
        return None

    def _ended_before_open(self) -> bool:
        raise RuntimeError("the opening handshake is not complete")

    recv = Connection.receive
    """The next message (`str` for text, `bytes` for binary), or None once closed; cancelling it loses no message."""

    async def __aiter__(self) -> AsyncIterator[str | bytes]:
        while (message := await self.recv()) is not None:
            yield message

    # -- sending ------------------------------------------------------------------------

    async def send(self, message: str | bytes) -> None:
        """Send a text (`str`) or binary (`bytes`) message; ConnectionClosed once closed.

        Waits while the transport's write buffer is above `write_limit`.
        """
        conn = self.conn
        if conn is None:
            raise RuntimeError("the opening handshake is not complete")
        if type(message) is str:
            frame = conn.send_text(message)
        elif isinstance(message, (bytes, bytearray, memoryview)):
            frame = conn.send_binary(message)
        else:
            raise TypeError(f"WebSocket messages are str or bytes, not {type(message).__name__}")
        self._hold(frame)  # sent with the others of this loop turn
        if self._flow.write_paused:
            await self._drain()

    async def ping(self, data: str | bytes | None = None) -> asyncio.Future[float]:
        """Send a ping; the returned future resolves to the round-trip time when its pong arrives.

        `data` defaults to 4 random bytes. As RFC 6455 section 5.5.3 allows, a
        pong acknowledges every earlier ping too. Raises ConnectionClosed once closed.
        """
        if self.conn is None:
            raise RuntimeError("the opening handshake is not complete")
        payload = None if data is None else data.encode() if isinstance(data, str) else bytes(data)
        waiter: asyncio.Future[float] = self.loop.create_future()
        self._ping(payload, waiter)
        return waiter

    # -- closing ----------------------------------------------------------------------

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame, then wait (at most `close_timeout`) for the server to close TCP.

        Closing a closed connection does nothing.
        """
        conn = self.conn
        if conn is None:
            self.transport.abort()
            return
        if conn.state is _OPEN:
            self._start_close(code, reason)
        await asyncio.shield(self._lost)

    async def wait_closed(self) -> None:
        """Return once the TCP connection is closed."""
        await asyncio.shield(self._lost)

    def __repr__(self) -> str:
        conn = self.conn
        if conn is not None:
            state = conn.state.name.lower()
        else:
            state = "closed" if self._lost.done() else "connecting"
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
