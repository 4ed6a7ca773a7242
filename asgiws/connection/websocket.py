"""`Connection`: one WebSocket connection on an asyncio transport, for the server and the client alike.

The sans-I/O `WebSocketConnection` (`conn`) says what received bytes mean and
which bytes to send; this class does, once for both ends, what needs a
socket and a clock:

* dispatch: received bytes go to `conn`, its events become messages in the
  receive queue, pongs settle pings, and its replies (pongs, the close echo,
  the close frame failing the connection) are written;
* the receive queue: `receive()` returns the messages in order, then, once
  none will come, the end message (the server's ``websocket.disconnect``,
  the client's None) every time. A message for a receiver already waiting
  goes straight to it; others wait in a deque that exists only while
  messages wait, and beyond `max_queue` of them reading pauses until the
  receiver catches up. Cancelling `receive()` is safe: a message handed to
  a receive() whose task was cancelled before it resumed goes back to the
  front of the queue, and the next receive() returns it;
* writes: a data frame given to `_hold` waits for the end of the loop turn
  and leaves with the others sent in it (one system call instead of one
  each), or as soon as they reach `write_limit` bytes; anything that must
  follow them (a close frame) flushes them first. The client holds every
  frame (its user's sends come in loops); the server holds frames only
  during a burst (a read that brought several messages, whose answers come
  in the same loop turn) and otherwise writes at once, so that ping-pong
  waits for no extra loop turn. A `send` waits while the transport's
  buffer is over its high-water mark (`FlowControl`);
* timers, at most one at a time and no task: the keep-alive ping every
  `ping_interval`, then its pong deadline (`ping_timeout`; past it the
  connection fails with 1011), then, once a close frame is sent or
  received, the close deadline (`close_timeout`; past it TCP is dropped).
  While reading is paused, keep-alive waits: the receiver is behind, not
  the peer, and a pong could not be read anyway.

The close state is the protocol core's: this class asks `conn.state` and
`conn.close_code` and keeps no copy. A lost TCP connection is an EOF to the
core, so after it `conn.state` is CLOSED too (code 1006 unless it had closed).

A subclass adds its end's opening handshake (`_handshake_data`,
`_handshake_eof`, then `_open(conn)`), what a message becomes in its queue
(`_text`, `_binary`) and what `receive()` returns once messages end
(`_end_message`, `_ended_before_open`), and its own API on top: the server's
ASGI `send` (`asgiws.server.websocket`), the client's `send`, `ping`,
`close` (`asgiws.client`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from typing import Generic, TypeVar

from ..protocol.connection import State, WebSocketConnection
from ..protocol.errors import ConnectionClosed, connection_closed
from ..protocol.events import BinaryMessage, CloseReceived, ConnectionFailed, Event, Pong, TextMessage
from .flow_control import FlowControl

__all__ = ["Connection"]

logger = logging.getLogger("asgiws.websocket")

#: What the receive queue holds: the server's ASGI messages, the client's str and bytes.
Message = TypeVar("Message")

_OPEN = State.OPEN
_CLOSED = State.CLOSED
_TEXT = TextMessage
_BINARY = BinaryMessage
_PONG = Pong
_CLOSE = CloseReceived
_FAILED = ConnectionFailed


class Connection(asyncio.Protocol, Generic[Message]):
    """One WebSocket connection: its transport, protocol core, receive queue, writes and timers."""

    __slots__ = (
        "loop",
        "transport",
        "conn",
        "max_queue",
        "write_limit",
        "ping_interval",
        "ping_timeout",
        "close_timeout",
        "latency",
        "_flow",
        "_queue",
        "_waiter",
        "_out",
        "_out_size",
        "_timer",
        "_pings",
        "_keepalive",
    )

    def __init__(
        self,
        *,
        max_queue: int | None,
        write_limit: int,
        ping_interval: float | None,
        ping_timeout: float | None,
        close_timeout: float | None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport = None  # type: ignore[assignment]  # set by _attach()
        #: The protocol core, once the opening handshake is done.
        self.conn: WebSocketConnection | None = None
        self.max_queue = max_queue
        self.write_limit = write_limit
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        #: Round-trip time of the last ping answered, in seconds (0 before any).
        self.latency = 0.0
        self._flow: FlowControl = None  # type: ignore[assignment]  # set by _attach()
        self._queue: deque[Message] | None = None  # messages not received yet; None when there are none
        self._waiter: asyncio.Future[Message] | None = None  # receive() waiting for a message
        self._out: list[bytes] | None = None  # during a burst: data frames to write at its end
        self._out_size = 0
        self._timer: asyncio.TimerHandle | None = None
        # Pings waiting for their pong, oldest first: payload -> (the pong's waiter, time sent).
        self._pings: dict[bytes, tuple[asyncio.Future[float] | None, float]] | None = None
        self._keepalive: bytes | None = None  # payload of the keep-alive ping in flight

    # -- What a subclass provides ------------------------------------------------

    def _handshake_data(self, data: bytes) -> None:
        """Bytes received before `conn` exists (the opening handshake's)."""
        raise NotImplementedError

    def _handshake_eof(self) -> None:
        """EOF before `conn` exists."""
        raise NotImplementedError

    def _text(self, data: str) -> Message:
        """What a text message becomes in the receive queue."""
        raise NotImplementedError

    def _binary(self, data: bytes) -> Message:
        """What a binary message becomes in the receive queue."""
        raise NotImplementedError

    def _end_message(self) -> Message:
        """What `receive()` returns once no message will come."""
        raise NotImplementedError

    def _ended_before_open(self) -> bool:
        """Whether no message will ever come, asked while `conn` does not exist."""
        raise NotImplementedError

    # -- The transport ----------------------------------------------------------------

    def _attach(self, transport: asyncio.Transport) -> None:
        """Read and write `transport` from now on; `send` waits while its buffer is over the high-water mark."""
        self.transport = transport
        self._flow = FlowControl(transport)

    def _open(self, conn: WebSocketConnection, received: bytes = b"") -> None:
        """The opening handshake is done: bytes go to `conn` from now on (`received` first); pings start."""
        self.conn = conn
        self._schedule_ping()
        flow = self._flow
        if flow.read_paused and (self.max_queue is None or len(self._queue or ()) < self.max_queue):
            flow.resume_reading()
        if received:
            self._process(conn.receive_data(received))

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        if conn is not None:
            self._process(conn.receive_data(data))
        else:
            self._handshake_data(data)

    def eof_received(self) -> bool | None:
        conn = self.conn
        if conn is not None:
            self._process(conn.receive_eof())
        else:
            self._handshake_eof()
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self._out = None
        conn = self.conn
        if conn is not None:
            conn.receive_eof()  # to the protocol core, TCP gone is EOF: CLOSED, 1006 unless it had closed
            conn.data_to_send()  # what it still had to send has nowhere to go
        self._finish()
        if self._flow is not None:
            self._flow.connection_lost()
        pings = self._pings
        if pings:
            self._pings = None
            error = self._closed_error()
            for waiter, _ in pings.values():
                if waiter is not None and not waiter.done():
                    waiter.set_exception(error)
                    waiter.exception()  # nobody may be awaiting this pong

    def pause_writing(self) -> None:
        self._flow.pause_writing()

    def resume_writing(self) -> None:
        self._flow.resume_writing()

    # -- Events from the protocol core ------------------------------------------------

    def _process(self, received: list[Event]) -> None:
        """Deliver messages, settle pongs, follow the close handshake; then write the core's replies."""
        conn: WebSocketConnection = self.conn  # type: ignore[assignment]  # events come once open
        delivered = ended = False
        for event in received:
            kind = type(event)
            if kind is _TEXT or kind is _BINARY:
                data = event.data  # type: ignore[attr-defined]  # kind is _TEXT or _BINARY
                message = self._text(data) if kind is _TEXT else self._binary(data)
                delivered = True
                waiter = self._waiter
                if waiter is not None and not self._queue and not waiter.done():
                    # A receive() is waiting (the common case, kept inline): straight to it.
                    self._waiter = None
                    waiter.set_result(message)
                else:
                    self._enqueue(message)
            elif kind is _PONG:
                self._pong(event.payload)  # type: ignore[attr-defined]  # kind is _PONG
            elif kind is _CLOSE or kind is _FAILED:
                ended = True  # the core is CLOSED now; nothing follows this event
        if ended:
            failure = conn.failure
            if failure is not None:
                logger.debug("%s - WebSocket connection failed: %s", self._peer(), failure)
            # TCP must end within the close timeout, whoever closes it.
            self._arm_abort()
            self._finish()
            if delivered and failure is not None:
                # Messages came before the bad frame: let the receiver answer them
                # (its task runs first, woken when they were handed over), then
                # send the failing close frame after its answers.
                self._start_burst()
                self.loop.call_soon(self._fail_after_answers)
                return
        output = conn.data_to_send()
        if output:
            self._flush()  # a close echo must follow the messages already sent
            self.transport.write(output)
        if ended:
            if conn.close_expected():
                self.transport.close()
        elif len(received) > 1 and conn.state is _OPEN:
            self._start_burst()

    def _fail_after_answers(self) -> None:
        """The peer broke the protocol after messages now answered: send the failing close, close TCP."""
        if self.transport.is_closing():
            return  # the connection was lost meanwhile
        self._flush()
        conn = self.conn
        assert conn is not None  # scheduled by _process, once open
        output = conn.data_to_send()
        if output:
            self.transport.write(output)
        self.transport.close()

    # -- The receive queue -------------------------------------------------------------

    def _enqueue(self, message: Message) -> None:
        """Queue a message no receive() waits for (`_process` hands it to one that does); pause reading when full."""
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        queue.append(message)
        max_queue = self.max_queue
        if max_queue is not None and len(queue) >= max_queue and not self._flow.read_paused:
            self._flow.pause_reading()

    def _finish(self) -> None:
        """No message will come any more: a receive() waiting for one gets the end message."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(self._end_message())

    async def receive(self) -> Message:
        """The next message, in order; once no message will come, the end message, every time.

        Cancelling it loses nothing: the next call returns the message a
        cancelled one was about to return. Raises RuntimeError while another
        coroutine is waiting in receive().
        """
        queue = self._queue
        if queue:
            message = queue.popleft()
            flow = self._flow
            if not queue:
                self._queue = None  # allocated again by the next burst only
                if flow.read_paused:
                    flow.resume_reading()
            elif flow.read_paused and len(queue) <= (self.max_queue or 0) >> 1:
                flow.resume_reading()
            return message
        conn = self.conn
        if conn is not None:
            if conn.state is _CLOSED:
                return self._end_message()
        elif self._ended_before_open():
            return self._end_message()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            raise RuntimeError("receive() is already being awaited by another coroutine")
        waiter = self._waiter = self.loop.create_future()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # Handed over, but the task was cancelled before it resumed: not received.
                self._unreceive(waiter.result())
            raise
        finally:
            if self._waiter is waiter:
                self._waiter = None

    def _unreceive(self, message: Message) -> None:
        """Put back a message a cancelled receive() never returned: it is the next one."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            # Another receive() started meanwhile (so nothing else is queued): it gets it.
            self._waiter = None
            waiter.set_result(message)
            return
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        queue.appendleft(message)

    # -- Writing --------------------------------------------------------------------------

    def _hold(self, frame: bytes) -> None:
        """Write a data frame at the end of this loop turn, with the others (at once past `write_limit`)."""
        out = self._out
        if out is None:
            out = self._start_burst()
        out.append(frame)
        size = self._out_size = self._out_size + len(frame)
        if size >= self.write_limit:
            self._flush()

    def _start_burst(self) -> list[bytes]:
        """Hold data frames back until the end of this loop turn, to write them together.

        The flush is scheduled after the receiver's wake-up (queued when the
        first message was handed over), so it runs once the receiver has answered.
        """
        out = self._out
        if out is None:
            out = self._out = []
            self._out_size = 0
            self.loop.call_soon(self._flush)
        return out

    def _flush(self) -> None:
        """Write the data frames held back during this loop turn."""
        out = self._out
        if out is not None:
            self._out = None
            if not out or self.transport.is_closing():
                return
            if len(out) == 1:
                self.transport.write(out[0])
            else:
                self.transport.writelines(out)

    async def _drain(self) -> None:
        """Wait until the transport's write buffer is below its low-water mark."""
        await self._flow.drain()
        conn = self.conn
        if conn is not None and conn.state is _CLOSED and self.transport.is_closing():
            raise self._closed_error()

    # -- Pings and keep-alive ---------------------------------------------------------

    def _ping(self, payload: bytes | None = None, waiter: asyncio.Future[float] | None = None) -> bytes:
        """Send a ping (`payload` defaults to 4 random bytes); `waiter` gets the round-trip time.

        Raises ConnectionClosed unless the connection is open, and
        RuntimeError for the payload of a ping still waiting for its pong.
        """
        pings = self._pings
        if pings is None:
            pings = self._pings = {}
        if payload is None:
            payload = os.urandom(4)
            while payload in pings:
                payload = os.urandom(4)
        elif payload in pings:
            raise RuntimeError("a ping with the same payload is already waiting for its pong")
        assert self.conn is not None  # the callers check that the connection is open
        self.transport.write(self.conn.send_ping(payload))
        pings[payload] = (waiter, self.loop.time())
        return payload

    def _pong(self, payload: bytes) -> None:
        """A pong answers its ping and, as RFC 6455 section 5.5.3 allows, every earlier one."""
        pings = self._pings
        if not pings or payload not in pings:
            return  # unsolicited, or for a ping already answered
        now = self.loop.time()
        for key in list(pings):
            waiter, sent_at = pings.pop(key)
            if waiter is not None and not waiter.done():
                waiter.set_result(now - sent_at)
            if key == self._keepalive:
                self._keepalive = None
                # Once closing, the timer is the close deadline: keep it.
                if self.conn is not None and self.conn.state is _OPEN:
                    self._schedule_ping()
            if key == payload:
                self.latency = now - sent_at
                break
        if not pings:
            self._pings = None

    def _schedule_ping(self) -> None:
        """Replace any timer with the next keep-alive ping."""
        self._cancel_timer()
        interval = self.ping_interval
        if interval is not None:
            self._timer = self.loop.call_later(interval, self._send_keepalive)

    def _keepalive_due(self) -> WebSocketConnection | None:
        """The protocol core, when the keep-alive timer that just fired should act; else None.

        Not once closing (the timer is then the close deadline), nor while
        reading is paused: the receiver is behind, not the peer, and a pong
        would wait behind the unread messages. Keep-alive starts over then.
        """
        self._timer = None
        conn = self.conn
        if conn is None or conn.state is not _OPEN:
            return None
        if self._flow.read_paused:
            self._schedule_ping()
            return None
        return conn

    def _send_keepalive(self) -> None:
        if self._keepalive_due() is None:
            return
        self._keepalive = self._ping()
        timeout = self.ping_timeout
        if timeout is not None:
            self._timer = self.loop.call_later(timeout, self._keepalive_timed_out)

    def _keepalive_timed_out(self) -> None:
        conn = self._keepalive_due()
        if conn is None:
            return
        logger.debug("%s - WebSocket keepalive ping timeout", self._peer())
        self._flush()
        self.transport.write(conn.fail(1011, "keepalive ping timeout"))
        self._finish()
        self.transport.close()
        self._arm_abort()

    # -- Closing -------------------------------------------------------------------------

    def _start_close(self, code: int, reason: str) -> None:
        """Send our close frame after the data frames held back; wait, bounded, for the peer's."""
        self._flush()
        assert self.conn is not None  # the callers check that the connection is open
        self.transport.write(self.conn.send_close(code, reason))
        self._arm_abort()
        # The peer's close frame may be behind messages nobody will read.
        self._flow.resume_reading()

    def _arm_abort(self) -> None:
        """Replace any timer with the close deadline: past it, TCP is dropped."""
        self._cancel_timer()
        timeout = self.close_timeout
        if timeout is not None:
            self._timer = self.loop.call_later(timeout, self.transport.abort)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _closed_error(self) -> ConnectionClosed:
        """What sending raises now that the connection is closed."""
        conn = self.conn
        return conn.closed_error() if conn is not None else connection_closed(1006, "")

    def _peer(self) -> str:
        """The peer's address, for logs."""
        peer = self.transport.get_extra_info("peername") if self.transport is not None else None
        return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "-"
