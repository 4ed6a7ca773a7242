"""`InProcessWebSocket`: a WebSocket client talking to an ASGI app in process, no socket.

Its API is asgiws's WebSocket object API (`asgiws.connect()`'s and the
handlers'): `recv()` returns `str` or `bytes`, then None once closed; `async
for` ends at close; `send()` raises `ConnectionClosed` once closed; `open`,
`closed`, `close_code`, `close_reason`, `subprotocol`, `close()`.

What the app sees is what asgiws's server gives it: a "websocket" scope with
the `websocket.http.response` and `asgiws.connection` extensions;
`websocket.disconnect` with the close code (the client's, or the app's own
echoed back), then the same message from every later `receive()`; a `send()`
after the close that raises `ConnectionClosed` (an OSError, ASGI 2.4). The
handshake ends as it would over a socket: `websocket.accept` opens the
connection (a subprotocol the client did not offer is the app's error, a
500); `websocket.close` before accepting is a 403; a denial response
(`websocket.http.response.start` and `.body`) is its own status, headers and
body; all raised as `InvalidStatus`. An app that returns after accepting
closes with 1000, one that raises with 1011.

Cancel-safety: both directions are `asyncio.Queue`s, whose `get()` leaves
an item in the queue when the task waiting for it is cancelled, even after
the item was handed over: a cancelled `recv()` (the client's or the app's
`receive()`) never loses a message, and a `recv()` called right after the
cancel, before the cancelled one has run, gets it. Pings are the server's business, not the
app's: in process, `ping()` is answered at once.

Exceptions: one the app raises is re-raised where the test waits for it
(the refused handshake, or leaving the `async with` block), unless
`raise_app_exceptions` is False or the test itself is failing; then it is
logged, as the server logs it. Leaving the block closes the connection
(1000) and waits up to `close_timeout` for the app to return, then cancels it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import AsyncIterator, Generator
from typing import Any, Final

from ..app.datastructures import Headers
from ..protocol import limits
from ..protocol.errors import ConnectionClosed, InvalidStatus, connection_closed
from ..types import ASGIApp, Message, Scope

__all__ = ["InProcessWebSocket"]

logger = logging.getLogger("asgiws.error")


class Phase(enum.Enum):
    CONNECTING = 0  # waiting for the app's answer to the handshake
    RESPONDING = 1  # the app is sending a denial response
    OPEN = 2
    CLOSED = 3


CONNECTING, RESPONDING, OPEN, CLOSED = Phase.CONNECTING, Phase.RESPONDING, Phase.OPEN, Phase.CLOSED



class _End(enum.Enum):
    """Last in the client's queue, and put back each time it is read: recv() returns None."""

    END = 0


_END: Final = _End.END


class InProcessWebSocket:
    """One in-process WebSocket connection to `app`; ``async with`` or ``await`` it to connect."""

    def __init__(
        self,
        app: ASGIApp,
        scope: Scope,
        *,
        raise_app_exceptions: bool = True,
        close_timeout: float | None = limits.CLOSE_TIMEOUT,
    ) -> None:
        self.app = app
        self.scope = scope
        self.raise_app_exceptions = raise_app_exceptions
        self.close_timeout = close_timeout
        query = scope["query_string"]
        #: The request target, path and query, as sent.
        self.path = scope["raw_path"].decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
        self.request_headers = Headers(scope["headers"])
        #: The headers of the app's `websocket.accept`.
        self.response_headers = Headers()
        self.subprotocol: str | None = None
        #: Close code and reason: the app's, or ours echoed back by it.
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.phase = CONNECTING
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._to_client: asyncio.Queue[str | bytes | _End] = asyncio.Queue()
        self._disconnect: Message | None = None  # what every receive() returns once the queue is empty
        self._connection = {"disconnected": False}  # the scope's "asgiws.connection" extension
        self._denial: tuple[int, list[tuple[bytes, bytes]], list[bytes]] | None = None
        self._handshake: asyncio.Future[None] | None = None
        self._closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None  # what the app raised

    # -- connecting -------------------------------------------------------------

    async def _connect(self) -> InProcessWebSocket:
        if self._task is not None:
            raise RuntimeError("this WebSocket is already connected")
        self.scope.setdefault("extensions", {}).update(
            {"websocket.http.response": {}, "asgiws.connection": self._connection}
        )
        self._handshake = asyncio.get_running_loop().create_future()
        self._to_app.put_nowait({"type": "websocket.connect"})
        self._task = asyncio.ensure_future(self._run())
        try:
            await asyncio.shield(self._handshake)
        except InvalidStatus:
            await self._finish(raise_error=True)
            raise
        except BaseException:
            self._task.cancel()
            raise
        return self

    def __await__(self) -> Generator[Any, None, InProcessWebSocket]:
        return self._connect().__await__()

    async def __aenter__(self) -> InProcessWebSocket:
        return await self._connect()

    async def __aexit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        await self.close()
        await self._finish(raise_error=exc_type is None)

    async def _finish(self, raise_error: bool) -> None:
        """Wait for the app to return (cancel it past `close_timeout`); raise or log what it raised."""
        task = self._task
        assert task is not None
        if not task.done():
            await asyncio.wait({task}, timeout=self.close_timeout)
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
        error, self.error = self.error, None
        if error is not None:
            if raise_error and self.raise_app_exceptions:
                raise error
            logger.error("Exception in ASGI application\n", exc_info=error)

    # -- the app's side ------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self.app(self.scope, self._receive, self._send)
        except ConnectionClosed as exc:
            if self.phase is OPEN or self.phase is CONNECTING:
                self._app_failed(exc)  # not ours: some other connection's
        except Exception as exc:
            self._app_failed(exc)
        except BaseException:
            self._app_failed(None)
            raise
        else:
            if self.phase is CONNECTING or self.phase is RESPONDING:
                self._app_failed(RuntimeError("ASGI callable returned without completing handshake."))
            elif self.phase is OPEN:
                self._closed_by_app(1000, "")

    def _app_failed(self, error: BaseException | None) -> None:
        if self.error is None:
            self.error = error
        if self.phase is CONNECTING or self.phase is RESPONDING:
            self._refused(InvalidStatus(500, [("content-type", "text/plain; charset=utf-8")], b"Internal Server Error"))
        elif self.phase is OPEN:
            self._closed_by_app(1011, "")

    async def _receive(self) -> Message:
        if self._disconnect is not None and self._to_app.empty():
            return self._disconnect
        return await self._to_app.get()

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        phase = self.phase
        if phase is OPEN:
            if kind == "websocket.send":
                data = message.get("bytes")
                if data is None:
                    data = message.get("text")
                    if data is None:
                        raise TypeError("websocket.send needs 'bytes' or 'text'")
                else:
                    data = bytes(data)
                self._to_client.put_nowait(data)
            elif kind == "websocket.close":
                self._closed_by_app(message.get("code") or 1000, message.get("reason") or "")
            else:
                raise RuntimeError(f"Expected 'websocket.send' or 'websocket.close', got {kind!r}")
        elif phase is CONNECTING:
            if kind == "websocket.accept":
                self._accepted(message)
            elif kind == "websocket.close":
                self._refused(InvalidStatus(403))
            elif kind == "websocket.http.response.start":
                status = message["status"]
                if not 100 <= status < 600:
                    raise ValueError(f"Invalid HTTP status {status!r} in websocket.http.response.start")
                self.phase = RESPONDING
                self._denial = (status, list(message.get("headers") or []), [])
            else:
                raise RuntimeError(
                    "Expected 'websocket.accept', 'websocket.close' or 'websocket.http.response.start', "
                    f"got {kind!r}"
                )
        elif phase is RESPONDING and self._denial is not None:
            if kind != "websocket.http.response.body":
                raise RuntimeError(f"Expected 'websocket.http.response.body', got {kind!r}")
            status, headers, body = self._denial
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                pairs = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]
                self._refused(InvalidStatus(status, pairs, b"".join(body)))
        elif kind in ("websocket.send", "websocket.close", "websocket.accept"):
            raise connection_closed(self.close_code or 1006, self.close_reason or "")
        else:
            raise RuntimeError(f"Unexpected ASGI message {kind!r} on a closed WebSocket")

    def _accepted(self, message: Message) -> None:
        subprotocol = message.get("subprotocol")
        if subprotocol is not None and subprotocol not in self.scope.get("subprotocols", ()):
            raise ValueError(f"the app accepted subprotocol {subprotocol!r}, which the client did not offer")
        self.subprotocol = subprotocol
        self.response_headers = Headers(list(message.get("headers") or []))
        self.phase = OPEN
        assert self._handshake is not None
        self._handshake.set_result(None)

    def _refused(self, error: InvalidStatus) -> None:
        self.phase = CLOSED
        self._denial = None
        self._disconnected(1006, "")
        assert self._handshake is not None
        if not self._handshake.done():
            self._handshake.set_exception(error)

    def _closed_by_app(self, code: int, reason: str) -> None:
        """The app closed: the client answers with the same code at once."""
        self.close_code, self.close_reason = code, reason
        self.phase = CLOSED
        self._to_client.put_nowait(_END)
        self._disconnected(code, reason)

    def _disconnected(self, code: int, reason: str) -> None:
        """From now on the app receives `websocket.disconnect` with `code`, after what it has not read yet."""
        if self._disconnect is None:
            self._disconnect = {"type": "websocket.disconnect", "code": code, "reason": reason}
            self._to_app.put_nowait(self._disconnect)
            self._connection["disconnected"] = True
        self._closed.set()

    # -- the client's side -------------------------------------------------------------

    @property
    def open(self) -> bool:
        """True from the app's accept until either side closes."""
        return self.phase is OPEN

    @property
    def closed(self) -> bool:
        """True once either side has closed (in process, the closing handshake takes no time)."""
        return self.phase is CLOSED

    async def recv(self) -> str | bytes | None:
        """The next message (`str` for text, `bytes` for binary), or None once closed."""
        if self.phase is CONNECTING or self.phase is RESPONDING:
            raise RuntimeError("the opening handshake is not complete")
        message = await self._to_client.get()
        if message is _END:
            self._to_client.put_nowait(_END)  # for every later recv(), and one awaited meanwhile
            return None
        return message

    async def __aiter__(self) -> AsyncIterator[str | bytes]:
        while (message := await self.recv()) is not None:
            yield message

    async def send(self, message: str | bytes) -> None:
        """Send a text (`str`) or binary (`bytes`) message; ConnectionClosed once closed."""
        if self.phase is CONNECTING or self.phase is RESPONDING:
            raise RuntimeError("the opening handshake is not complete")
        if self.phase is not OPEN:
            raise connection_closed(self.close_code or 1006, self.close_reason or "")
        event: Message
        if type(message) is str:
            event = {"type": "websocket.receive", "text": message}
        elif isinstance(message, (bytes, bytearray, memoryview)):
            event = {"type": "websocket.receive", "bytes": bytes(message)}
        else:
            raise TypeError(f"WebSocket messages are str or bytes, not {type(message).__name__}")
        self._to_app.put_nowait(event)

    async def ping(self, data: str | bytes | None = None) -> asyncio.Future[float]:
        """A future already resolved to a round-trip time of 0: in process, nothing travels."""
        if self.phase is not OPEN:
            raise connection_closed(self.close_code or 1006, self.close_reason or "")
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        future.set_result(0.0)
        return future

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with `code` and `reason`, which the app receives; closing a closed connection does nothing."""
        if self.phase is OPEN:
            self.close_code, self.close_reason = code, reason
            self.phase = CLOSED
            self._to_client.put_nowait(_END)
            self._disconnected(code, reason)

    async def wait_closed(self) -> None:
        """Return once either side has closed."""
        await self._closed.wait()

    def __repr__(self) -> str:
        return f"<InProcessWebSocket {self.path} {self.phase.name.lower()}>"
