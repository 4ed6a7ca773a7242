"""RFC 6455 section 5: WebSocket frames.

`Frame` is one frame, unmasked. `FrameParser` turns bytes (fed in any split)
into frames and enforces what RFC 6455 section 5 requires of a single frame:
known opcodes, masking by the client only, RSV bits only when an extension
negotiated them, control frames short and unfragmented, a payload length
within the budget the connection allows (checked from the header, before
the payload is buffered). `serialize_frame` is the other direction.
`parse_close` / `serialize_close` handle the close frame body (section 5.5.1).
With the C accelerator (`ACCELERATED`), `FrameParser.read_messages` takes the
common case (whole unfragmented messages, no extension) without a `Frame`,
and `plain_data_frame` builds a server's frame in one allocation.

Rules that span frames (fragmentation, UTF-8 of a message, the close
handshake) belong to `asgiws.protocol.connection`.
"""

from __future__ import annotations

import enum
import os
import struct
from collections.abc import Callable
from typing import Any

from .errors import InvalidPayloadData, MessageTooBig, WebSocketProtocolError
from .mask import apply_mask

try:
    from ._speedups import data_frame as _data_frame
    from ._speedups import read_messages as _read_messages
except ImportError:  # no compiler when installed: every frame takes the pure-Python path
    _data_frame = _read_messages = None  # type: ignore[assignment]  # None marks the fallback

#: Whether the C accelerator's frame paths (`FrameParser.read_messages`, `plain_data_frame`) exist.
ACCELERATED = _read_messages is not None

__all__ = [
    "Opcode",
    "Frame",
    "FrameParser",
    "ACCELERATED",
    "plain_data_frame",
    "py_plain_data_frame",
    "serialize_frame",
    "parse_close",
    "serialize_close",
    "is_valid_close_code",
]


class Opcode(enum.IntEnum):
    """Frame opcodes, RFC 6455 section 5.2."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


class Frame:
    """One WebSocket frame, unmasked: what the parser yields and the serializer takes."""

    __slots__ = ("opcode", "payload", "fin", "rsv1", "rsv2", "rsv3")

    def __init__(
        self,
        opcode: int,
        payload: bytes,
        fin: bool = True,
        rsv1: bool = False,
        rsv2: bool = False,
        rsv3: bool = False,
    ) -> None:
        self.opcode = opcode
        self.payload = payload
        self.fin = fin
        self.rsv1 = rsv1
        self.rsv2 = rsv2
        self.rsv3 = rsv3

    def __repr__(self) -> str:
        return (
            f"Frame(opcode={self.opcode!r}, payload={self.payload[:32]!r}{'...' if len(self.payload) > 32 else ''}, "
            f"fin={self.fin}, rsv1={self.rsv1}, rsv2={self.rsv2}, rsv3={self.rsv3})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frame):
            return NotImplemented
        return (self.opcode, self.payload, self.fin, self.rsv1, self.rsv2, self.rsv3) == (
            other.opcode,
            other.payload,
            other.fin,
            other.rsv1,
            other.rsv2,
            other.rsv3,
        )


# Opcode by its 4-bit value; None for the reserved ones (RFC 6455 section 5.2).
_OPCODES: tuple[Opcode | None, ...] = tuple(
    Opcode(v) if v in Opcode._value2member_map_ else None for v in range(16)
)

_unpack_16 = struct.Struct("!H").unpack_from
_unpack_64 = struct.Struct("!Q").unpack_from
_pack_16 = struct.Struct("!BBH").pack
_pack_64 = struct.Struct("!BBQ").pack
_urandom = os.urandom


class FrameParser:
    """Incremental RFC 6455 frame parser: `feed()` bytes, then call `next_frame()` until None.

    `require_mask` is True on the server side (client frames must be masked)
    and False on the client side (server frames must not be). `rsv_bits` are
    the RSV bits the negotiated extensions use (see extensions.py).
    `max_payload` caps the payload length of a data frame, read from the
    header: the connection keeps it at the budget left for the current
    message, so an oversized frame fails with 1009 before it is buffered.
    Errors are `WebSocketProtocolError` subclasses carrying the close code.
    """

    __slots__ = (
        "require_mask",
        "rsv_bits",
        "max_payload",
        "partial_op",
        "partial_head",
        "partial_fresh",
        "_buf",
        "_pos",
        "_need",
    )

    def __init__(self, *, require_mask: bool, rsv_bits: int = 0, max_payload: int | None = None) -> None:
        self.require_mask = require_mask
        self.rsv_bits = rsv_bits
        self.max_payload = max_payload
        self._buf: bytes | bytearray = b""
        self._pos = 0
        # Bytes needed from _pos before a frame can be complete: skips
        # re-parsing the header while a big payload trickles in.
        self._need = 2
        # A frame whose header is parsed but whose payload is still arriving:
        # its opcode, its header length (0: no such frame) and whether it is
        # new since the last look. Lets the connection check UTF-8 early.
        self.partial_op = 0
        self.partial_head = 0
        self.partial_fresh = False

    def feed(self, data: bytes) -> None:
        """Append received bytes (copied if not `bytes`: the caller may reuse its buffer)."""
        if type(data) is not bytes:
            data = bytes(data)
        buf = self._buf
        pos = self._pos
        if pos >= len(buf):
            # Nothing pending (the usual case): parse `data` in place, no copy.
            self._buf = data
            self._pos = 0
        elif type(buf) is bytearray:
            if pos:
                del buf[:pos]  # cheap: bytearray moves its start pointer
                self._pos = 0
            buf += data
        else:
            nbuf = bytearray(buf[pos:] if pos else buf)
            nbuf += data
            self._buf = nbuf
            self._pos = 0

    def buffered(self) -> int:
        """Number of received bytes not yet returned as frames."""
        return len(self._buf) - self._pos

    def clear(self) -> None:
        """Drop buffered bytes (after the connection closed or failed)."""
        self._buf = b""
        self._pos = 0
        self._need = 2
        self.partial_head = 0

    def partial_payload(self, start: int) -> bytes:
        """Unmasked payload of the incomplete frame received so far, from offset `start`."""
        buf = self._buf
        payload_start = self._pos + self.partial_head
        if not self.require_mask:
            return bytes(memoryview(buf)[payload_start + start :])
        key = bytes(buf[payload_start - 4 : payload_start])
        phase = start & 3
        if phase:
            key = key[phase:] + key[:phase]
        return apply_mask(memoryview(buf)[payload_start + start :], key)

    def read_messages(
        self, events: list[Any], text_event: Callable[[str], Any], binary_event: Callable[[bytes], Any]
    ) -> bool:
        """Append the complete, unfragmented data frames without RSV bits at the front as events.

        Only with the C accelerator (`ACCELERATED`), and only for a
        connection without extensions and outside a fragmented message:
        each payload is unmasked straight into its str or bytes, with no
        `Frame` in between. It stops at the first frame it does not take
        (control, fragmented, over `max_payload`, invalid UTF-8, incomplete),
        which `next_frame` then parses and judges. Returns whether bytes are
        left for it.
        """
        buf = self._buf
        pos = self._pos
        if len(buf) - pos < self._need:
            return True
        max_payload = self.max_payload
        end = _read_messages(
            buf, pos, self.require_mask, -1 if max_payload is None else max_payload, events, text_event, binary_event
        )
        if end != pos:
            self._pos = end
            self._need = 2
            self.partial_head = 0
        return end < len(buf)

    def next_frame(self) -> Frame | None:
        """The next complete frame, or None when more bytes are needed."""
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail < self._need:
            return None
        b0 = buf[pos]
        b1 = buf[pos + 1]
        opcode = _OPCODES[b0 & 0x0F]
        if opcode is None:
            raise WebSocketProtocolError(f"reserved opcode {b0 & 0x0F:#x}")
        rsv = b0 & 0x70
        if rsv and (rsv & ~self.rsv_bits or opcode >= 8):
            raise WebSocketProtocolError("reserved bits set without an extension that uses them")
        masked = b1 & 0x80
        if (not masked) is self.require_mask:
            raise WebSocketProtocolError(
                "client frame is not masked" if self.require_mask else "server frame is masked"
            )
        length = b1 & 0x7F
        head = 2
        if length == 126:
            if avail < 4:
                self._need = 4
                return None
            length = _unpack_16(buf, pos + 2)[0]
            head = 4
        elif length == 127:
            if avail < 10:
                self._need = 10
                return None
            length = _unpack_64(buf, pos + 2)[0]
            if length >> 63:
                raise WebSocketProtocolError("64-bit payload length with the most significant bit set")
            head = 10
        if opcode >= 8:
            # RFC 6455 section 5.5: control frames are short and never fragmented.
            if length > 125:
                raise WebSocketProtocolError("control frame payload longer than 125 bytes")
            if not b0 & 0x80:
                raise WebSocketProtocolError("fragmented control frame")
        elif self.max_payload is not None and length > self.max_payload:
            raise MessageTooBig(f"frame payload of {length} bytes exceeds the limit")
        if masked:
            head += 4
        end = pos + head + length
        if avail < head:
            self._need = head
            return None
        if avail < head + length:
            self._need = head + length
            self.partial_op = opcode
            self.partial_head = head
            self.partial_fresh = True
            return None
        self._need = 2
        self.partial_head = 0
        self._pos = end
        start = end - length
        if masked:
            payload = apply_mask(memoryview(buf)[start:end], buf[start - 4 : start])
        elif type(buf) is bytes:
            payload = buf[start:end]
        else:
            payload = bytes(memoryview(buf)[start:end])
        return Frame(opcode, payload, b0 & 0x80 != 0, b0 & 0x40 != 0, b0 & 0x20 != 0, b0 & 0x10 != 0)


def py_plain_data_frame(first_byte: int, payload: str | bytes) -> bytes:
    """An unmasked data frame (`first_byte`: FIN, RSV bits and opcode); a str is encoded into it."""
    if isinstance(payload, str):
        if first_byte & 0x0F != 1:
            raise TypeError("a str payload needs the text opcode")
        payload = payload.encode()
    fin, rsv1, rsv2, rsv3 = (first_byte & bit != 0 for bit in (0x80, 0x40, 0x20, 0x10))
    return serialize_frame(Frame(first_byte & 0x0F, bytes(payload), fin, rsv1, rsv2, rsv3), False)


#: `py_plain_data_frame`, built by the C accelerator in one allocation when it exists.
plain_data_frame: Callable[[int, str | bytes], bytes] = _data_frame if _data_frame is not None else py_plain_data_frame


def serialize_frame(frame: Frame, mask: bool) -> bytes:
    """The bytes of `frame` on the wire; `mask` is True on the client side (random key)."""
    payload = frame.payload
    b0 = frame.opcode | (0x80 if frame.fin else 0)
    if frame.rsv1:
        b0 |= 0x40
    if frame.rsv2:
        b0 |= 0x20
    if frame.rsv3:
        b0 |= 0x10
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        header = bytes((b0, n | m))
    elif n < 65536:
        header = _pack_16(b0, 126 | m, n)
    else:
        header = _pack_64(b0, 127 | m, n)
    if mask:
        key = _urandom(4)
        return header + key + apply_mask(payload, key)
    return header + payload


def is_valid_close_code(code: int) -> bool:
    """Whether `code` may appear in a close frame (RFC 6455 section 7.4, IANA registry)."""
    # 1004 is reserved; 1005, 1006 and 1015 must never be sent on the wire.
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def parse_close(payload: bytes) -> tuple[int, str]:
    """Code and reason of a close frame body; (1005, "") when it is empty (section 7.1.5)."""
    n = len(payload)
    if n == 0:
        return 1005, ""
    if n == 1:
        raise WebSocketProtocolError("close frame with a 1-byte payload")
    code = (payload[0] << 8) | payload[1]
    if not is_valid_close_code(code):
        raise WebSocketProtocolError(f"invalid close code {code}")
    try:
        reason = payload[2:].decode()
    except UnicodeDecodeError:
        raise InvalidPayloadData("close reason is not valid UTF-8") from None
    return code, reason


def serialize_close(code: int = 1000, reason: str = "") -> bytes:
    """A close frame body; code 1005 means no body at all (section 5.5.1)."""
    if code == 1005:
        if reason:
            raise ValueError("a close frame without a code cannot carry a reason")
        return b""
    if not is_valid_close_code(code):
        raise ValueError(f"invalid close code {code}")
    body = code.to_bytes(2, "big") + reason.encode()
    if len(body) > 125:
        raise ValueError("close reason longer than 123 bytes")
    return body
