"""RFC 6455 section 5: WebSocket frames."""

from __future__ import annotations

import enum


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
