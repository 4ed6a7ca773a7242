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
* what it reports: the access lines (the handshake's answer; the close,
  with the connection's duration and its messages each way, which
  `MessageCounts` counts), DEBUG lines (accepted or refused, closed and
  why) and, with metrics on (`ServerState.metrics`), the open WebSockets,
  refusals, closes and messages. Whether it counts messages is decided once
  per connection: when neither the access log nor metrics want them, a
  message costs one ``if``;
* the scope's ``asgiws.connection`` extension, a dict the server keeps
  up to date in place:

  - ``"disconnected"`` turns True as soon as the server holds a
    ``websocket.disconnect`` for the app (the client closed, the connection
    was lost or failed), even while messages before it are still unread. An
    app that never calls `receive` can tell from it that the client is
    gone; the framework's `WebSocket.open` reads it;
  - ``"write_paused_since"``: the event loop time (``loop.time()``) at which
    the transport's write buffer went over its high-water mark, None while
    it is not (from below the low-water mark on);
  - ``"send_frame"``: `send_frame`, the broadcast fast path: write a data
    message framed once for many connections, now, without a task or a
    wait (the framework's `broadcast()` uses it; absent once the connection
    is lost).

Per connection there is no task besides the app's own and at most one
timer at a time.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from ..connection import Connection
from ..protocol import limits
from ..protocol.connection import Side, State, WebSocketConnection
from ..protocol.deflate import DeflateSettings
from ..protocol.errors import ConnectionClosed, ForbiddenOrigin, HandshakeError, connection_closed
from ..protocol.handshake import (
    UpgradeRequest,
    accept_response,
    complete_rejection,
    reject_response,
    rejection_head,
)
from ..types import Message
from .counts import MessageCounts
from .logs import HANDSHAKE_ACCEPTED, WEBSOCKET_CLOSED, WEBSOCKET_HANDSHAKE

if TYPE_CHECKING:
    from .metrics import ServerMetrics

error_logger = logging.getLogger("asgiws.error")
access_logger = logging.getLogger("asgiws.access")

#: permessage-deflate with the window bits and memLevel of `protocol.limits`.
DEFLATE = DeflateSettings()

#: Bytes received before `websocket.accept` (a client that does not wait
#: for the 101) kept before reading pauses.
PENDING_LIMIT = 64 * 1024

_OPEN = State.OPEN


class BroadcastTurn:
    """One event loop turn in which broadcasts write: the connections holding frames back until it ends.

    A connection's first broadcast frame of a turn is written at once; the
    next ones (a burst) wait for the end of the turn and leave together, in
    one write. Nothing is allocated per connection: each keeps one list for
    its held frames, and the turn one list of the connections that hold some.
    """

    __slots__ = ("loop", "open", "holding")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.open = True
        self.holding: list[WebSocketProtocol] = []
        loop.call_soon(self.end)

    def end(self) -> None:
        self.open = False
        holding, self.holding = self.holding, []
        for protocol in holding:
            protocol._release_held()


#: The turn broadcasts write in now, in whichever loop last broadcast.
_turn: BroadcastTurn | None = None


def _current_turn(loop: asyncio.AbstractEventLoop) -> BroadcastTurn:
    global _turn
    turn = _turn
    if turn is None or not turn.open or turn.loop is not loop:
        turn = _turn = BroadcastTurn(loop)
    return turn


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
        "_turn",
        "_held",
        "metrics",
        "counts",
        "started_at",
        "closed_by_server",
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
        # A denial response: its status, its checked head (`rejection_head`), its body parts so far.
        self.response: tuple[int, bytes, list[bytes]] | None = None
        self.pending = b""  # bytes received before accept
        self.connection_state: dict[str, Any] | None = None  # the scope's "asgiws.connection" extension
        self._turn: BroadcastTurn | None = None  # the turn of the last broadcast frame written
        self._held: list[bytes] | None = None  # broadcast frames held until the turn ends (kept once made)
        self.metrics: ServerMetrics | None = server_state.metrics
        #: The messages of this connection, when the access log or metrics count them (else None).
        self.counts: MessageCounts | None = None
        self.started_at = 0.0  # loop time of the upgrade request
        self.closed_by_server = False  # the server (or its app) sent the first close frame

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
        self.connection_state = {"disconnected": False, "write_paused_since": None, "send_frame": self.send_frame}
        scope["extensions"]["asgiws.connection"] = self.connection_state
        self.server_state.connections.add(self)
        self.started_at = self.loop.time()
        metrics = self.metrics
        if metrics is not None:
            self.counts = MessageCounts(metrics.websocket_totals)
        elif self._access_log():
            self.counts = MessageCounts()
        self._queue = deque([{"type": "websocket.connect"}])
        self.pending = trailing_data
        if not transport.is_reading():
            transport.resume_reading()
        task = self.loop.create_task(self.run_asgi())
        tasks = self.server_state.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def refuse(self, transport: asyncio.Transport, scope: dict[str, Any], error: HandshakeError) -> None:
        """Answer an upgrade request the server refuses with its status and close; the app never runs.

        Refused: an invalid handshake (400, 426), a forbidden Origin (403),
        an upgrade over the concurrency limit (503).

        A forbidden Origin is logged as a warning: it is a browser on another
        site (or a misconfigured `ws_origins`), which the operator wants to see.
        """
        self.transport = transport
        self.scope = scope
        self.handshake = ENDED
        if isinstance(error, ForbiddenOrigin):
            error_logger.warning("%s - WebSocket handshake refused (403): %s", self._client(), error)
        else:
            error_logger.debug("WebSocket handshake refused (%d): %s", error.status, error)
        self._answered(error.status)
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
        if self.counts is not None:
            self.counts.received(data)
        return {"type": "websocket.receive", "text": data}

    def _binary(self, data: bytes) -> dict[str, Any]:
        if self.counts is not None:
            self.counts.received(data)
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

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.connection_state is not None:
            self.connection_state["write_paused_since"] = self.loop.time()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.connection_state is not None:
            self.connection_state["write_paused_since"] = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        if self.connection_state is not None:
            self.connection_state.pop("send_frame", None)  # it holds this object: no cycle outlives TCP
        conn = self.conn
        if conn is None:
            self.handshake = ENDED
            self.request = self.response = None
        super().connection_lost(exc)
        if conn is not None:
            self._closed(conn, exc)

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
                    data = message.get("text")
                    if data is None:
                        raise TypeError("websocket.send needs 'bytes' or 'text'")
                    frame = conn.send_text(data)
                if self.counts is not None:
                    self.counts.sent(data)
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
                self._respond_and_close(403)
            elif kind == "websocket.http.response.start":
                # A status or header that cannot be sent raises here (a ValueError), to the app.
                status = message["status"]
                head = rejection_head(status, self.server_state.default_headers + list(message.get("headers") or []))
                self.handshake = RESPONDING
                self.response = (status, head, [])
            else:
                raise RuntimeError(
                    "Expected 'websocket.accept', 'websocket.close' or 'websocket.http.response.start', "
                    f"got {kind!r}"
                )
            return
        if handshake is RESPONDING and self.response is not None:
            if kind != "websocket.http.response.body":
                raise RuntimeError(f"Expected 'websocket.http.response.body', got {kind!r}")
            status, head, body = self.response
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                self._respond_and_close(status, complete_rejection(head, b"".join(body)))
            return
        # ENDED: refused, or the client left before an answer.
        if kind in ("websocket.send", "websocket.close", "websocket.accept"):
            raise connection_closed(1006, "")
        raise RuntimeError(f"Unexpected ASGI message {kind!r} on a closed WebSocket")

    def send_frame(self, message: str | bytes, frame: bytes) -> bool:
        """Send `message` after everything sent before it, never waiting: the broadcast fast path.

        `frame` is `message` as an unmasked RFC 6455 frame without
        compression, made once for every connection of a broadcast; it is
        written as it is, unless this connection negotiated
        permessage-deflate: then `message` is framed with this connection's
        own compressor (its context carries over from message to message).
        The first frame of a loop turn is written at once; the rest of a
        burst leaves in one write at the end of the turn (`BroadcastTurn`).
        Nothing waits for the write buffer: the caller watches
        ``"write_paused_since"`` and decides what a slow client gets.
        Returns False, and writes nothing, unless the connection is open.
        """
        conn = self.conn
        if conn is None or conn.state is not _OPEN or self.transport.is_closing():
            return False
        if conn.extensions:
            frame = conn.send_text(message) if isinstance(message, str) else conn.send_binary(message)
        if self.counts is not None:
            self.counts.sent(message)
        if self._out is not None:
            self._hold(frame)  # with the frames already held in this turn
            return True
        turn = self._turn
        if turn is None or not turn.open:
            self._turn = _current_turn(self.loop)
            self.transport.write(frame)  # the first of this turn leaves at once
            return True
        # A burst: hold the rest of it back until the turn ends, to write it at once.
        held = self._held
        if held is None:
            held = self._held = []
        else:
            held.clear()  # written already, if it holds anything
        self._out = held
        self._out_size = 0
        turn.holding.append(self)
        self._hold(frame)
        return True

    def _release_held(self) -> None:
        """The broadcast turn ended: write the frames held back (unless written already)."""
        held = self._held
        if held is not None:
            if self._out is held:
                self._flush()
            held.clear()

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
        self._answered(101)
        pending = self.pending
        self.pending = b""
        self._open(WebSocketConnection(Side.SERVER, extensions=extensions, max_size=config.ws_max_size), pending)

    def _respond_and_close(self, status: int, response: bytes | None = None) -> None:
        """Answer the upgrade request with a plain HTTP response and close.

        `response` is the app's denial, complete; None: the server's own
        response for `status` (403, 500, 503), with the default headers.
        """
        if response is None:
            response = reject_response(status, headers=self.server_state.default_headers)
        self.handshake = ENDED
        self.response = None
        self.request = None
        self._answered(status)
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
            self._respond_and_close(503)

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
                self._respond_and_close(500)
            elif self.handshake is RESPONDING:
                error_logger.error("ASGI callable returned without completing the denial response.")
                self._respond_and_close(500)
            elif self._is_open():
                self._start_close(1000, "")

    def _app_failed(self) -> None:
        if self.handshake is PENDING or self.handshake is RESPONDING:
            # Nothing was written yet (a denial response is sent whole).
            self._respond_and_close(500)
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

    def _access_log(self) -> bool:
        return bool(self.config.access_log) and access_logger.isEnabledFor(logging.INFO)

    def _start_close(self, code: int, reason: str) -> None:
        self.closed_by_server = True
        super()._start_close(code, reason)

    def _answered(self, status: int) -> None:
        """Report the handshake's answer: 101, or the HTTP status refusing it."""
        metrics = self.metrics
        if metrics is not None:
            if status == 101:
                metrics.websocket_accepted()
            else:
                metrics.handshake_refused(status)
        if self._access_log():
            answer: int | str = HANDSHAKE_ACCEPTED if status == 101 else status
            access_logger.info(WEBSOCKET_HANDSHAKE, self._client(), self._target(), answer)
        if error_logger.isEnabledFor(logging.DEBUG):
            outcome = "accepted" if status == 101 else f"refused with {status}"
            error_logger.debug("%s - WebSocket %s %s", self._client(), self._target(), outcome)

    def _closed(self, conn: WebSocketConnection, exc: Exception | None) -> None:
        """Report the end of an accepted connection: its close code, and (access log) its duration and messages."""
        code = conn.close_code or 1006
        if self.metrics is not None:
            self.metrics.websocket_closed(code)
        counts = self.counts
        if counts is not None and self._access_log():
            duration = self.loop.time() - self.started_at
            access_logger.info(
                WEBSOCKET_CLOSED,
                self._client(),
                self._target(),
                code,
                duration,
                counts.messages_in,
                counts.messages_out,
            )
        if error_logger.isEnabledFor(logging.DEBUG):
            cause = _close_cause(self, conn, exc)
            error_logger.debug("%s - WebSocket %s closed: %s", self._client(), self._target(), cause)


def _close_cause(protocol: WebSocketProtocol, conn: WebSocketConnection, exc: Exception | None) -> str:
    """Why a WebSocket ended, in words, for the DEBUG log."""
    code = conn.close_code or 1006
    reason = f" {conn.close_reason!r}" if conn.close_reason else ""
    if conn.failure is not None:
        return f"failed with {code} ({conn.failure})"
    if code == 1006:
        return f"lost without a closing handshake (1006){f': {exc}' if exc else ''}"
    # The server closed first when it started the closing handshake, or failed
    # the connection with a reason of its own (a keep-alive ping timeout).
    by_server = protocol.closed_by_server or (bool(reason) and conn.close_sent == (code, conn.close_reason))
    return f"{code}{reason} from {'the server' if by_server else 'the client'}"
