"""`WebSocketProtocol`: one WebSocket connection served to an ASGI app (ASGI spec "WebSocket" 2.5).

The HTTP protocol parses the upgrade request, builds the ASGI scope and hands
the transport over with `start()`. From then on this object is the
transport's protocol: it answers the opening handshake when the app sends
`websocket.accept` (or a 403, 500 or the app's own denial response), feeds
received bytes to the sans-I/O `WebSocketConnection`, turns its events into
`websocket.receive` / `websocket.disconnect` messages, and writes what the app
sends.

Per connection there is no task besides the app's own and at most one timer
at a time: the keep-alive ping, then the pong deadline, then (once a close
frame is sent) the close deadline. A message for an app already waiting in
`receive` goes straight to it; others wait in a deque that exists only while
messages wait, and beyond `ws_max_queue` of them reading pauses until the app
catches up. Cancelling a `receive` loses nothing: a message handed to it
after its task was told to stop goes back to the front of the queue. `send`
waits while the transport's write buffer is over its high-water mark
(asyncio's pause_writing / resume_writing).

When one read brings several messages, the app usually answers them all in
one step: the data frames it sends until the end of that loop iteration are
written together (one system call for a burst of echoes instead of one each),
and anything that must follow them (a close frame) flushes them first. A lone
message is answered with a direct write, so ping-pong latency is untouched.

The scope offers the `asgiws.connection` extension: a dict whose
``"disconnected"`` turns True, in place, as soon as the server holds a
``websocket.disconnect`` for the app (the client closed, the connection was
lost or failed), even while messages before it are still unread. An app
that never calls `receive` can tell from it that the client is gone; the
framework's `WebSocket.open` reads it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
from collections import deque
from typing import Any

from ..protocol import events
from ..protocol.connection import Side, WebSocketConnection
from ..protocol.deflate import DeflateSettings
from ..protocol.errors import ConnectionClosed, HandshakeError, connection_closed
from ..protocol.handshake import UpgradeRequest, accept_response, reject_response
from .flow_control import FlowControl

error_logger = logging.getLogger("asgiws.error")
access_logger = logging.getLogger("asgiws.access")

#: permessage-deflate with the window bits and memLevel of `protocol.limits`.
DEFLATE = DeflateSettings()

#: Data frames held back for the end of a burst are written as soon as they
#: add up to this much.
COALESCE_LIMIT = 64 * 1024

#: Bytes received before `websocket.accept` (a client that does not wait
#: for the 101) kept before reading pauses.
PENDING_LIMIT = 64 * 1024

TextMessage = events.TextMessage
BinaryMessage = events.BinaryMessage
Pong = events.Pong
CloseReceived = events.CloseReceived
ConnectionFailed = events.ConnectionFailed


class Phase(enum.Enum):
    """Where the connection is, from the app's point of view."""

    CONNECTING = "connecting"  # handshake received, waiting for the app's answer
    RESPONDING = "responding"  # the app is sending an HTTP denial response
    OPEN = "open"  # 101 sent; messages flow both ways
    CLOSING = "closing"  # our close frame is sent; waiting for the peer's
    CLOSED = "closed"  # TCP closed, or closing with nothing more to say


CONNECTING = Phase.CONNECTING
RESPONDING = Phase.RESPONDING
OPEN = Phase.OPEN
CLOSING = Phase.CLOSING
CLOSED = Phase.CLOSED


class WebSocketProtocol(asyncio.Protocol):
    """The asyncio protocol of one upgraded connection, and its ASGI receive/send."""

    __slots__ = (
        "config",
        "server_state",
        "app_state",
        "loop",
        "transport",
        "scope",
        "request",
        "conn",
        "phase",
        "max_queue",
        "queue",
        "waiter",
        "flow",
        "out",
        "out_size",
        "pending",
        "timer",
        "ping_payload",
        "disconnect",
        "connection_state",
        "response",
    )

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any] | None = None) -> None:
        self.config = config
        self.server_state = server_state
        self.app_state = app_state
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.scope: dict[str, Any] = {}
        self.request: UpgradeRequest | None = None  # the validated handshake, until answered
        self.conn: WebSocketConnection = None  # type: ignore[assignment]  # created at accept
        self.phase = CONNECTING
        self.max_queue: int = config.ws_max_queue if config.ws_max_queue is not None else 1 << 62
        self.queue: deque[dict[str, Any]] | None = None  # messages the app has not received yet
        self.waiter: asyncio.Future[dict[str, Any]] | None = None  # receive() waiting for a message
        self.flow: FlowControl = None  # type: ignore[assignment]  # created with the transport
        self.out: list[bytes] | None = None  # during a burst: data frames to write at its end
        self.out_size = 0
        self.pending = b""  # bytes received before accept
        self.timer: asyncio.TimerHandle | None = None
        self.ping_payload: bytes | None = None
        self.disconnect: dict[str, Any] | None = None  # set once: returned by every later receive()
        self.connection_state: dict[str, bool] | None = None  # the scope's "asgiws.connection" extension
        self.response: tuple[int, list[tuple[bytes, bytes]], list[bytes]] | None = None  # denial response

    # -- Hand-over from the HTTP protocol ---------------------------------

    def start(
        self, transport: asyncio.Transport, scope: dict[str, Any], handshake: UpgradeRequest, trailing_data: bytes = b""
    ) -> None:
        """Take over `transport` after a valid upgrade request and run the app.

        `handshake` is the request the HTTP protocol validated;
        `trailing_data` is what the client sent after the request head.
        """
        self.transport = transport
        self.flow = FlowControl(transport)
        self.scope = scope
        self.request = handshake
        transport.set_protocol(self)
        self.connection_state = {"disconnected": False}
        scope["extensions"]["asgiws.connection"] = self.connection_state
        self.server_state.connections.add(self)
        self.queue = deque([{"type": "websocket.connect"}])
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
        self.phase = CLOSED
        error_logger.debug("Invalid WebSocket handshake: %s", error)
        self._log_access(error.status)
        transport.write(reject_response(error.status, headers=self.server_state.default_headers))
        transport.close()

    # -- asyncio.Protocol -------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.phase is OPEN or self.phase is CLOSING:
            self._process(self.conn.receive_data(data))
        elif self.phase is CONNECTING:
            self.pending += data
            if len(self.pending) > PENDING_LIMIT:
                self.flow.pause_reading()
        # RESPONDING / CLOSED: the peer has nothing more to say that matters.

    def eof_received(self) -> bool | None:
        if self.conn is not None and (self.phase is OPEN or self.phase is CLOSING):
            self._process(self.conn.receive_eof())
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        self.out = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        was = self.phase
        self.phase = CLOSED
        if self.disconnect is None:
            self._disconnected(1006, "")
        if self.flow is not None:
            self.flow.connection_lost()
        if was is not CONNECTING and was is not RESPONDING and self.conn is not None:
            self._log_close(self.disconnect["code"] if self.disconnect else 1006)

    def pause_writing(self) -> None:
        self.flow.pause_writing()

    def resume_writing(self) -> None:
        self.flow.resume_writing()

    # -- Events from the WebSocket state machine ---------------------------

    def _process(self, received: list[Any]) -> None:
        """Deliver received messages, answer control frames, follow the close handshake."""
        delivered = False
        for event in received:
            kind = type(event)
            if kind is TextMessage:
                if self.phase is OPEN:
                    self._deliver({"type": "websocket.receive", "text": event.data})
                    delivered = True
            elif kind is BinaryMessage:
                if self.phase is OPEN:
                    self._deliver({"type": "websocket.receive", "bytes": event.data})
                    delivered = True
            elif kind is Pong:
                if event.payload == self.ping_payload and self.phase is OPEN:
                    self.ping_payload = None
                    self._schedule_ping()
            elif kind is CloseReceived:
                self._peer_closed(event.code, event.reason)
            elif kind is ConnectionFailed:
                error_logger.debug("WebSocket connection failed: %s", event.error)
                if delivered and self.phase is OPEN:
                    # Messages came before the bad frame: let the app answer them
                    # (its task runs first, woken when they were handed over),
                    # then send the failing close frame after its answers.
                    self._start_burst()
                    self.loop.call_soon(self._fail_after_answers, event.code)
                    return
                self._peer_closed(event.code, "")
        output = self.conn.data_to_send()
        if output:
            if self.out is not None:
                self._flush()  # a close echo must follow the app's messages
            self.transport.write(output)
        if self.phase is CLOSED:
            # RFC 6455 section 7.1.1: the server closes the TCP connection first.
            self.transport.close()
        elif len(received) > 1 and self.phase is OPEN:
            self._start_burst()

    def _start_burst(self) -> None:
        """Hold the app's answers to a burst of messages back, to write them together.

        The flush is scheduled after the app's wake-up (queued when the first
        message was handed over), so it runs once the app has answered.
        """
        if self.out is None:
            self.out = []
            self.out_size = 0
            self.loop.call_soon(self._flush)

    def _fail_after_answers(self, code: int) -> None:
        """The peer broke the protocol after valid messages, now answered: send the failing close."""
        if self.phase is not OPEN:
            return  # the connection was lost meanwhile
        self._flush()
        self._peer_closed(code, "")
        output = self.conn.data_to_send()
        if output:
            self.transport.write(output)
        self.transport.close()

    def _deliver(self, message: dict[str, Any]) -> None:
        """Hand `message` to the waiting receive(), or queue it (pausing reading when full)."""
        waiter = self.waiter
        queue = self.queue
        if waiter is not None and not queue:
            self.waiter = None
            if not waiter.done():  # else receive() was cancelled: keep the message
                waiter.set_result(message)
                return
        if queue is None:
            queue = self.queue = deque()
        queue.append(message)
        if len(queue) >= self.max_queue and not self.flow.read_paused:
            self.flow.pause_reading()

    def _peer_closed(self, code: int, reason: str) -> None:
        """The close handshake is over (or failed): TCP goes next, the app hears the code."""
        self.phase = CLOSED
        # Keep the timer: it aborts TCP if the close frame cannot be flushed.
        self._arm_abort()
        self._disconnected(code, reason)

    def _disconnected(self, code: int, reason: str) -> None:
        message = {"type": "websocket.disconnect", "code": code, "reason": reason}
        self.disconnect = message
        if self.connection_state is not None:
            self.connection_state["disconnected"] = True
        self._deliver(message)

    # -- ASGI receive / send ------------------------------------------------

    async def receive(self) -> dict[str, Any]:
        """The next ASGI message: connect, then receive ..., then disconnect forever."""
        queue = self.queue
        if queue:
            message = queue.popleft()
            if not queue:
                self.queue = None  # allocated again by the next burst only
                if self.flow.read_paused:
                    self.flow.resume_reading()
            elif self.flow.read_paused and len(queue) <= self.max_queue >> 1:
                self.flow.resume_reading()
            return message
        if self.disconnect is not None:
            return self.disconnect
        waiter = self.waiter = self.loop.create_future()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # Handed over, but the task was cancelled before it resumed: not received.
                self._unreceive(waiter.result())
            raise
        finally:
            if self.waiter is waiter:
                self.waiter = None

    def _unreceive(self, message: dict[str, Any]) -> None:
        """Put back a message a cancelled receive() never returned: it is the next one."""
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            # Another receive() started meanwhile (so nothing else is queued): it gets it.
            self.waiter = None
            waiter.set_result(message)
            return
        queue = self.queue
        if queue is None:
            queue = self.queue = deque()
        queue.appendleft(message)

    async def send(self, message: dict[str, Any]) -> None:
        """Handle one ASGI message from the app; raises ConnectionClosed once closed."""
        kind = message["type"]
        phase = self.phase
        if phase is OPEN:
            if kind == "websocket.send":
                data = message.get("bytes")
                if data is not None:
                    frame = self.conn.send_binary(data)
                else:
                    text = message.get("text")
                    if text is None:
                        raise TypeError("websocket.send needs 'bytes' or 'text'")
                    frame = self.conn.send_text(text)
                out = self.out
                if out is None:
                    self.transport.write(frame)
                else:
                    out.append(frame)
                    self.out_size += len(frame)
                    if self.out_size >= COALESCE_LIMIT:
                        self._flush()
                if self.flow.write_paused:
                    await self._drain()
                return
            if kind == "websocket.close":
                self._close(message.get("code") or 1000, message.get("reason") or "")
                return
            raise RuntimeError(f"Expected 'websocket.send' or 'websocket.close', got {kind!r}")
        if phase is CONNECTING:
            if kind == "websocket.accept":
                self._accept(message.get("subprotocol"), message.get("headers") or [])
            elif kind == "websocket.close":
                self._respond_and_close(403, [], None)
            elif kind == "websocket.http.response.start":
                status = message["status"]
                if not 100 <= status < 600:
                    raise ValueError(f"Invalid HTTP status {status!r} in websocket.http.response.start")
                self.phase = RESPONDING
                self.response = (status, list(message.get("headers") or []), [])
            else:
                raise RuntimeError(
                    "Expected 'websocket.accept', 'websocket.close' or 'websocket.http.response.start', "
                    f"got {kind!r}"
                )
            return
        if phase is RESPONDING and self.response is not None:
            if kind != "websocket.http.response.body":
                raise RuntimeError(f"Expected 'websocket.http.response.body', got {kind!r}")
            status, headers, body = self.response
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                self._respond_and_close(status, headers, b"".join(body))
            return
        # CLOSING or CLOSED (or a denial response already sent): ASGI spec 2.4 wants an OSError.
        if kind in ("websocket.send", "websocket.close", "websocket.accept"):
            if self.disconnect is None and self.conn is not None and self.conn.close_sent is not None:
                raise connection_closed(*self.conn.close_sent)  # the app's own close
            raise connection_closed(*self._disconnect_args())
        raise RuntimeError(f"Unexpected ASGI message {kind!r} on a closed WebSocket")

    def _flush(self) -> None:
        """Write the data frames held back during this loop iteration."""
        out = self.out
        if out is not None:
            self.out = None
            if not out or self.transport.is_closing():
                return
            if len(out) == 1:
                self.transport.write(out[0])
            else:
                self.transport.writelines(out)

    async def _drain(self) -> None:
        """Wait until the transport's write buffer is below its low-water mark."""
        await self.flow.drain()
        if self.phase is CLOSED and self.transport.is_closing():
            raise connection_closed(*self._disconnect_args())

    # -- Opening handshake ----------------------------------------------------

    def _accept(self, subprotocol: str | None, headers: list[tuple[bytes, bytes]]) -> None:
        if self.transport.is_closing():
            raise connection_closed(*self._disconnect_args())
        config = self.config
        assert self.request is not None
        response, extensions = accept_response(
            self.request,
            subprotocol=subprotocol,
            headers=self.server_state.default_headers + list(headers),
            compression=DEFLATE if config.ws_per_message_deflate else None,
        )
        self.conn = WebSocketConnection(Side.SERVER, extensions=extensions, max_size=config.ws_max_size)
        self.request = None
        self.phase = OPEN
        self.transport.write(response)
        self._log_access("[accepted]")
        self._schedule_ping()
        pending = self.pending
        self.pending = b""
        if self.flow.read_paused and len(self.queue or ()) < self.max_queue:
            self.flow.resume_reading()
        if pending:
            self._process(self.conn.receive_data(pending))

    def _respond_and_close(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes | None) -> None:
        """Answer the upgrade request with a plain HTTP response and close.

        Raises InvalidAccept (a ValueError) for headers that cannot be sent,
        before anything is written, so the app's error becomes a 500.
        """
        response = reject_response(status, body, self.server_state.default_headers + headers)
        self.phase = CLOSED
        self.response = None
        self.request = None
        self._log_access(status)
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()
            self._arm_abort()
        if self.disconnect is None:
            self._disconnected(1006, "")

    # -- Closing ----------------------------------------------------------------

    def _close(self, code: int, reason: str) -> None:
        """Send our close frame and wait (bounded) for the peer's."""
        if self.conn.failure is not None:
            # The peer already broke the protocol: its close code wins.
            self._fail_after_answers(self.conn.failure.close_code)
            return
        self.phase = CLOSING
        self._flush()
        self.transport.write(self.conn.send_close(code, reason))
        self._arm_abort()
        # The peer's close frame may be behind messages the app will never read.
        self.flow.resume_reading()

    def _arm_abort(self) -> None:
        """Replace any timer with the close deadline: past it, TCP is dropped."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        timeout = self.config.ws_close_timeout
        if timeout is not None:
            self.timer = self.loop.call_later(timeout, self.transport.abort)

    def shutdown(self) -> None:
        """Graceful shutdown: close with `server_state.close_code` (1001; 1012 on a restart) within the close timeout."""
        if self.phase is OPEN:
            self._close(self.server_state.close_code, "")
        elif self.phase is CONNECTING or self.phase is RESPONDING:
            self._respond_and_close(503, [], None)

    # -- Keep-alive -------------------------------------------------------------

    def _schedule_ping(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        interval = self.config.ws_ping_interval
        if interval is not None:
            self.timer = self.loop.call_later(interval, self._send_ping)

    def _send_ping(self) -> None:
        self.timer = None
        if self.phase is not OPEN:
            return
        if self.flow.read_paused:
            # The app is behind, not the peer: its pong could not be read anyway.
            self._schedule_ping()
            return
        self.ping_payload = payload = os.urandom(4)
        self.transport.write(self.conn.send_ping(payload))
        timeout = self.config.ws_ping_timeout
        if timeout is not None:
            self.timer = self.loop.call_later(timeout, self._ping_timed_out)

    def _ping_timed_out(self) -> None:
        self.timer = None
        if self.phase is not OPEN:
            return
        if self.flow.read_paused:
            # The pong may be waiting behind messages the app has not read.
            self._schedule_ping()
            return
        error_logger.debug("%s - WebSocket keepalive ping timeout", self._client())
        self._flush()
        self.transport.write(self.conn.send_close(1011, "keepalive ping timeout"))
        self.phase = CLOSED
        self._disconnected(1011, "keepalive ping timeout")
        self.transport.close()
        self._arm_abort()

    # -- The app ------------------------------------------------------------------

    async def run_asgi(self) -> None:
        """Run the app, then make sure the connection ends the way ASGI says."""
        try:
            result = await self.config.loaded_app(self.scope, self.receive, self.send)
        except ConnectionClosed:
            # Our own send() telling the app the peer is gone: nothing to report.
            if self.phase is OPEN or self.phase is CONNECTING:
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
            if self.phase is CONNECTING:
                error_logger.error("ASGI callable returned without completing handshake.")
                self._respond_and_close(500, [], None)
            elif self.phase is OPEN:
                self._close(1000, "")
            elif self.phase is RESPONDING:
                error_logger.error("ASGI callable returned without completing the denial response.")
                self._respond_and_close(500, [], None)

    def _app_failed(self) -> None:
        if self.phase is CONNECTING or self.phase is RESPONDING:
            # Nothing was written yet (a denial response is sent whole).
            self._respond_and_close(500, [], None)
        elif self.phase is OPEN:
            self._close(1011, "")

    # -- Small things -------------------------------------------------------------

    def _disconnect_args(self) -> tuple[int, str]:
        disconnect = self.disconnect
        return (disconnect["code"], disconnect["reason"]) if disconnect else (1006, "")

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
