"""The WebSocket connection state machine (RFC 6455), sans-I/O, for both sides.

One `WebSocketConnection` per connection, after the opening handshake::

    conn = WebSocketConnection(Side.SERVER, extensions=[...], max_size=16 * 2**20)

    events = conn.receive_data(data)     # bytes from the socket -> list of events
    transport.write(conn.data_to_send()) # automatic replies: pongs, close echo, our close on failure
    if conn.close_expected():            # this side should close TCP now
        transport.close()

    transport.write(conn.send_text("hi"))        # also send_binary, send_ping, send_pong
    transport.write(conn.send_close(1000, ""))   # then keep reading until the peer's close
    events = conn.receive_eof()                   # the peer closed TCP

Events (see events.py): `TextMessage`, `BinaryMessage`, `Ping`, `Pong`,
`CloseReceived(code, reason)` and `ConnectionFailed(code, error)`; the last
comes after whatever was decoded before the error, so no message is lost.

What it enforces, beyond single frames (frames.py):

* fragmentation (section 5.4): any number of fragments, control frames
  between them, only `max_size` on the total; a continuation without a
  started message or a new message inside a fragmented one fails with 1002;
* text is UTF-8 (section 8.1): fragmented text is decoded incrementally and
  fails with 1007 on the first invalid byte, not at the end of the message;
  so does a single text frame whose payload arrives in several reads;
* `max_size` (None: no limit) on the reassembled, decoded message: exactly
  `max_size` bytes pass, one more fails with 1009, as early as the frame
  header when no extension transforms payloads;
* the close handshake (sections 5.5.1, 7.1): a received close is answered
  with a close echoing its code (1000 when it had none); after our close,
  data frames are ignored but the peer's close is still read. `state` goes
  OPEN -> CLOSING (we sent a close) -> CLOSED (both closes, a failure or EOF),
  or OPEN -> CLOSED at once; `_TRANSITIONS` lists the moves and `_enter` is
  the only place that makes one. The asyncio layer and its users ask this
  state (and `close_code`) instead of keeping their own copy: a lost TCP
  connection is `receive_eof()` for them too. The server closes TCP first
  once the handshake is done (section 7.1.1), so `close_expected()` is True
  then on the server side; on failure or EOF it is True on both sides. A
  client waits for the server's EOF (with a timeout).
* `fail(code, reason)` fails the connection from this side (section 7.1.7),
  for what the bytes cannot show, such as a peer that stopped answering pings.
* sending data after our close raises `ConnectionClosed`, with one
  exception: after a failure, data may still be sent until `data_to_send()`
  hands out the failing close frame, so that answers to the messages that
  came before the bad frame can precede it on the wire.
"""

from __future__ import annotations

import codecs
import enum
from collections.abc import Sequence
from typing import Any

from . import limits
from .errors import (
    ConnectionClosed,
    InvalidPayloadData,
    MessageTooBig,
    WebSocketProtocolError,
    connection_closed,
)
from .events import BinaryMessage, CloseReceived, ConnectionFailed, Event, Ping, Pong, TextMessage
from .extensions import Extension
from .frames import (
    ACCELERATED,
    Frame,
    FrameParser,
    Opcode,
    parse_close,
    plain_data_frame,
    serialize_close,
    serialize_frame,
)

__all__ = ["Side", "State", "WebSocketConnection"]

_utf8_decoder = codecs.getincrementaldecoder("utf-8")

# Slack allowed on a frame's raw length over the remaining budget when an
# extension may expand payloads less than it shrinks them (deflate's stored
# blocks add a few bytes); the decoded size is then checked exactly.
_EXTENSION_SLACK = 1024


class Side(enum.IntEnum):
    """Which end of the connection this is."""

    SERVER = 0
    CLIENT = 1


class State(enum.IntEnum):
    """Where the close handshake is (after the opening handshake)."""

    OPEN = 1  # messages flow both ways
    CLOSING = 2  # we sent a close frame; the peer's is still to come
    CLOSED = 3  # both close frames, a failure (either side's) or EOF: nothing more is received


_OPEN = State.OPEN
_CLOSED = State.CLOSED

#: Every state change there is; `WebSocketConnection._enter` makes them.
_TRANSITIONS: dict[State, tuple[State, ...]] = {
    State.OPEN: (State.CLOSING, State.CLOSED),
    State.CLOSING: (State.CLOSED,),
    State.CLOSED: (),
}


class WebSocketConnection:
    """A WebSocket connection, sans-I/O: bytes in, events out, bytes to send."""

    def __init__(
        self,
        side: Side,
        *,
        extensions: Sequence[Extension] = (),
        max_size: int | None = limits.MAX_MESSAGE_SIZE,
    ) -> None:
        self.side = side
        self.extensions = list(extensions)
        self.max_size = max_size
        self.state = State.OPEN
        #: Once CLOSED, the code and reason it closed with, as the application
        #: is told: the peer's close frame's; the code we failed the connection
        #: with (1002, 1007, 1009, or `fail()`'s); 1006 after EOF without either.
        self.close_code: int | None = None
        self.close_reason: str = ""
        #: (code, reason) of the close frame we sent, None until we send one.
        self.close_sent: tuple[int, str] | None = None
        #: The error that failed the connection, if the peer broke the protocol.
        self.failure: WebSocketProtocolError | None = None
        self._failed = False  # we failed the connection (the peer's error, or `fail()`)
        self.eof_received = False
        rsv_bits = 0
        for ext in self.extensions:
            rsv_bits |= ext.rsv_bits
        self._decoders = self.extensions[::-1]
        self._mask = side == Side.CLIENT
        self._parser = FrameParser(require_mask=side == Side.SERVER, rsv_bits=rsv_bits, max_payload=max_size)
        self._slack = _EXTENSION_SLACK if self.extensions else 0
        # Without extensions: messages read by the C accelerator (when built), frames sent unmasked in one piece.
        self._read_accelerated = ACCELERATED and not self.extensions
        self._plain_send = not self.extensions and not self._mask
        if self.extensions and max_size is not None:
            self._parser.max_payload = max_size + self._slack
        self._out: list[bytes] = []
        # Fragmented message in progress: its opcode (0: none), parts, size.
        self._msg_op = 0
        self._parts: list[Any] = []  # str for a text message, bytes for a binary one
        self._msg_size = 0
        self._decoder: codecs.IncrementalDecoder | None = None
        # UTF-8 check of a text frame whose payload is still arriving.
        self._partial_decoder: codecs.IncrementalDecoder = _utf8_decoder()
        self._partial_checked = 0
        # Our close frame after a failure, queued but not yet taken by data_to_send().
        self._failure_close_pending = False

    # -- receiving --------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Parse bytes received from the peer into events."""
        events: list[Event] = []
        if self.state is _CLOSED or not data:
            return events
        parser = self._parser
        parser.feed(data)
        # The common case, in C: whole unfragmented messages, no extension. When
        # it took every byte, no frame and no partial frame is left to look at.
        if (
            self._read_accelerated
            and not self._msg_op
            and self.close_sent is None
            and not parser.read_messages(events, TextMessage, BinaryMessage)
        ):
            return events
        next_frame = parser.next_frame
        try:
            while True:
                frame = next_frame()
                if frame is None:
                    break
                op = frame.opcode
                if op <= 2:
                    if self.close_sent is None:
                        self._receive_data_frame(frame, op, events)
                elif op == 9:
                    events.append(Ping(frame.payload))
                    if self.close_sent is None:
                        self._out.append(serialize_frame(Frame(Opcode.PONG, frame.payload), self._mask))
                elif op == 10:
                    events.append(Pong(frame.payload))
                else:
                    self._receive_close(frame.payload, events)
                    break
            if parser.partial_head and self.close_sent is None and not self._decoders:
                self._check_partial_text()
        except WebSocketProtocolError as exc:
            self._fail(exc, events)
        return events

    def _receive_data_frame(self, frame: Frame, op: int, events: list[Event]) -> None:
        msg_op = self._msg_op
        if op:
            if msg_op:
                raise WebSocketProtocolError("new data frame inside a fragmented message")
        elif not msg_op:
            raise WebSocketProtocolError("continuation frame without a message to continue")
        max_size = self.max_size
        if self._decoders:
            # _msg_size belongs to the message in progress: none on a first frame.
            budget = None if max_size is None else max_size - (self._msg_size if msg_op else 0)
            for ext in self._decoders:
                frame = ext.decode(frame, max_size=budget)
        payload = frame.payload
        if frame.fin and op:
            # An unfragmented message: the hot path.
            if self._slack and max_size is not None and len(payload) > max_size:
                raise MessageTooBig(f"message of {len(payload)} bytes exceeds the limit")
            if op == 1:
                try:
                    events.append(TextMessage(payload.decode()))
                except UnicodeDecodeError:
                    raise InvalidPayloadData("text message is not valid UTF-8") from None
            else:
                events.append(BinaryMessage(payload))
            return
        if op:
            msg_op = self._msg_op = op
            self._parts = []
            self._msg_size = 0
            self._decoder = _utf8_decoder() if op == 1 else None
        size = self._msg_size = self._msg_size + len(payload)
        if max_size is not None:
            if size > max_size:
                raise MessageTooBig(f"message of at least {size} bytes exceeds the limit")
            self._parser.max_payload = max_size - size + self._slack
        if msg_op == 1:
            decoder = self._decoder
            assert decoder is not None  # made when the text message began
            try:
                self._parts.append(decoder.decode(payload, frame.fin))
            except UnicodeDecodeError:
                raise InvalidPayloadData("text message is not valid UTF-8") from None
            if not frame.fin:
                # The decoder waits for a third byte before rejecting a UTF-16
                # surrogate (ED A0..BF); it is invalid from the second one.
                pending = decoder.getstate()[0]
                if len(pending) == 2 and pending[0] == 0xED and pending[1] >= 0xA0:
                    raise InvalidPayloadData("text message is not valid UTF-8")
        else:
            self._parts.append(payload)
        if frame.fin:
            parts = self._parts
            if msg_op == 1:
                events.append(TextMessage("".join(parts)))
            else:
                events.append(BinaryMessage(b"".join(parts)))
            self._msg_op = 0
            self._parts = []
            self._decoder = None
            if max_size is not None:
                self._parser.max_payload = max_size + self._slack

    def _check_partial_text(self) -> None:
        """Validate the UTF-8 of a text frame still arriving, to fail on the first bad byte."""
        parser = self._parser
        op = parser.partial_op
        if op == 1:
            if self._msg_op:
                return  # a protocol error, reported when the frame is complete
        elif op != 0 or self._msg_op != 1:
            return
        if parser.partial_fresh:
            parser.partial_fresh = False
            decoder: codecs.IncrementalDecoder = _utf8_decoder()
            if op == 0:
                assert self._decoder is not None  # a continuation of a text message
                decoder.setstate(self._decoder.getstate())
            self._partial_decoder = decoder
            self._partial_checked = 0
        decoder = self._partial_decoder
        chunk = parser.partial_payload(self._partial_checked)
        self._partial_checked += len(chunk)
        try:
            decoder.decode(chunk, False)
        except UnicodeDecodeError:
            raise InvalidPayloadData("text message is not valid UTF-8") from None
        pending = decoder.getstate()[0]
        if len(pending) == 2 and pending[0] == 0xED and pending[1] >= 0xA0:
            raise InvalidPayloadData("text message is not valid UTF-8")

    def _receive_close(self, payload: bytes, events: list[Event]) -> None:
        code, reason = parse_close(payload)
        events.append(CloseReceived(code, reason))
        if self.close_sent is None:
            # Section 5.5.1: echo the status code received (1000 when there was none).
            echo = 1000 if code == 1005 else code
            self.close_sent = (echo, "")
            self._out.append(serialize_frame(Frame(Opcode.CLOSE, serialize_close(echo)), self._mask))
        # Section 5.5.1: nothing after a close frame is processed.
        self._enter(_CLOSED, code, reason)

    def _fail(self, exc: WebSocketProtocolError, events: list[Event]) -> None:
        """Fail the WebSocket connection (section 7.1.7): send our close with the error's code."""
        code = exc.close_code
        self.failure = exc
        self._failed = True
        if self.close_sent is None:
            self.close_sent = (code, "")
            self._out.append(serialize_frame(Frame(Opcode.CLOSE, serialize_close(code)), self._mask))
            self._failure_close_pending = True
        self._enter(_CLOSED, code, "")
        events.append(ConnectionFailed(code, exc))

    def receive_eof(self) -> list[Event]:
        """The peer closed TCP (or the connection was lost); [CloseReceived(1006, "")] if it was not CLOSED yet."""
        if self.eof_received:
            return []
        self.eof_received = True
        if self.state is _CLOSED:
            return []
        self._enter(_CLOSED, 1006, "")
        return [CloseReceived(1006, "")]

    def _enter(self, state: State, code: int = 0, reason: str = "") -> None:
        """Move to `state`: the only place the state changes; CLOSED records the close `code` and `reason`."""
        if state not in _TRANSITIONS[self.state]:
            raise RuntimeError(f"a WebSocket connection cannot go from {self.state.name} to {state.name}")
        self.state = state
        if state is _CLOSED:
            self.close_code = code
            self.close_reason = reason
            self._parser.clear()
            self._parts = []

    def data_to_send(self) -> bytes:
        """Automatic replies produced by `receive_data` (empty bytes when none)."""
        out = self._out
        if not out:
            return b""
        self._out = []
        self._failure_close_pending = False
        return out[0] if len(out) == 1 else b"".join(out)

    def close_expected(self) -> bool:
        """Whether this side should close the TCP connection now.

        The server after the close handshake completes (section 7.1.1);
        either side after failing the connection or after the peer's EOF.
        """
        if self.state is not _CLOSED:
            return False
        return self.side == Side.SERVER or self._failed or self.eof_received

    # -- sending ----------------------------------------------------------

    def closed_error(self) -> ConnectionClosed:
        """What sending raises once the connection is not OPEN: its close code, else our close frame's."""
        if self.close_code is not None:
            return connection_closed(self.close_code, self.close_reason)
        code, reason = self.close_sent or (1006, "")
        return connection_closed(code, reason)

    def _send_data(self, opcode: int, payload: bytes) -> bytes:
        if self.state is not _OPEN and not self._failure_close_pending:
            raise self.closed_error()
        frame = Frame(opcode, payload)
        for ext in self.extensions:
            frame = ext.encode(frame)
        if self._mask:
            return serialize_frame(frame, True)
        # Unmasked (the server's): header and payload in one allocation. Data frames here are whole messages.
        rsv = (0x40 if frame.rsv1 else 0) | (0x20 if frame.rsv2 else 0) | (0x10 if frame.rsv3 else 0)
        return plain_data_frame(0x80 | rsv | frame.opcode, frame.payload)

    def send_text(self, data: str) -> bytes:
        """The bytes of a text message."""
        if self._plain_send and self.state is _OPEN:
            return plain_data_frame(0x81, data)
        return self._send_data(Opcode.TEXT, data.encode())

    def send_binary(self, data: bytes) -> bytes:
        """The bytes of a binary message."""
        if self._plain_send and self.state is _OPEN and not isinstance(data, str):
            return plain_data_frame(0x82, data)
        return self._send_data(Opcode.BINARY, bytes(data))

    def send_ping(self, payload: bytes = b"") -> bytes:
        """The bytes of a ping (payload of at most 125 bytes)."""
        return self._send_control(Opcode.PING, payload)

    def send_pong(self, payload: bytes = b"") -> bytes:
        """The bytes of an unsolicited pong (payload of at most 125 bytes)."""
        return self._send_control(Opcode.PONG, payload)

    def _send_control(self, opcode: int, payload: bytes) -> bytes:
        if self.state is not _OPEN:
            raise self.closed_error()
        if len(payload) > 125:
            raise ValueError("control frame payload longer than 125 bytes")
        return serialize_frame(Frame(opcode, bytes(payload)), self._mask)

    def send_close(self, code: int = 1000, reason: str = "") -> bytes:
        """The bytes of our close frame; code 1005 sends a close without a body.

        Then keep reading: the peer's close completes the handshake. Raises
        `ConnectionClosed` if a close was already sent (e.g. the echo of the
        peer's close) and ValueError for a code that cannot be sent.
        """
        if self.state is not _OPEN:
            raise self.closed_error()
        body = serialize_close(code, reason)
        self.close_sent = (code, reason)
        self._enter(State.CLOSING)
        return serialize_frame(Frame(Opcode.CLOSE, body), self._mask)

    def fail(self, code: int, reason: str = "") -> bytes:
        """The bytes of our close frame failing the connection (section 7.1.7); the state is CLOSED.

        For what the bytes received cannot show, such as a peer that stopped
        answering pings (1011). The connection is then CLOSED with `code`:
        nothing more is received, and TCP should be closed (`close_expected()`).
        Raises `ConnectionClosed` unless the connection is OPEN.
        """
        if self.state is not _OPEN:
            raise self.closed_error()
        body = serialize_close(code, reason)
        self.close_sent = (code, reason)
        self._failed = True
        self._enter(_CLOSED, code, reason)
        return serialize_frame(Frame(Opcode.CLOSE, body), self._mask)
