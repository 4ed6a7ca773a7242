"""Harness: the WebSocket frame parser (`asgiws.protocol.frames`).

Input: an options byte (masking required or forbidden, the RSV bits an
extension negotiated, the payload limit), a split seed, then the bytes the
peer sends.

Properties:

* the only exception is a `WebSocketProtocolError` (1002), `InvalidPayloadData`
  (1007) or `MessageTooBig` (1009);
* every frame it yields is one RFC 6455 section 5 allows under those
  options, and serializes back to a frame that parses the same;
* a close frame's body is either refused with 1002/1007 or round-trips
  through `parse_close` / `serialize_close`;
* the same bytes give the same frames and the same error whatever the
  reads; the parser never holds more than it was fed.
"""

from __future__ import annotations

from asgiws.protocol.errors import WebSocketProtocolError
from asgiws.protocol.frames import Frame, FrameParser, Opcode, parse_close, serialize_close, serialize_frame

from .reader import chunks, options_seed_stream

#: Close codes a frame or message error may carry (RFC 6455 section 7.4.1).
CLOSE_CODES = frozenset({1002, 1007, 1009})

MAX_PAYLOADS = (None, 0, 125, 1000)


def make_parser(options: int) -> FrameParser:
    """A parser whose masking, RSV bits and payload limit `options` picks."""
    return FrameParser(
        require_mask=bool(options & 1),
        rsv_bits=options & 0x70,
        max_payload=MAX_PAYLOADS[options >> 1 & 3],
    )


def check_frame(frame: Frame, parser: FrameParser) -> None:
    """A frame the parser yields obeys section 5 under the parser's options."""
    assert frame.opcode in Opcode._value2member_map_
    rsv = frame.rsv1 << 6 | frame.rsv2 << 5 | frame.rsv3 << 4
    assert not rsv & ~parser.rsv_bits
    if frame.opcode >= 8:
        assert frame.fin and len(frame.payload) <= 125 and not rsv
    elif parser.max_payload is not None:
        assert len(frame.payload) <= parser.max_payload
    again = FrameParser(require_mask=parser.require_mask, rsv_bits=parser.rsv_bits)
    again.feed(serialize_frame(frame, mask=parser.require_mask))
    assert again.next_frame() == frame and again.buffered() == 0
    if frame.opcode == Opcode.CLOSE:
        check_close(frame.payload)


def check_close(payload: bytes) -> None:
    """A close body is refused with 1002/1007, or round-trips."""
    try:
        code, reason = parse_close(payload)
    except WebSocketProtocolError as exc:
        assert exc.close_code in (1002, 1007), exc
        return
    assert serialize_close(code, reason) == payload


def parse(stream: list[bytes], parser: FrameParser) -> list[object]:
    """Feed `stream` piece by piece; the frames, and the close code that ended it, if any."""
    out: list[object] = []
    fed = 0
    for piece in stream:
        fed += len(piece)
        parser.feed(piece)
        assert parser.buffered() <= fed
        while True:
            try:
                frame = parser.next_frame()
            except WebSocketProtocolError as exc:
                assert exc.close_code in CLOSE_CODES, exc
                out.append(exc.close_code)
                return out
            if frame is None:
                break
            check_frame(frame, parser)
            out.append(frame)
            assert len(out) <= fed // 2, "frames without input"
    return out


def fuzz(data: bytes) -> None:
    """One run of the harness; an AssertionError or any other exception is a finding."""
    options, seed, stream = options_seed_stream(data)
    whole = parse([stream], make_parser(options))
    split = parse(list(chunks(stream, seed)), make_parser(options))
    assert whole == split, (whole, split)
