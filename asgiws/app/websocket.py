"""The handler-style `WebSocket` object, over ASGI `receive`/`send`.

`await ws.recv()` returns `str` or `bytes`, and None once the connection is
closed; `async for message in ws` ends cleanly at close; `await ws.send()`
raises `asgiws.ConnectionClosed` on a closed connection, whichever ASGI server
runs the app (their own disconnect errors are translated).

The client's and the application's sides of the ASGI conversation are
tracked separately (as Starlette does): the client side moves CONNECTING ->
CONNECTED on ``websocket.connect`` and -> DISCONNECTED on
``websocket.disconnect``; the application side CONNECTING -> CONNECTED on
accept and -> DISCONNECTED on close. A call out of order (send before accept,
accept twice) raises RuntimeError saying so, instead of reaching the server.
"""

from __future__ import annotations

import enum
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from ..protocol.errors import ConnectionClosed, connection_closed
from ..types import ASGIApp, Message, Receive, Scope, Send
from .requests import HTTPConnection

__all__ = ["WebSocket", "WebSocketState", "run_handler", "websocket_app", "takes_path"]

logger = logging.getLogger("asgiws.app")


class WebSocketState(enum.Enum):
    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2


CONNECTING = WebSocketState.CONNECTING
CONNECTED = WebSocketState.CONNECTED
DISCONNECTED = WebSocketState.DISCONNECTED


class WebSocket(HTTPConnection):
    """One server-side WebSocket connection, as a handler sees it.

    The handshake request's properties are `HTTPConnection`'s, under the
    names of the `websockets` guide's handler style too: `request_headers` (`headers`),
    `remote_address` (`client`), and `path`, the request target as sent.
    Once it is over, `close_code` and `close_reason` say how the connection
    closed (the peer's code, or ours if we closed first; 1006 when it was
    lost without a close frame); `subprotocol` is the one accepted, or None.
    """

    __slots__ = (
        "_receive",
        "_send",
        "client_state",
        "app_state",
        "close_code",
        "close_reason",
        "subprotocol",
        "_connection",
        "__weakref__",
    )

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            raise ValueError("a WebSocket needs a 'websocket' scope")
        super().__init__(scope)
        self._receive = receive
        self._send = send
        self.client_state = CONNECTING
        self.app_state = CONNECTING
        #: Close code and reason: the peer's, or ours if we closed first
        #: (1006 when the connection was lost without a close frame).
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.subprotocol: str | None = None
        # The server's "asgiws.connection" extension, when it offers one (see `open`).
        extensions = scope.get("extensions")
        self._connection: dict[str, Any] | None = extensions.get("asgiws.connection") if extensions else None

    # -- what the handler reads about the request ---------------------------

    @property
    def path(self) -> str:
        """The request target as the client sent it: path, then ``?query`` when present.

        Not cached: a handler reads it once (the handler style passes it),
        and a slot for it would make every connection's object 16 bytes bigger.
        """
        scope = self.scope
        raw_path = scope.get("raw_path")
        path: str = raw_path.decode("latin-1") if raw_path else scope["path"]
        query = scope.get("query_string")
        return f"{path}?{query.decode('latin-1')}" if query else path

    request_headers = HTTPConnection.headers  # the handler style's name for the handshake's headers
    remote_address = HTTPConnection.client  # the handler style's name for the peer's (host, port)

    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered, in its order of preference."""
        return list(self.scope.get("subprotocols", ()))

    @property
    def open(self) -> bool:
        """Whether messages can still be sent: accepted, and closed by neither side.

        On asgiws's server this turns False as soon as the client has closed
        or the connection is lost, even if the handler never calls `recv()`
        (the server tells through the ``asgiws.connection`` scope extension);
        messages that arrived before are still returned by `recv()`, then
        None. On other ASGI servers it turns False only once `recv()` has
        returned None or `send()` has raised ConnectionClosed.
        """
        return self.app_state is CONNECTED and self.client_state is CONNECTED and not self._client_gone()

    @property
    def closed(self) -> bool:
        """Whether either side has closed the connection (or it was lost); see `open`."""
        return self.app_state is DISCONNECTED or self.client_state is DISCONNECTED or self._client_gone()

    def _client_gone(self) -> bool:
        """The server says the client has gone, though `recv()` has not seen it yet."""
        connection = self._connection
        return connection is not None and connection["disconnected"]

    # -- the conversation ----------------------------------------------------

    async def accept(self, subprotocol: str | None = None, headers: Iterable[tuple[str, str]] | None = None) -> None:
        """Complete the opening handshake, choosing `subprotocol` (one the client offered)."""
        if self.app_state is not CONNECTING:
            raise RuntimeError(f"cannot accept: the connection is already {self.app_state.name.lower()}")
        if self.client_state is CONNECTING:
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                self._on_disconnect(message)
                raise connection_closed(self.close_code or 1006, self.close_reason or "")
            if message["type"] != "websocket.connect":
                raise RuntimeError(f"expected 'websocket.connect', received {message['type']!r}")
            self.client_state = CONNECTED
        event: Message = {"type": "websocket.accept", "subprotocol": subprotocol}
        if headers:
            event["headers"] = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers]
        try:
            await self._send(event)
        except OSError as exc:
            self._lost()
            raise connection_closed(self.close_code or 1006, self.close_reason or "") from exc
        self.subprotocol = subprotocol
        self.app_state = CONNECTED

    async def recv(self) -> str | bytes | None:
        """The next message (`str` for text, `bytes` for binary), or None once closed."""
        if self.app_state is not CONNECTED or self.client_state is not CONNECTED:
            if self.app_state is CONNECTING:
                raise RuntimeError("accept() the connection before receiving")
            return None
        message = await self._receive()
        if message["type"] == "websocket.receive":
            text = message.get("text")
            return text if text is not None else message.get("bytes")
        if message["type"] == "websocket.disconnect":
            self._on_disconnect(message)
            return None
        raise RuntimeError(f"unexpected ASGI message {message['type']!r} on an open WebSocket")

    async def __aiter__(self) -> AsyncIterator[str | bytes]:
        while (message := await self.recv()) is not None:
            yield message

    async def send(self, message: str | bytes) -> None:
        """Send a text (`str`) or binary (`bytes`) message; ConnectionClosed once closed."""
        if self.app_state is not CONNECTED or self.client_state is not CONNECTED:
            if self.app_state is CONNECTING:
                raise RuntimeError("accept() the connection before sending")
            raise connection_closed(self.close_code or 1006, self.close_reason or "")
        event: Message
        if isinstance(message, str):
            event = {"type": "websocket.send", "text": message}
        elif isinstance(message, (bytes, bytearray, memoryview)):
            event = {"type": "websocket.send", "bytes": bytes(message)}
        else:
            raise TypeError(f"WebSocket messages are str or bytes, not {type(message).__name__}")
        try:
            await self._send(event)
        except OSError as exc:  # ConnectionClosed, uvicorn's ClientDisconnected, a reset...
            self._lost()
            if isinstance(exc, ConnectionClosed):
                raise
            raise connection_closed(self.close_code or 1006, self.close_reason or "") from exc

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake; before accept, this rejects the handshake (HTTP 403).

        Closing a closed connection does nothing.
        """
        if self.app_state is DISCONNECTED:
            return
        self.app_state = DISCONNECTED
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        if self.client_state is DISCONNECTED:
            return
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except OSError:
            self._lost()

    # -- bookkeeping ---------------------------------------------------------

    def _on_disconnect(self, message: Message) -> None:
        self.client_state = DISCONNECTED
        if self.close_code is None or self.app_state is not DISCONNECTED:
            self.close_code = message.get("code", 1005)
            self.close_reason = message.get("reason") or ""

    def _lost(self) -> None:
        self.client_state = DISCONNECTED
        if self.close_code is None:
            self.close_code, self.close_reason = 1006, ""

    def __repr__(self) -> str:
        return f"<WebSocket {self.scope.get('path')} app={self.app_state.name} client={self.client_state.name}>"


def takes_path(handler: Callable[..., Any]) -> bool:
    """Whether `handler` is ``handler(websocket, path)`` rather than ``handler(websocket)``."""
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):
        return False
    try:
        signature.bind(None, None)
    except TypeError:
        return False
    return True


def choose_subprotocol(offered: Iterable[str], supported: Iterable[str] | None) -> str | None:
    """The first of our `supported` subprotocols that the client offered."""
    if not supported:
        return None
    offered = set(offered)
    for candidate in supported:
        if candidate in offered:
            return candidate
    return None


async def run_handler(
    handler: Callable[..., Awaitable[Any]],
    websocket: WebSocket,
    pass_path: bool,
    accept: bool = True,
    subprotocols: Iterable[str] | None = None,
) -> None:
    """Run one handler on `websocket`: accept first (unless opted out), close after.

    The connection closes with 1000 when the handler returns and with 1011
    when it raises (traceback logged). A ConnectionClosed escaping the handler
    because this connection is closed is the peer having gone away, not a
    bug: no traceback.
    """
    try:
        if accept:
            await websocket.accept(choose_subprotocol(websocket.scope.get("subprotocols", ()), subprotocols))
        if pass_path:
            await handler(websocket, websocket.path)
        else:
            await handler(websocket)
    except ConnectionClosed:
        if not websocket.open:
            return
        # Raised by some other connection the handler used: a bug like any other.
        logger.exception("error in WebSocket handler for %s", websocket.scope.get("path"))
        await websocket.close(1011)
        return
    except Exception:
        logger.exception("error in WebSocket handler for %s", websocket.scope.get("path"))
        await websocket.close(1011)
        return
    await websocket.close(1000)


def websocket_app(
    handler: Callable[..., Awaitable[Any]], *, accept: bool = True, subprotocols: Iterable[str] | None = None
) -> ASGIApp:
    """An ASGI app running `handler` for a WebSocket on any path.

    `handler` is ``handler(websocket)`` or ``handler(websocket, path)``. Plain
    HTTP requests get 426 Upgrade Required; lifespan events are acknowledged.
    This is what ``asgiws.serve(handler, host, port)`` puts on the server.
    """
    pass_path = takes_path(handler)
    supported = list(subprotocols) if subprotocols else None

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            await run_handler(handler, WebSocket(scope, receive, send), pass_path, accept, supported)
        elif kind == "http":
            body = b"Upgrade Required: this endpoint speaks WebSocket only.\n"
            headers = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"upgrade", b"websocket"),
                (b"connection", b"Upgrade"),
            ]
            await send({"type": "http.response.start", "status": 426, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    app.handler = handler  # type: ignore[attr-defined]  # kept on the app, for introspection
    return app
