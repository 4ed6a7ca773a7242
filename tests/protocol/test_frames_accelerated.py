"""The C accelerator's frame paths against the pure-Python ones: the same bytes give the same results.

`FrameParser.read_messages` takes only the frames it handles and leaves the
rest to `next_frame`, so a connection reading with it must produce exactly
the events, replies and close codes of one reading without it, whatever the
frames and however the bytes are split. `plain_data_frame` must build the
bytes `serialize_frame` builds.
"""

from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgiws.protocol.connection import Side, WebSocketConnection
from asgiws.protocol.events import Event
from asgiws.protocol.frames import Frame, FrameParser, plain_data_frame, py_plain_data_frame, serialize_frame
from asgiws.protocol.mask import apply_mask

speedups = pytest.importorskip("asgiws.protocol._speedups")


def raw_frame(first_byte: int, payload: bytes, *, masked: bool = True, length_bytes: int = 0) -> bytes:
    """A frame as a peer may send it, including ones our serializer never writes (long length forms)."""
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if length_bytes == 8 or n >= 65536:
        head = bytes((first_byte, mask_bit | 127)) + n.to_bytes(8, "big")
    elif length_bytes == 2 or n >= 126:
        head = bytes((first_byte, mask_bit | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((first_byte, mask_bit | n))
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + apply_mask(payload, key)


def unmasked(replies: bytes) -> list[tuple[int, bytes]]:
    """A client's replies without their random masking keys."""
    parser = FrameParser(require_mask=True)
    parser.feed(replies)
    frames = []
    while (frame := parser.next_frame()) is not None:
        frames.append((frame.opcode, frame.payload))
    return frames


def read_all(side: Side, chunks: list[bytes], *, accelerated: bool, max_size: int | None) -> list[object]:
    """Everything a connection says about `chunks`: events, replies and its final close state."""
    conn = WebSocketConnection(side, max_size=max_size)
    assert conn._read_accelerated  # the C accelerator is built (importorskip above)
    conn._read_accelerated = accelerated
    said: list[object] = []
    for chunk in chunks:
        events: list[Event] = conn.receive_data(chunk)
        said.append(repr(events))  # a ConnectionFailed's error compares by identity; its repr does not
        said.append(unmasked(conn.data_to_send()) if side is Side.CLIENT else conn.data_to_send())
    said.append((conn.state, conn.close_code, conn.close_reason, type(conn.failure)))
    return said


PAYLOADS = [
    b"",
    b"hello",
    "h\u00e9llo w\u00f6rld \u20ac \U0001f600".encode(),
    b"x" * 125,
    b"y" * 126,
    os.urandom(300),
    b"\xff\xfe not UTF-8",
    b"ok \xed\xa0\x80 surrogate",
    b"z" * 70000,
]

frame_specs = st.tuples(
    st.sampled_from([0x81, 0x82, 0x01, 0x02, 0x80, 0x00, 0x89, 0x8A, 0x88, 0xC1, 0x91, 0x83, 0x09]),
    st.integers(0, len(PAYLOADS) - 1),  # an index: keeps failing examples readable
    st.booleans(),  # masked (what the server requires)
    st.sampled_from([0, 0, 0, 2, 8]),  # length form: the shortest, or a longer one than needed
)


@settings(max_examples=300, deadline=None)
@given(
    specs=st.lists(frame_specs, min_size=1, max_size=6),
    cuts=st.lists(st.integers(0, 80000), max_size=5),
    server=st.booleans(),
    max_size=st.sampled_from([None, 200, 65536, 1 << 20]),
)
def test_accelerated_reading_says_exactly_what_the_python_parser_says(
    specs: list[tuple[int, int, bool, int]], cuts: list[int], server: bool, max_size: int | None
) -> None:
    data = b""
    for first_byte, index, masked, length_bytes in specs:
        payload = PAYLOADS[index]
        if first_byte >= 0x88:
            payload = payload[:125] if first_byte != 0x88 else b"\x03\xe8"
        # The client side requires unmasked frames: mostly send what each side expects.
        data += raw_frame(first_byte, payload, masked=masked == server, length_bytes=length_bytes)
    bounds = sorted({0, len(data), *(cut for cut in cuts if cut < len(data))})
    chunks = [data[a:b] for a, b in itertools.pairwise(bounds)]
    side = Side.SERVER if server else Side.CLIENT
    assert read_all(side, chunks, accelerated=True, max_size=max_size) == read_all(
        side, chunks, accelerated=False, max_size=max_size
    )


def test_accelerated_reading_takes_a_burst_of_messages_at_once() -> None:
    conn = WebSocketConnection(Side.SERVER)
    data = b"".join(raw_frame(0x81, f"message {i}".encode()) for i in range(50)) + raw_frame(0x82, b"\x00\x01")
    events = conn.receive_data(data)
    assert [getattr(event, "data", None) for event in events] == [f"message {i}" for i in range(50)] + [b"\x00\x01"]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
@pytest.mark.parametrize("binary", [False, True])
def test_plain_data_frame_is_what_serialize_frame_builds(size: int, binary: bool) -> None:
    if binary:
        payload: str | bytes = os.urandom(size)
        expected = serialize_frame(Frame(2, payload), False)  # type: ignore[arg-type]  # bytes
        assert plain_data_frame(0x82, payload) == expected
        assert plain_data_frame(0x82, bytearray(payload)) == expected
        assert plain_data_frame(0x82, memoryview(payload)) == expected  # type: ignore[arg-type]
    else:
        for text in ("a" * size, ("\u00e9" * size)[:size], ("\U0001f600" * size)[:size]):
            assert plain_data_frame(0x81, text) == serialize_frame(Frame(1, text.encode()), False)


def test_plain_data_frame_without_the_accelerator() -> None:
    assert plain_data_frame is speedups.data_frame
    assert py_plain_data_frame(0x81, "h\u00e9") == serialize_frame(Frame(1, "h\u00e9".encode()), False)
    assert py_plain_data_frame(0x82, b"\x01") == serialize_frame(Frame(2, b"\x01"), False)
    with pytest.raises(TypeError):
        py_plain_data_frame(0x82, "text for a binary frame")


@pytest.mark.parametrize("first_byte", [0xC1, 0xA2, 0x91, 0x01, 0xF2])
def test_plain_data_frame_keeps_the_rsv_and_fin_bits(first_byte: int) -> None:
    bits = [first_byte & bit != 0 for bit in (0x80, 0x40, 0x20, 0x10)]
    expected = serialize_frame(Frame(first_byte & 0x0F, b"\x00\x01", *bits), False)
    assert plain_data_frame(first_byte, b"\x00\x01") == expected
    assert py_plain_data_frame(first_byte, b"\x00\x01") == expected


def test_plain_data_frame_refuses_what_encoding_refuses() -> None:
    for build in (plain_data_frame, py_plain_data_frame):
        with pytest.raises(UnicodeEncodeError):
            build(0x81, "lone \ud800 surrogate")
    with pytest.raises(TypeError):
        plain_data_frame(0x82, "text for a binary frame")  # type: ignore[arg-type]


def test_sent_non_ascii_text_keeps_no_utf8_copy_in_the_str() -> None:
    import sys

    text = "\u00e9" * 1000
    before = sys.getsizeof(text)
    plain_data_frame(0x81, text)
    assert sys.getsizeof(text) == before
