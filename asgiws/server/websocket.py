"""`WebSocketProtocol`: one WebSocket connection served to an ASGI app (ASGI spec "WebSocket" 2.5).

The HTTP protocol validates the upgrade request, builds the ASGI scope and
hands the transport over with `start()` (or answers an invalid request with
`refuse()`). From then on this object is the transport's protocol. What every
WebSocket connection does (dispatching the protocol core's events, the
receive queue and its read pausing, coalesced writes and flow control,
keep-alive pings and the close deadline) is the shared `Connection`'s
(`asgiws.connection`); this class adds what is the server's and ASGI's:

* the opening handshake, answered when the app sends ``websocket.accept``
  (a 101), or ``websocket.close`` before it (a 403), or its own denial
  response (``websocket.http.response.*``), or fails (a 500). Until then
  `handshake` (a `Handshake`) is the one state this class keeps; once
  accepted, the protocol core's `conn.state` says open, closing or closed.
  Frames a client sends before the 101 are kept (up to `PENDING_LIMIT`
  bytes, then reading pauses) and read after the accept;
* the ASGI messages: ``websocket.connect`` first, ``websocket.receive`` for
  each message, then ``websocket.disconnect`` (the peer's close code, the
  one the connection failed with, or 1006) from every later `receive`;
  what the app sends, checked against the order ASGI allows; `send` on a
  closed connection raises `ConnectionClosed` (an OSError, spec 2.4);
* the app's ending: returning closes with 1000, raising with 1011 (or a
  500 before the accept);
* the scope's ``asgiws.connection`` extension: a dict whose
  ``"disconnected"`` turns True, in place, as soon as the server holds a
  ``websocket.disconnect`` for the app (the client closed, the connection
  was lost or failed), even while messages before it are still unread. An
  app that never calls `receive` can tell from it that the client is gone;
  the framework's `WebSocket.open` reads it.

Per connection there is no task besides the app's own and at most one
timer at a time.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from typing import Any

from ..connection import Connection
from ..protocol import limits
from ..protocol.connection import Side, State, WebSocketConnection
from ..protocol.deflate import DeflateSettings
from ..protocol.errors import ConnectionClosed, HandshakeError, connection_closed
from ..protocol.handshake import UpgradeRequest, accept_response, reject_response
from ..types import Message

error_logger = logging.getLogger("asgiws.error")
access_logger = logging.getLogger("asgiws.access")

#: permessage-deflate with the window bits and memLevel of `protocol.limits`.
DEFLATE = DeflateSettings()

#: Bytes received before `websocket.accept` (a client that does not wait
#: for the 101) kept before reading pauses.
PENDING_LIMIT = 64 * 1024

_OPEN = State.OPEN


class Handshake(enum.Enum):
    """The opening handshake, as far as the app has answered it."""

    PENDING = "pending"  # the upgrade request is in; the app has not answered yet
    RESPONDING = "responding"  # the app is sending an HTTP denial response
    ACCEPTED = "accepted"  # 101 sent: from now on the protocol core's state says the rest
    ENDED = "ended"  # refused (an HTTP response was sent), or TCP closed before any answer


PENDING = Handshake.PENDING
RESPONDING = Handshake.RESPONDING
ACCEPTED = Handshake.ACCEPTED
ENDED = Handshake.ENDED


class WebSocketProtocol(Connection[dict[str, Any]]):
    """The asyncio protocol of one upgraded connection, and its ASGI receive/send."""

    __slots__ = (
        "config",
        "server_state",
        "app_state",
        "scope",
        "handshake",
        "request",
        "response",
        "pending",
        "connection_state",
    )

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any] | None = None) -> None:
        super().__init__(
            max_queue=config.ws_max_queue,
            write_limit=limits.WRITE_LIMIT,
            ping_interval=config.ws_ping_interval,
            ping_timeout=config.ws_ping_timeout,
            close_timeout=config.ws_close_timeout,
        )
        self.config = config
        self.server_state = server_state
        self.app_state = app_state
        self.scope: dict[str, Any] = {}
        self.handshake = PENDING
        self.request: UpgradeRequest | None = None  # the validated handshake, until answered
        self.response: tuple[int, list[tuple[bytes, bytes]], list[bytes]] | None = None  # denial response
        self.pending = b""  # bytes received before accept
        self.connection_state: dict[str, bool] | None = None  # the scope's "asgiws.connection" extension

    # -- Hand-over from the HTTP protocol ---------------------------------

    def start(
        self, transport: asyncio.Transport, scope: dict[str, Any], handshake: UpgradeRequest, trailing_data: bytes = b""
    ) -> None:
        """Take over `transport` after a valid upgrade request and run the app.

        `handshake` is the request the HTTP protocol validated;
        `trailing_data` is what the client sent after the request head.
        """
        self._attach(transport)
        self.scope = scope
        self.request = handshake
        transport.set_protocol(self)
        self.connection_state = {"disconnected": False}
        scope["extensions"]["asgiws.connection"] = self.connection_state
        self.server_state.connections.add(self)
        self._queue = deque([{"type": "websocket.connect"}])
        self.pending = trailing_data
        if not transport.is_reading():
            transport.resume_reading()
        task = self.loop.create_task(self.run_asgi())
        tasks = self.server_state.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def refuse(self, transport: asyncio.Transport, scope: dict[str, Any], error: HandshakeError) -> None:
        """Answer an invalid upgrade request with its 4xx and close; the app never runs."""
        self.transport = transport
        self.scope = scope
        self.handshake = ENDED
        error_logger.debug("Invalid WebSocket handshake: %s", error)
        self._log_access(error.status)
        transport.write(reject_response(error.status, headers=self.server_state.default_headers))
        transport.close()

    # -- What the shared Connection asks of the server -----------------------

    def _handshake_data(self, data: bytes) -> None:
        if self.handshake is PENDING:
            self.pending += data
            if len(self.pending) > PENDING_LIMIT:
                self._flow.pause_reading()
        # RESPONDING / ENDED: the peer has nothing more to say that matters.

    def _handshake_eof(self) -> None:
        pass  # the transport closes itself; connection_lost ends the handshake

    def _text(self, data: str) -> dict[str, Any]:
        return {"type": "websocket.receive", "text": data}

    def _binary(self, data: bytes) -> dict[str, Any]:
        return {"type": "websocket.receive", "bytes": data}

    def _end_message(self) -> dict[str, Any]:
        conn = self.conn
        if conn is None or conn.close_code is None:
            return {"type": "websocket.disconnect", "code": 1006, "reason": ""}
        return {"type": "websocket.disconnect", "code": conn.close_code, "reason": conn.close_reason}

    def _ended_before_open(self) -> bool:
        return self.handshake is ENDED

    def _finish(self) -> None:
        if self.connection_state is not None:
            self.connection_state["disconnected"] = True
        super()._finish()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        conn = self.conn
        if conn is None:
            self.handshake = ENDED
            self.request = self.response = None
        super().connection_lost(exc)
        if conn is not None:
            self._log_close(conn.close_code or 1006)

    # -- ASGI send -----------------------------------------------------------------

    async def send(self, message: Message) -> None:
        """Handle one ASGI message from the app; raises ConnectionClosed once closed."""
        kind = message["type"]
        conn = self.conn
        if conn is not None:
            if kind == "websocket.send":
                data = message.get("bytes")
                if data is not None:
                    frame = conn.send_binary(data)
                else:
                    text = message.get("text")
                    if text is None:
                        raise TypeError("websocket.send needs 'bytes' or 'text'")
                    frame = conn.send_text(text)
                if self._out is None:
                    self.transport.write(frame)  # a lone answer leaves at once
                else:
                    self._hold(frame)  # during a burst: with the other answers
                if self._flow.write_paused:
                    await self._drain()
                return
            if conn.state is not _OPEN:
                if kind == "websocket.close" or kind == "websocket.accept":
                    raise conn.closed_error()  # ASGI spec 2.4 wants an OSError
                raise RuntimeError(f"Unexpected ASGI message {kind!r} on a closed WebSocket")
            if kind == "websocket.close":
                self._start_close(message.get("code") or 1000, message.get("reason") or "")
                return
            raise RuntimeError(f"Expected 'websocket.send' or 'websocket.close', got {kind!r}")
        handshake = self.handshake
        if handshake is PENDING:
            if kind == "websocket.accept":
                self._accept(message.get("subprotocol"), message.get("headers") or [])
            elif kind == "websocket.close":
                self._respond_and_close(403, [], None)
            elif kind == "websocket.http.response.start":
                status = message["status"]
                if not 100 <= status < 600:
                    raise ValueError(f"Invalid HTTP status {status!r} in websocket.http.response.start")
                self.handshake = RESPONDING
                self.response = (status, list(message.get("headers") or []), [])
            else:
                raise RuntimeError(
                    "Expected 'websocket.accept', 'websocket.close' or 'websocket.http.response.start', "
                    f"got {kind!r}"
                )
            return
        if handshake is RESPONDING and self.response is not None:
            if kind != "websocket.http.response.body":
                raise RuntimeError(f"Expected 'websocket.http.response.body', got {kind!r}")
            status, headers, body = self.response
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                self._respond_and_close(status, headers, b"".join(body))
            return
        # ENDED: refused, or the client left before an answer.
        if kind in ("websocket.send", "websocket.close", "websocket.accept"):
            raise connection_closed(1006, "")
        raise RuntimeError(f"Unexpected ASGI message {kind!r} on a closed WebSocket")

    # -- Opening handshake ----------------------------------------------------

    def _accept(self, subprotocol: str | None, headers: list[tuple[bytes, bytes]]) -> None:
        if self.transport.is_closing():
            raise connection_closed(1006, "")
        config = self.config
        assert self.request is not None
        response, extensions = accept_response(
            self.request,
            subprotocol=subprotocol,
            headers=self.server_state.default_headers + list(headers),
            compression=DEFLATE if config.ws_per_message_deflate else None,
        )
        self.request = None
        self.handshake = ACCEPTED
        self.transport.write(response)
        self._log_access("[accepted]")
        pending = self.pending
        self.pending = b""
        self._open(WebSocketConnection(Side.SERVER, extensions=extensions, max_size=config.ws_max_size), pending)

    def _respond_and_close(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes | None) -> None:
        """Answer the upgrade request with a plain HTTP response and close.

        Raises InvalidAccept (a ValueError) for headers that cannot be sent,
        before anything is written, so the app's error becomes a 500.
        """
        response = reject_response(status, body, self.server_state.default_headers + headers)
        self.handshake = ENDED
        self.response = None
        self.request = None
        self._log_access(status)
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()
            self._arm_abort()
        self._finish()

    def shutdown(self) -> None:
        """Graceful shutdown: close with `server_state.close_code` (1001, or 1012 on a restart)."""
        conn = self.conn
        if conn is not None:
            if conn.state is _OPEN:
                self._start_close(self.server_state.close_code, "")
        elif self.handshake is PENDING or self.handshake is RESPONDING:
            self._respond_and_close(503, [], None)

    # -- The app ------------------------------------------------------------------

    async def run_asgi(self) -> None:
        """Run the app, then make sure the connection ends the way ASGI says."""
        try:
            result = await self.config.loaded_app(self.scope, self.receive, self.send)
        except ConnectionClosed:
            # Our own send() telling the app the peer is gone: nothing to report.
            if self.handshake is PENDING or self._is_open():
                error_logger.exception("Exception in ASGI application\n")
                self._app_failed()
        except Exception:
            error_logger.exception("Exception in ASGI application\n")
            self._app_failed()
        except BaseException:
            # Cancelled (forced shutdown) or interrupted: the server drops TCP.
            self._app_failed()
            raise
        else:
            if result is not None:
                error_logger.error("ASGI callable should return None, but returned '%s'.", result)
            if self.handshake is PENDING:
                error_logger.error("ASGI callable returned without completing handshake.")
                self._respond_and_close(500, [], None)
            elif self.handshake is RESPONDING:
                error_logger.error("ASGI callable returned without completing the denial response.")
                self._respond_and_close(500, [], None)
            elif self._is_open():
                self._start_close(1000, "")

    def _app_failed(self) -> None:
        if self.handshake is PENDING or self.handshake is RESPONDING:
            # Nothing was written yet (a denial response is sent whole).
            self._respond_and_close(500, [], None)
        elif self._is_open():
            self._start_close(1011, "")

    def _is_open(self) -> bool:
        """Accepted, and closed by neither side (the protocol core's state)."""
        conn = self.conn
        return conn is not None and conn.state is _OPEN

    # -- Small things -------------------------------------------------------------

    def _client(self) -> str:
        client = self.scope.get("client")
        return f"{client[0]}:{client[1]}" if client else "-"

    def _target(self) -> str:
        scope = self.scope
        path = scope.get("path", "")  # ASGI: it already includes root_path
        query = scope.get("query_string", b"")
        return f"{path}?{query.decode('latin-1')}" if query else path

    def _log_access(self, status: int | str) -> None:
        if self.config.access_log and access_logger.isEnabledFor(logging.INFO):
            access_logger.info('%s - "WebSocket %s" %s', self._client(), self._target(), status)

    def _log_close(self, code: int) -> None:
        if self.config.access_log and access_logger.isEnabledFor(logging.INFO):
            access_logger.info('%s - "WebSocket %s" [closed %d]', self._client(), self._target(), code)
