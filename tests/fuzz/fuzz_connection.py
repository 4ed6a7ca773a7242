"""Harness: the WebSocket state machine (`asgiws.protocol.connection.WebSocketConnection`), both sides.

Input: an options byte (side, permessage-deflate negotiated or not and with
which parameters, `max_size`, whether we send while receiving), a split
seed, then the bytes the peer sends.

Properties:

* `receive_data` and `receive_eof` never raise: a peer's error is a
  `ConnectionFailed` event with 1002, 1007 or 1009, the last event ever;
  nothing comes after a `CloseReceived` either;
* messages are of the right type and never over `max_size`; pings are short;
* sending raises nothing but `ConnectionClosed`, and only once a close was
  sent or received;
* what we write (our sends, pongs, close echoes, our close on failure) is
  valid for the peer: a `WebSocketConnection` of the other side, with the
  matching extension, reads from it exactly the messages we sent, a pong
  for each ping, and our close code, and never fails;
* the same bytes give the same events whatever the reads.
"""

from __future__ import annotations

from asgiws.protocol.connection import Side, State, WebSocketConnection
from asgiws.protocol.deflate import PerMessageDeflate
from asgiws.protocol.errors import ConnectionClosed
from asgiws.protocol.events import BinaryMessage, CloseReceived, ConnectionFailed, Event, Ping, Pong, TextMessage

from .reader import chunks, options_seed_stream

#: Close codes a failure may carry (RFC 6455 section 7.4.1).
FAILURE_CODES = frozenset({1002, 1007, 1009})

MAX_SIZES = (16 * 2**20, None, 0, 100)
WINDOW_BITS = (15, 9, 12, 8)


class Options:
    """What the options byte picks."""

    def __init__(self, options: int) -> None:
        self.side = Side.CLIENT if options & 1 else Side.SERVER
        self.deflate = bool(options & 2)
        self.no_context_takeover = bool(options & 4)
        self.window_bits = WINDOW_BITS[options >> 3 & 3]
        self.max_size = MAX_SIZES[options >> 5 & 3]
        self.send = bool(options & 0x80)

    def connection(self) -> WebSocketConnection:
        """Our end of the connection."""
        extensions = []
        if self.deflate:
            extensions.append(
                PerMessageDeflate(
                    remote_no_context_takeover=self.no_context_takeover,
                    remote_max_window_bits=self.window_bits,
                    local_no_context_takeover=self.no_context_takeover,
                    local_max_window_bits=self.window_bits,
                )
            )
        return WebSocketConnection(self.side, extensions=extensions, max_size=self.max_size)

    def peer(self) -> WebSocketConnection:
        """The other end, which reads what we wrote."""
        extensions = []
        if self.deflate:
            extensions.append(
                PerMessageDeflate(
                    remote_no_context_takeover=self.no_context_takeover,
                    remote_max_window_bits=15,
                )
            )
        side = Side.SERVER if self.side == Side.CLIENT else Side.CLIENT
        return WebSocketConnection(side, extensions=extensions, max_size=None)


def normalize(event: Event) -> object:
    """Events compare by value, but a failure's exception by identity: keep its code."""
    return ("failed", event.code) if isinstance(event, ConnectionFailed) else event


def check_event(event: Event, conn: WebSocketConnection, max_size: int | None) -> None:
    """One event is of a kind the connection documents, within its limits."""
    if isinstance(event, TextMessage):
        assert type(event.data) is str
        assert max_size is None or len(event.data.encode()) <= max_size
    elif isinstance(event, BinaryMessage):
        assert type(event.data) is bytes
        assert max_size is None or len(event.data) <= max_size
    elif isinstance(event, (Ping, Pong)):
        assert len(event.payload) <= 125
    elif isinstance(event, CloseReceived):
        assert conn.state is State.CLOSED
    else:
        assert isinstance(event, ConnectionFailed), event
        assert event.code in FAILURE_CODES, event
        assert conn.state is State.CLOSED and conn.close_expected()


def send(conn: WebSocketConnection, wire: list[bytes], sent: list[object], calls: list[object]) -> None:
    """Send a message and a ping, as an application would while receiving."""
    for call, value, event in calls:
        closed = conn.close_sent is not None or conn.state is State.CLOSED
        try:
            wire.append(call(value))
        except ConnectionClosed:
            assert closed
        else:
            sent.append(event)


def run(opts: Options, stream: list[bytes]) -> list[object]:
    """Feed `stream` piece by piece; check every event and what we wrote."""
    conn = opts.connection()
    events: list[Event] = []
    wire: list[bytes] = []
    sent: list[object] = []  # the events the peer must read from `wire`
    ended = False
    for piece in stream:
        new = conn.receive_data(piece)
        if ended:
            assert not new, new
        for event in new:
            assert not ended, f"{event} after the end"
            check_event(event, conn, opts.max_size)
            ended = isinstance(event, (CloseReceived, ConnectionFailed))
        events.extend(new)
        if opts.send:
            send(
                conn,
                wire,
                sent,
                [
                    (conn.send_binary, b"fuzz" * 8, BinaryMessage(b"fuzz" * 8)),
                    (conn.send_text, "\u00e9t\u00e9", TextMessage("\u00e9t\u00e9")),
                    (conn.send_ping, b"p", Ping(b"p")),
                ],
            )
        wire.append(conn.data_to_send())
    if opts.send and not ended:
        wire.append(conn.send_close(4000, "done"))
    eof = conn.receive_eof()
    if ended:
        assert not eof
    else:
        assert eof == [CloseReceived(1006, "")] and conn.state is State.CLOSED
    assert conn.receive_data(b"\x88\x00") == [] and conn.receive_eof() == []
    check_wire(opts, b"".join(wire), events, sent)
    return [normalize(event) for event in events]


def check_wire(opts: Options, wire: bytes, events: list[Event], sent: list[object]) -> None:
    """The peer reads from what we wrote our messages, the pongs owed and our close."""
    peer = opts.peer()
    got = peer.receive_data(wire)
    assert not any(isinstance(event, ConnectionFailed) for event in got), got
    got_messages = [e for e in got if isinstance(e, (TextMessage, BinaryMessage))]
    assert got_messages == [e for e in sent if isinstance(e, (TextMessage, BinaryMessage))]
    closes = [e for e in got if isinstance(e, CloseReceived)]
    assert len(closes) <= 1
    ours = conn_close = None
    for event in events:
        if isinstance(event, ConnectionFailed):
            conn_close = event.code
        elif isinstance(event, CloseReceived):
            conn_close = 1000 if event.code == 1005 else event.code
    if conn_close is not None:
        ours = conn_close
    elif opts.send:
        ours = 4000
    if ours is not None:
        assert closes and closes[0].code == ours, (closes, ours)
    # Every ping received was answered (we never close before the peer's
    # close or our failure, which end the events), in order, with its payload;
    # the pings we sent arrived.
    pongs = [e.payload for e in got if isinstance(e, Pong)]
    assert pongs == [e.payload for e in events if isinstance(e, Ping)], pongs
    pings = [e for e in got if isinstance(e, Ping)]
    assert pings == [e for e in sent if isinstance(e, Ping)], pings


def fuzz(data: bytes) -> None:
    """One run of the harness; an AssertionError or any other exception is a finding."""
    options, seed, stream = options_seed_stream(data)
    opts = Options(options)
    whole = run(opts, [stream])
    split = run(opts, list(chunks(stream, seed)))
    assert whole == split, (whole, split)
