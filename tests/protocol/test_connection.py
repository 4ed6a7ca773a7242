"""The WebSocket connection state machine: messages, fragments, limits, close handshake."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgiws.protocol.connection import Side, State, WebSocketConnection
from asgiws.protocol.errors import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, MessageTooBig
from asgiws.protocol.events import (
    BinaryMessage,
    CloseReceived,
    ConnectionFailed,
    Event,
    Ping,
    Pong,
    TextMessage,
)
from asgiws.protocol.extensions import RSV1, Extension
from asgiws.protocol.frames import Frame, FrameParser, Opcode, serialize_frame
from asgiws.protocol.mask import apply_mask

KEY = b"\x01\x02\x03\x04"


def client_frame(b0: int, payload: bytes = b"", *, masked: bool = True, length: int | None = None) -> bytes:
    """A frame as a client sends it, built by hand so that it can be invalid."""
    n = len(payload) if length is None else length
    m = 0x80 if masked else 0
    if n < 126:
        header = bytes((b0, m | n))
    elif n < 65536:
        header = bytes((b0, m | 126)) + struct.pack("!H", n)
    else:
        header = bytes((b0, m | 127)) + struct.pack("!Q", n)
    if masked:
        return header + KEY + apply_mask(payload, KEY)
    return header + payload


def sent_frames(data: bytes, *, masked: bool = False) -> list[Frame]:
    parser = FrameParser(require_mask=masked)
    parser.feed(data)
    frames = []
    while (frame := parser.next_frame()) is not None:
        frames.append(frame)
    return frames


def close_frame(code: int, reason: bytes = b"") -> bytes:
    return client_frame(0x88, code.to_bytes(2, "big") + reason)


def server(**kwargs) -> WebSocketConnection:
    return WebSocketConnection(Side.SERVER, **kwargs)


def assert_failed(conn: WebSocketConnection, events: list[Event], code: int) -> None:
    assert isinstance(events[-1], ConnectionFailed), events
    assert events[-1].code == code
    assert conn.state is State.CLOSED
    assert conn.close_expected()
    assert sent_frames(conn.data_to_send()) == [Frame(Opcode.CLOSE, code.to_bytes(2, "big"))]
    # Nothing more is processed.
    assert conn.receive_data(client_frame(0x81, b"late")) == []


# -- messages --------------------------------------------------------------------


def test_text_and_binary_messages() -> None:
    conn = server()
    events = conn.receive_data(client_frame(0x81, "café".encode()) + client_frame(0x82, b"\x00\xff"))
    assert events == [TextMessage("café"), BinaryMessage(b"\x00\xff")]
    assert type(events[1].data) is bytes
    assert conn.data_to_send() == b""


def test_fragmented_message_with_control_frames_between_fragments() -> None:
    # RFC 6455 section 5.4: control frames may be injected in the middle of a fragmented message.
    conn = server()
    data = (
        client_frame(0x01, b"Hel")
        + client_frame(0x89, b"ping!")
        + client_frame(0x00, b"l")
        + client_frame(0x8A, b"pong!")
        + client_frame(0x80, b"o")
    )
    assert conn.receive_data(data) == [Ping(b"ping!"), Pong(b"pong!"), TextMessage("Hello")]
    assert sent_frames(conn.data_to_send()) == [Frame(Opcode.PONG, b"ping!")]


def test_many_fragments_have_no_cap() -> None:
    conn = server()
    data = client_frame(0x02, b"a") + client_frame(0x00, b"b") * 5000 + client_frame(0x80, b"c")
    assert conn.receive_data(data) == [BinaryMessage(b"a" + b"b" * 5000 + b"c")]


def test_empty_fragments() -> None:
    conn = server()
    assert conn.receive_data(client_frame(0x01) + client_frame(0x00) + client_frame(0x80)) == [TextMessage("")]


def test_auto_pong() -> None:
    conn = server()
    assert conn.receive_data(client_frame(0x89, b"abc") + client_frame(0x89)) == [Ping(b"abc"), Ping(b"")]
    assert sent_frames(conn.data_to_send()) == [Frame(Opcode.PONG, b"abc"), Frame(Opcode.PONG, b"")]
    assert conn.data_to_send() == b""


def test_client_side_masks_and_requires_unmasked_frames() -> None:
    client = WebSocketConnection(Side.CLIENT)
    data = client.send_text("hi")
    assert data[1] & 0x80
    assert client.receive_data(b"\x81\x02hi") == [TextMessage("hi")]
    events = client.receive_data(b"\x81\x82" + KEY + apply_mask(b"hi", KEY))
    assert isinstance(events[-1], ConnectionFailed) and events[-1].code == 1002


def test_server_side_does_not_mask() -> None:
    assert server().send_binary(b"ab") == b"\x82\x02ab"
    assert server().send_text("é") == b"\x81\x02\xc3\xa9"
    assert server().send_ping(b"p") == b"\x89\x01p"
    assert server().send_pong(b"p") == b"\x8a\x01p"


# -- 1002 ---------------------------------------------------------------------------

PROTOCOL_ERRORS = [
    ("unmasked frame from client", client_frame(0x81, b"hi", masked=False)),
    ("rsv1 without extension", client_frame(0xC1, b"hi")),
    ("rsv2 without extension", client_frame(0xA1, b"hi")),
    ("rsv3 without extension", client_frame(0x91, b"hi")),
    ("reserved data opcode", client_frame(0x83, b"hi")),
    ("reserved control opcode", client_frame(0x8B, b"hi")),
    ("fragmented ping", client_frame(0x09, b"hi")),
    ("fragmented close", client_frame(0x08, b"\x03\xe8")),
    ("ping longer than 125", client_frame(0x89, b"x" * 126)),
    ("close longer than 125", client_frame(0x88, b"\x03\xe8" + b"x" * 124)),
    ("continuation without a message", client_frame(0x80, b"hi")),
    ("text inside a fragmented message", client_frame(0x01, b"a") + client_frame(0x81, b"b")),
    ("binary inside a fragmented message", client_frame(0x02, b"a") + client_frame(0x02, b"b")),
    ("close with a 1-byte payload", client_frame(0x88, b"\x03")),
    ("64-bit length with the MSB set", client_frame(0x82, length=1 << 63)[:14]),
] + [(f"close code {code}", close_frame(code)) for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000)]


@pytest.mark.parametrize("name, data", PROTOCOL_ERRORS, ids=[c[0] for c in PROTOCOL_ERRORS])
def test_protocol_errors_fail_with_1002(name: str, data: bytes) -> None:
    conn = server()
    events = conn.receive_data(data)
    assert_failed(conn, events, 1002)


def test_messages_before_an_error_are_not_lost() -> None:
    conn = server()
    events = conn.receive_data(client_frame(0x81, b"one") + client_frame(0x82, b"two") + client_frame(0x83))
    assert events[:2] == [TextMessage("one"), BinaryMessage(b"two")]
    assert_failed(conn, events, 1002)


def test_answers_to_messages_before_an_error_can_precede_the_failing_close() -> None:
    # Autobahn 3.2, 4.1.3...: the echo of a valid message, then the close 1002.
    conn = server()
    events = conn.receive_data(client_frame(0x81, b"one") + client_frame(0x83))
    assert events[0] == TextMessage("one")
    answer = conn.send_text("one")
    assert sent_frames(conn.data_to_send()) == [Frame(Opcode.CLOSE, (1002).to_bytes(2, "big"))]
    assert sent_frames(answer) == [Frame(Opcode.TEXT, b"one")]
    with pytest.raises(ConnectionClosed):
        conn.send_text("too late: the close frame was handed out")


def test_error_split_across_receive_calls() -> None:
    conn = server()
    data = client_frame(0x81, b"ok") + client_frame(0x80, b"bad")
    events = []
    for i in range(len(data)):
        events += conn.receive_data(data[i : i + 1])
    assert events[0] == TextMessage("ok")
    assert events[1].code == 1002 and len(events) == 2


# -- 1007 -------------------------------------------------------------------------


def test_invalid_utf8_text_fails_with_1007() -> None:
    conn = server()
    assert_failed(conn, conn.receive_data(client_frame(0x81, b"caf\xe9")), 1007)


def test_invalid_utf8_detected_on_the_first_bad_fragment() -> None:
    conn = server()
    assert conn.receive_data(client_frame(0x01, b"valid ")) == []
    # The message is not finished, yet the bad byte fails the connection at once.
    events = conn.receive_data(client_frame(0x00, b"\xc3\x28 and more to come"))
    assert_failed(conn, events, 1007)


@pytest.mark.parametrize(
    "bad",
    [b"\xc0", b"\xf5", b"\xe0\x80", b"\xf4\x90", b"\xed\xa0", b"\xce\xba\xf4\x90"],
    ids=["c0", "f5", "overlong e0", "above U+10FFFF", "surrogate", "after valid text"],
)
def test_invalid_utf8_prefix_fails_before_the_code_point_ends(bad: bytes) -> None:
    # Autobahn 6.4: fail on the first byte that cannot start or continue a valid sequence.
    conn = server()
    assert_failed(conn, conn.receive_data(client_frame(0x01, bad)), 1007)


def test_invalid_utf8_detected_before_a_single_frame_is_complete() -> None:
    # Autobahn 6.4.3: one text frame arriving in chops; fail on the chop with the bad byte.
    conn = server()
    data = client_frame(0x81, "κόσμε".encode() + b"\xf4\x90\x80\x80" + b"edited" * 10)
    assert conn.receive_data(data[:10]) == []
    assert conn.receive_data(data[10:13]) == []
    assert_failed(conn, conn.receive_data(data[13:20]), 1007)


def test_invalid_utf8_detected_in_an_incomplete_continuation_frame() -> None:
    conn = server()
    snowman = "☃".encode()
    assert conn.receive_data(client_frame(0x01, b"ok" + snowman[:1])) == []
    frame = client_frame(0x80, snowman[1:] + b"fine" + b"\xed\xa0\x80" + b"x" * 50)
    assert conn.receive_data(frame[:9]) == []  # header, mask key, "\x98\x83fi"
    assert_failed(conn, conn.receive_data(frame[9:16]), 1007)


@settings(max_examples=50, deadline=None)
@given(text=st.text(max_size=60), cuts=st.lists(st.integers(0, 200), max_size=6), fragmented=st.booleans())
def test_valid_text_in_any_chops_is_accepted(text: str, cuts: list[int], fragmented: bool) -> None:
    payload = text.encode()
    if fragmented:
        half = len(payload) // 2
        data = client_frame(0x01, payload[:half]) + client_frame(0x80, payload[half:])
    else:
        data = client_frame(0x81, payload)
    assert deliver(data, server(), [c % (len(data) + 1) for c in cuts]) == [TextMessage(text)]


def test_utf8_code_point_split_across_fragments_is_fine() -> None:
    conn = server()
    snowman = "☃".encode()
    data = client_frame(0x01, snowman[:1]) + client_frame(0x00, snowman[1:2]) + client_frame(0x80, snowman[2:])
    assert conn.receive_data(data) == [TextMessage("☃")]


def test_truncated_utf8_at_the_end_of_a_fragmented_message_fails() -> None:
    conn = server()
    events = conn.receive_data(client_frame(0x01, b"a") + client_frame(0x80, "☃".encode()[:2]))
    assert_failed(conn, events, 1007)


def test_invalid_utf8_in_close_reason_fails_with_1007() -> None:
    conn = server()
    assert_failed(conn, conn.receive_data(close_frame(1000, b"\xff")), 1007)


# -- 1009 ---------------------------------------------------------------------------


def test_exactly_max_size_is_allowed_and_one_more_fails() -> None:
    conn = server(max_size=1000)
    assert conn.receive_data(client_frame(0x82, b"x" * 1000)) == [BinaryMessage(b"x" * 1000)]
    assert conn.receive_data(client_frame(0x81, b"y" * 1000)) == [TextMessage("y" * 1000)]
    assert_failed(conn, conn.receive_data(client_frame(0x82, b"x" * 1001)), 1009)


def test_max_size_checked_from_the_header_before_the_payload() -> None:
    conn = server(max_size=1000)
    # Only the header of a 1 MiB frame: failed already.
    assert_failed(conn, conn.receive_data(client_frame(0x82, length=2**20)[:14]), 1009)


def test_max_size_applies_to_reassembled_fragments() -> None:
    conn = server(max_size=1000)
    ok = client_frame(0x02, b"x" * 500) + client_frame(0x00, b"x" * 499) + client_frame(0x80, b"x")
    assert conn.receive_data(ok) == [BinaryMessage(b"x" * 1000)]
    assert conn.receive_data(client_frame(0x01, b"x" * 500) + client_frame(0x00, b"x" * 500)) == []
    # The header of one more byte is enough to fail.
    assert_failed(conn, conn.receive_data(client_frame(0x80, b"x")[:2]), 1009)


def test_no_max_size() -> None:
    conn = server(max_size=None)
    assert conn.receive_data(client_frame(0x82, b"z" * 70000)) == [BinaryMessage(b"z" * 70000)]


def test_control_frames_do_not_count_towards_max_size() -> None:
    conn = server(max_size=10)
    assert conn.receive_data(client_frame(0x89, b"p" * 100)) == [Ping(b"p" * 100)]


# -- close handshake -----------------------------------------------------------------


def test_peer_initiated_close_is_echoed() -> None:
    conn = server()
    events = conn.receive_data(close_frame(1001, b"going"))
    assert events == [CloseReceived(1001, "going")]
    assert sent_frames(conn.data_to_send()) == [Frame(Opcode.CLOSE, b"\x03\xe9")]
    assert conn.state is State.CLOSED
    assert (conn.close_code, conn.close_reason, conn.close_sent) == (1001, "going", (1001, ""))
    assert conn.close_expected()  # the server closes TCP first


def test_close_without_code_is_answered_with_1000() -> None:
    conn = server()
    assert conn.receive_data(client_frame(0x88)) == [CloseReceived(1005, "")]
    assert sent_frames(conn.data_to_send()) == [Frame(Opcode.CLOSE, b"\x03\xe8")]


def test_frames_after_close_are_ignored() -> None:
    conn = server()
    events = conn.receive_data(close_frame(1000) + client_frame(0x81, b"after") + b"garbage")
    assert events == [CloseReceived(1000, "")]
    assert conn.receive_data(client_frame(0x81, b"later")) == []


def test_locally_initiated_close() -> None:
    conn = server()
    assert sent_frames(conn.send_close(4000, "done")) == [Frame(Opcode.CLOSE, b"\x0f\xa0done")]
    assert conn.state is State.CLOSING
    assert not conn.close_expected()
    # Data frames after our close are ignored, pings are not answered, the close is read.
    events = conn.receive_data(client_frame(0x81, b"ignored") + client_frame(0x89, b"p") + close_frame(4000))
    assert events == [Ping(b"p"), CloseReceived(4000, "")]
    assert conn.data_to_send() == b""
    assert conn.state is State.CLOSED
    assert conn.close_expected()


def test_client_waits_for_the_server_to_close_tcp() -> None:
    client = WebSocketConnection(Side.CLIENT)
    client.send_close()
    assert client.receive_data(b"\x88\x02\x03\xe8") == [CloseReceived(1000, "")]
    assert client.state is State.CLOSED
    assert not client.close_expected()
    assert client.receive_eof() == []
    assert client.close_expected()


def test_send_after_close_raises_connection_closed() -> None:
    conn = server()
    conn.send_close()
    for send in (lambda: conn.send_text("x"), lambda: conn.send_binary(b"x"), conn.send_ping, conn.send_close):
        with pytest.raises(ConnectionClosed) as info:
            send()
        assert isinstance(info.value, OSError)


def test_send_after_peer_close_raises_with_the_received_code() -> None:
    conn = server()
    conn.receive_data(close_frame(1001, b"bye"))
    with pytest.raises(ConnectionClosedOK) as info:
        conn.send_text("x")
    assert (info.value.code, info.value.reason) == (1001, "bye")
    conn = server()
    conn.receive_data(close_frame(4001))
    with pytest.raises(ConnectionClosedError):
        conn.send_binary(b"x")


def test_send_after_failure_raises() -> None:
    conn = server()
    conn.receive_data(client_frame(0x83))
    conn.data_to_send()  # the failing close frame is on its way
    with pytest.raises(ConnectionClosedError):
        conn.send_text("x")


def test_a_failed_connection_closes_with_the_code_it_was_failed_with() -> None:
    """What the asyncio layer tells the app and the client's user: 1002 here, not 1006."""
    conn = server()
    conn.receive_data(client_frame(0x83))
    assert (conn.state, conn.close_code, conn.close_reason) == (State.CLOSED, 1002, "")


def test_send_after_our_close_raises_with_our_code() -> None:
    conn = server()
    conn.send_close(4001, "mine")
    with pytest.raises(ConnectionClosedError) as info:
        conn.send_text("x")
    assert (info.value.code, info.value.reason) == (4001, "mine")


@pytest.mark.parametrize("side", [Side.SERVER, Side.CLIENT])
def test_fail_sends_a_close_and_is_closed_at_once(side: Side) -> None:
    """A keep-alive timeout: our close with 1011, nothing more received, TCP to be closed by either side."""
    conn = WebSocketConnection(side)
    frames = sent_frames(conn.fail(1011, "keepalive ping timeout"), masked=side == Side.CLIENT)
    assert frames == [Frame(Opcode.CLOSE, b"\x03\xf3keepalive ping timeout")]
    assert (conn.state, conn.close_code, conn.close_reason) == (State.CLOSED, 1011, "keepalive ping timeout")
    assert conn.close_expected()
    with pytest.raises(ConnectionClosedError):
        conn.send_text("x")
    with pytest.raises(ConnectionClosedError):
        conn.fail(1011)
    assert conn.receive_eof() == []
    assert conn.close_code == 1011


def test_state_changes_only_along_the_close_handshake() -> None:
    conn = server()
    conn.send_close()
    with pytest.raises(RuntimeError):
        conn._enter(State.OPEN)
    conn.receive_data(close_frame(1000))
    for state in State:
        with pytest.raises(RuntimeError):
            conn._enter(state)


def test_send_close_rejects_invalid_codes() -> None:
    with pytest.raises(ValueError):
        server().send_close(1006)
    assert server().send_close(1005) == b"\x88\x00"


def test_eof_without_close() -> None:
    conn = server()
    conn.receive_data(client_frame(0x01, b"partial"))
    assert conn.receive_eof() == [CloseReceived(1006, "")]
    assert (conn.state, conn.close_code) == (State.CLOSED, 1006)
    assert conn.close_expected()
    assert conn.receive_eof() == []
    assert conn.receive_data(client_frame(0x81, b"x")) == []


# -- extensions ------------------------------------------------------------------------


class ReverseExtension(Extension):
    """A toy extension: RSV1 marks a message whose frames' payloads are reversed."""

    name = "x-reverse"
    rsv_bits = RSV1

    def __init__(self) -> None:
        self.budgets: list[int | None] = []

    def decode(self, frame: Frame, *, max_size: int | None) -> Frame:
        self.budgets.append(max_size)
        if not frame.rsv1:
            return frame
        payload = frame.payload[::-1] * 2  # "inflates" to twice the size
        if max_size is not None and len(payload) > max_size:
            raise MessageTooBig("too big")
        return Frame(frame.opcode, payload, frame.fin)

    def encode(self, frame: Frame) -> Frame:
        return Frame(frame.opcode, frame.payload[::-1], frame.fin, rsv1=True)


def test_extension_encode_and_decode() -> None:
    client = WebSocketConnection(Side.CLIENT, extensions=[ReverseExtension()])
    ext = ReverseExtension()
    conn = server(extensions=[ext], max_size=100)
    assert conn.receive_data(client.send_text("abc")) == [TextMessage("abcabc")]
    # Budget is what is left of the message.
    assert conn.receive_data(client_frame(0x41, b"ab") + client_frame(0x00, b"cd") + client_frame(0x80, b"e")) == [
        TextMessage("babacde")
    ]
    assert ext.budgets == [100, 100, 96, 94]
    # A new message gets the whole budget again.
    assert conn.receive_data(client_frame(0xC2, b"x" * 50)) == [BinaryMessage(b"x" * 100)]
    assert ext.budgets[-1] == 100


def test_extension_max_size_after_decoding() -> None:
    conn = server(extensions=[ReverseExtension()], max_size=100)
    assert conn.receive_data(client_frame(0xC2, b"x" * 50)) == [BinaryMessage(b"x" * 100)]
    assert_failed(conn, conn.receive_data(client_frame(0xC2, b"x" * 51)), 1009)


# -- property tests ----------------------------------------------------------------------

message_strategy = st.one_of(st.text(max_size=200), st.binary(max_size=200))


def deliver(data: bytes, receiver: WebSocketConnection, cuts: list[int]) -> list[Event]:
    events: list[Event] = []
    prev = 0
    for cut in [*sorted(cuts), len(data)]:
        events += receiver.receive_data(data[prev:cut])
        prev = cut
    return events


@settings(max_examples=100, deadline=None)
@given(messages=st.lists(message_strategy, max_size=6), data=st.data())
def test_messages_round_trip_both_ways(messages: list, data: st.DataObject) -> None:
    client = WebSocketConnection(Side.CLIENT)
    srv = server()
    expected = [TextMessage(m) if isinstance(m, str) else BinaryMessage(m) for m in messages]
    for sender, receiver in ((client, srv), (srv, client)):
        wire = b"".join(sender.send_text(m) if isinstance(m, str) else sender.send_binary(m) for m in messages)
        if len(wire) <= 200:
            cuts = list(range(len(wire)))  # every byte boundary
        else:
            cuts = data.draw(st.lists(st.integers(0, len(wire)), max_size=20))
        assert deliver(wire, receiver, cuts) == expected
    # Close handshake, client first.
    assert srv.receive_data(client.send_close(1000, "bye")) == [CloseReceived(1000, "bye")]
    assert client.receive_data(srv.data_to_send()) == [CloseReceived(1000, "")]
    assert srv.close_expected() and not client.close_expected()


@settings(max_examples=50, deadline=None)
@given(text=st.text(min_size=1, max_size=100), sizes=st.lists(st.integers(0, 10), min_size=1, max_size=10))
def test_fragmented_text_round_trip(text: str, sizes: list[int]) -> None:
    payload = text.encode()
    frames = []
    pos = 0
    for size in sizes:
        frames.append(payload[pos : pos + size])
        pos += size
    frames.append(payload[pos:])
    data = b"".join(
        serialize_frame(Frame(Opcode.TEXT if i == 0 else Opcode.CONTINUATION, chunk, i == len(frames) - 1), mask=True)
        for i, chunk in enumerate(frames)
    )
    assert server().receive_data(data) == [TextMessage(text)]


def valid_stream() -> bytes:
    parts = [
        client_frame(0x81, "héllo".encode()),
        client_frame(0x01, b"fra") + client_frame(0x89, b"p") + client_frame(0x80, b"g"),
        client_frame(0x82, os.urandom(300)),
        close_frame(1000, b"bye"),
    ]
    return b"".join(parts)


def check_only_events(conn: WebSocketConnection, chunks: list[bytes]) -> None:
    for chunk in chunks:
        events = conn.receive_data(chunk)
        assert all(isinstance(e, Event) for e in events)
        assert isinstance(conn.data_to_send(), bytes)
        if any(isinstance(e, ConnectionFailed) for e in events):
            assert conn.state is State.CLOSED
    conn.receive_eof()
    assert conn.state is State.CLOSED


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    chunks=st.lists(st.binary(max_size=64), max_size=10),
    max_size=st.sampled_from([None, 0, 5, 1000]),
    side=st.sampled_from([Side.SERVER, Side.CLIENT]),
)
def test_fuzz_random_bytes_only_produce_events(chunks: list[bytes], max_size: int | None, side: Side) -> None:
    check_only_events(WebSocketConnection(side, max_size=max_size), chunks)


@settings(max_examples=200, deadline=None)
@given(
    mutations=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4),
    cut=st.integers(0, 10**6),
)
def test_fuzz_mutated_valid_stream_only_produces_events(mutations: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(valid_stream())
    for where, value in mutations:
        data[where % len(data)] = value
    cut %= len(data)
    check_only_events(server(max_size=200), [bytes(data[:cut]), bytes(data[cut:])])
