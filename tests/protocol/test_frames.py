"""RFC 6455 section 5: frame parsing and serialization, with literal bytes."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgiws.protocol.errors import InvalidPayloadData, MessageTooBig, WebSocketProtocolError
from asgiws.protocol.extensions import RSV1
from asgiws.protocol.frames import (
    Frame,
    FrameParser,
    Opcode,
    parse_close,
    serialize_close,
    serialize_frame,
)
from asgiws.protocol.mask import apply_mask


def parse_all(data: bytes, **kwargs) -> list[Frame]:
    parser = FrameParser(**kwargs)
    parser.feed(data)
    frames = []
    while (frame := parser.next_frame()) is not None:
        frames.append(frame)
    assert parser.buffered() == 0
    return frames


def parse_bytewise(data: bytes, **kwargs) -> list[Frame]:
    parser = FrameParser(**kwargs)
    frames = []
    for i in range(len(data)):
        parser.feed(data[i : i + 1])
        while (frame := parser.next_frame()) is not None:
            frames.append(frame)
    return frames


# -- section 5.7 examples ----------------------------------------------------

SECTION_5_7 = [
    # (name, wire bytes, masked, frames)
    ("unmasked text", "810548656c6c6f", False, [Frame(Opcode.TEXT, b"Hello")]),
    ("masked text", "818537fa213d7f9f4d5158", True, [Frame(Opcode.TEXT, b"Hello")]),
    (
        "fragmented unmasked text",
        "010348656c" "80026c6f",
        False,
        [Frame(Opcode.TEXT, b"Hel", fin=False), Frame(Opcode.CONTINUATION, b"lo")],
    ),
    ("unmasked ping", "890548656c6c6f", False, [Frame(Opcode.PING, b"Hello")]),
    ("masked pong", "8a8537fa213d7f9f4d5158", True, [Frame(Opcode.PONG, b"Hello")]),
]


@pytest.mark.parametrize("name, hexdata, masked, frames", SECTION_5_7, ids=[c[0] for c in SECTION_5_7])
def test_section_5_7_examples_parse(name: str, hexdata: str, masked: bool, frames: list[Frame]) -> None:
    data = bytes.fromhex(hexdata)
    assert parse_all(data, require_mask=masked) == frames
    assert parse_bytewise(data, require_mask=masked) == frames


@pytest.mark.parametrize(
    "name, hexdata, frames", [(c[0], c[1], c[3]) for c in SECTION_5_7 if not c[2]], ids=lambda v: v
)
def test_section_5_7_unmasked_examples_serialize(name: str, hexdata: str, frames: list[Frame]) -> None:
    assert b"".join(serialize_frame(f, mask=False) for f in frames) == bytes.fromhex(hexdata)


def test_section_5_7_masked_example_serializes_with_a_random_key() -> None:
    data = serialize_frame(Frame(Opcode.TEXT, b"Hello"), mask=True)
    assert data[:2] == b"\x81\x85" and len(data) == 11
    assert apply_mask(data[6:], data[2:6]) == b"Hello"
    keys = {serialize_frame(Frame(Opcode.TEXT, b"Hello"), mask=True)[2:6] for _ in range(8)}
    assert len(keys) > 1  # a fresh random key per frame
    assert parse_all(data, require_mask=True) == [Frame(Opcode.TEXT, b"Hello")]


def test_section_5_7_256_bytes_binary() -> None:
    payload = bytes(range(256))
    data = serialize_frame(Frame(Opcode.BINARY, payload), mask=False)
    assert data[:4] == bytes.fromhex("827e0100")
    assert data[4:] == payload
    assert parse_all(data, require_mask=False) == [Frame(Opcode.BINARY, payload)]


def test_section_5_7_64_kib_binary() -> None:
    payload = b"\x5a" * 65536
    data = serialize_frame(Frame(Opcode.BINARY, payload), mask=False)
    assert data[:10] == bytes.fromhex("827f0000000000010000")
    assert len(data) == 10 + 65536
    assert parse_all(data, require_mask=False) == [Frame(Opcode.BINARY, payload)]


# -- lengths --------------------------------------------------------------------


@pytest.mark.parametrize("n, header_len", [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)])
def test_length_encodings(n: int, header_len: int) -> None:
    data = serialize_frame(Frame(Opcode.BINARY, b"x" * n), mask=False)
    assert len(data) == header_len + n
    assert parse_all(data, require_mask=False) == [Frame(Opcode.BINARY, b"x" * n)]


def test_non_minimal_lengths_are_accepted() -> None:
    # 5 bytes encoded with the 16-bit and then the 64-bit length form.
    assert parse_all(b"\x82\x7e\x00\x05hello", require_mask=False) == [Frame(Opcode.BINARY, b"hello")]
    assert parse_all(b"\x82\x7f" + struct.pack("!Q", 5) + b"hello", require_mask=False) == [
        Frame(Opcode.BINARY, b"hello")
    ]


def test_64_bit_length_with_msb_set_is_rejected() -> None:
    with pytest.raises(WebSocketProtocolError) as info:
        parse_all(b"\x82\x7f" + struct.pack("!Q", 1 << 63), require_mask=False)
    assert info.value.close_code == 1002


# -- errors --------------------------------------------------------------------

ERRORS_1002 = [
    ("unmasked client frame", "810548656c6c6f", True, 0),
    ("masked server frame", "818537fa213d7f9f4d5158", False, 0),
    ("rsv1 without extension", "c10548656c6c6f", False, 0),
    ("rsv2 without extension", "a10548656c6c6f", False, 0),
    ("rsv3 without extension", "910548656c6c6f", False, 0),
    ("rsv2 with an rsv1 extension", "a10548656c6c6f", False, RSV1),
    ("rsv1 on a control frame", "c900", False, RSV1),
    ("opcode 3", "8300", False, 0),
    ("opcode 7", "8700", False, 0),
    ("opcode 0xb", "8b00", False, 0),
    ("opcode 0xf", "8f00", False, 0),
    ("fragmented ping", "0900", False, 0),
    ("fragmented close", "0800", False, 0),
    ("ping of 126 bytes", "897e007e" + "00" * 126, False, 0),
    ("close of 126 bytes (header only)", "887e007e", False, 0),
]


@pytest.mark.parametrize("name, hexdata, require_mask, rsv_bits", ERRORS_1002, ids=[c[0] for c in ERRORS_1002])
def test_protocol_errors(name: str, hexdata: str, require_mask: bool, rsv_bits: int) -> None:
    with pytest.raises(WebSocketProtocolError) as info:
        parse_all(bytes.fromhex(hexdata), require_mask=require_mask, rsv_bits=rsv_bits)
    assert type(info.value) is WebSocketProtocolError
    assert info.value.close_code == 1002


def test_rsv1_accepted_when_an_extension_uses_it() -> None:
    assert parse_all(bytes.fromhex("c10548656c6c6f"), require_mask=False, rsv_bits=RSV1) == [
        Frame(Opcode.TEXT, b"Hello", rsv1=True)
    ]


def test_control_frame_of_125_bytes_is_fine() -> None:
    data = serialize_frame(Frame(Opcode.PING, b"p" * 125), mask=False)
    assert parse_all(data, require_mask=False) == [Frame(Opcode.PING, b"p" * 125)]


def test_max_payload_is_checked_from_the_header_before_the_payload() -> None:
    parser = FrameParser(require_mask=False, max_payload=1000)
    parser.feed(b"\x82\x7e\x03\xe9")  # header of a 1001-byte frame, no payload yet
    with pytest.raises(MessageTooBig) as info:
        parser.next_frame()
    assert info.value.close_code == 1009


def test_max_payload_exact_is_allowed() -> None:
    data = serialize_frame(Frame(Opcode.BINARY, b"x" * 1000), mask=False)
    assert parse_all(data, require_mask=False, max_payload=1000) == [Frame(Opcode.BINARY, b"x" * 1000)]
    with pytest.raises(MessageTooBig):
        parse_all(serialize_frame(Frame(Opcode.BINARY, b"x" * 1001), mask=False), require_mask=False, max_payload=1000)


def test_max_payload_does_not_apply_to_control_frames() -> None:
    data = serialize_frame(Frame(Opcode.PING, b"x" * 100), mask=False)
    assert parse_all(data, require_mask=False, max_payload=10) == [Frame(Opcode.PING, b"x" * 100)]


def test_incomplete_frames_wait_for_more_bytes() -> None:
    parser = FrameParser(require_mask=True)
    data = serialize_frame(Frame(Opcode.BINARY, b"y" * 70000), mask=True)
    for cut in (1, 2, 5, 9, 13, 14, 1000, len(data) - 1):
        parser.clear()
        parser.feed(data[:cut])
        assert parser.next_frame() is None
        parser.feed(data[cut:])
        assert parser.next_frame() == Frame(Opcode.BINARY, b"y" * 70000)
        assert parser.next_frame() is None


def test_feeding_a_reused_bytearray_is_safe() -> None:
    parser = FrameParser(require_mask=False)
    chunk = bytearray(b"\x82\x04ab")
    parser.feed(chunk)
    assert parser.next_frame() is None
    chunk[:] = b"cd\x81\x01"  # the caller reuses its read buffer
    parser.feed(memoryview(chunk))
    assert parser.next_frame() == Frame(Opcode.BINARY, b"abcd")
    parser.feed(b"z")
    assert parser.next_frame() == Frame(Opcode.TEXT, b"z")


# -- close frame body (section 5.5.1, 7.4) ---------------------------------------


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999])
def test_valid_close_codes(code: int) -> None:
    body = serialize_close(code, "bye")
    assert body == code.to_bytes(2, "big") + b"bye"
    assert parse_close(body) == (code, "bye")


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535])
def test_invalid_close_codes(code: int) -> None:
    with pytest.raises(WebSocketProtocolError) as info:
        parse_close(code.to_bytes(2, "big"))
    assert info.value.close_code == 1002
    if code != 1005:
        with pytest.raises(ValueError):
            serialize_close(code)


def test_close_without_body() -> None:
    assert parse_close(b"") == (1005, "")
    assert serialize_close(1005) == b""


def test_close_of_one_byte_is_invalid() -> None:
    with pytest.raises(WebSocketProtocolError) as info:
        parse_close(b"\x03")
    assert info.value.close_code == 1002


def test_close_reason_must_be_utf8() -> None:
    with pytest.raises(InvalidPayloadData) as info:
        parse_close(b"\x03\xe8\xff")
    assert info.value.close_code == 1007


def test_close_reason_too_long_cannot_be_sent() -> None:
    serialize_close(1000, "x" * 123)
    with pytest.raises(ValueError):
        serialize_close(1000, "x" * 124)


# -- round trips --------------------------------------------------------------------

frames_strategy = st.one_of(
    st.builds(
        Frame,
        st.sampled_from([Opcode.CONTINUATION, Opcode.TEXT, Opcode.BINARY]),
        st.binary(max_size=300)
        | st.builds(lambda n, b: b * n, st.integers(65530, 70000), st.binary(min_size=1, max_size=3)),
        st.booleans(),
        st.booleans(),
    ),
    st.builds(Frame, st.sampled_from([Opcode.CLOSE, Opcode.PING, Opcode.PONG]), st.binary(max_size=125)),
)


@settings(max_examples=150, deadline=None)
@given(frames=st.lists(frames_strategy, max_size=5), mask=st.booleans(), data=st.data())
def test_serialize_parse_round_trip(frames: list[Frame], mask: bool, data: st.DataObject) -> None:
    wire = b"".join(serialize_frame(f, mask=mask) for f in frames)
    kwargs = {"require_mask": mask, "rsv_bits": RSV1}
    assert parse_all(wire, **kwargs) == frames
    # Random splits (every split for small inputs).
    if len(wire) <= 64:
        assert parse_bytewise(wire, **kwargs) == frames
    else:
        cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
        parser = FrameParser(**kwargs)
        got = []
        prev = 0
        for cut in [*cuts, len(wire)]:
            parser.feed(wire[prev:cut])
            prev = cut
            while (frame := parser.next_frame()) is not None:
                got.append(frame)
        assert got == frames
