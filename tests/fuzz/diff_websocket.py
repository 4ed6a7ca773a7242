"""Differential harness: the same WebSocket bytes to asgiws' state machine and to wsproto's.

Input: an options byte (bit 0: we are the client, else the server), then
the bytes the peer sends after the handshake, without extensions and
without a message size limit (wsproto has none). Both sides turn them
into the messages, pings and pongs they deliver, then the close code that
ends the connection: the peer's close (its code) or a failure (the code we
fail with). A disagreement is a different list. Each one we know of is in
`KNOWN`, with the RFC section that decides it, and in README.md's table;
any other one fails the harness, to be fixed or written down.
"""

from __future__ import annotations

import codecs
import dataclasses
from collections.abc import Callable, Iterator

from wsproto import events as ws
from wsproto.connection import CLIENT, SERVER, Connection

from asgiws.protocol import events as ours_events
from asgiws.protocol.connection import Side, WebSocketConnection

Outcome = list[tuple[object, ...]]


def ours(side: Side, data: bytes) -> Outcome:
    """What asgiws delivers."""
    conn = WebSocketConnection(side, max_size=None)
    out: Outcome = []
    for event in conn.receive_data(data):
        if isinstance(event, ours_events.TextMessage):
            out.append(("text", event.data))
        elif isinstance(event, ours_events.BinaryMessage):
            out.append(("binary", event.data))
        elif isinstance(event, ours_events.Ping):
            out.append(("ping", event.payload))
        elif isinstance(event, ours_events.Pong):
            out.append(("pong", event.payload))
        elif isinstance(event, ours_events.CloseReceived):
            out.append(("close", event.code))
        else:
            assert isinstance(event, ours_events.ConnectionFailed)
            out.append(("close", event.code, str(event.error)))
    return out


def theirs(side: Side, data: bytes) -> Outcome:
    """What wsproto delivers, its fragments joined into messages."""
    conn = Connection(CLIENT if side == Side.CLIENT else SERVER)
    conn.receive_data(data)
    out: Outcome = []
    parts: list[object] = []
    for event in conn.events():
        if isinstance(event, (ws.TextMessage, ws.BytesMessage)):
            parts.append(event.data)
            if event.message_finished:
                if isinstance(event, ws.TextMessage):
                    out.append(("text", "".join(parts)))  # type: ignore[arg-type]
                else:
                    out.append(("binary", b"".join(parts)))  # type: ignore[arg-type]
                parts = []
        elif isinstance(event, ws.Ping):
            out.append(("ping", bytes(event.payload)))
        elif isinstance(event, ws.Pong):
            out.append(("pong", bytes(event.payload)))
        else:
            assert isinstance(event, ws.CloseConnection), event
            out.append(("close", int(event.code), event.reason or ""))
            break
    return out


def _codes(outcome: Outcome) -> Outcome:
    """The outcome with close reasons dropped (they are ours or wsproto's words for an error)."""
    return [item[:2] if item[0] == "close" else item for item in outcome]


@dataclasses.dataclass(frozen=True)
class Known:
    """A disagreement written down: which, and what decides it."""

    name: str
    rfc: str
    matches: Callable[[Side, bytes, Outcome, Outcome], bool]


def frames_in(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(start, end of the length field, payload length) of each frame whose length field is in `data`.

    Frames are walked as the bytes say, valid or not; the last may be incomplete.
    """
    pos = 0
    while pos + 2 <= len(data):
        length, head = data[pos + 1] & 0x7F, 2
        if length == 126:
            length, head = int.from_bytes(data[pos + 2 : pos + 4], "big"), 4
        elif length == 127:
            length, head = int.from_bytes(data[pos + 2 : pos + 10], "big"), 10
        if pos + head > len(data) or length >> 63:
            return
        yield pos, pos + head, length
        pos += head + (4 if data[pos + 1] & 0x80 else 0) + length


def shortest_lengths(data: bytes) -> bytes:
    """`data` with the payload length of every frame whose length field is in rewritten in its shortest form."""
    out = []
    end = 0
    for start, head_end, length in frames_in(data):
        b0, masked = data[start], data[start + 1] & 0x80
        if length < 126:
            short = bytes((b0, masked | length))
        elif length < 65536:
            short = bytes((b0, masked | 126)) + length.to_bytes(2, "big")
        else:
            short = bytes((b0, masked | 127)) + length.to_bytes(8, "big")
        end = head_end + (4 if masked else 0) + length
        out.append(short + data[head_end:end])
    return b"".join(out) + data[end:]


def _longer_length_encoding(side: Side, data: bytes, a: Outcome, b: Outcome) -> bool:
    """Once every length is written in its shortest form, the disagreement goes or is another known one."""
    short = shortest_lengths(data)
    return short != data and classify(side, short) is not None


def _doomed_text(data: bytes) -> bool:
    """Some text message in `data` reaches a prefix no continuation can make valid UTF-8.

    Python's decoder (and so wsproto) waits for a third byte after ED A0..BF
    before refusing it; no byte can follow to make a valid character (it
    would encode a UTF-16 surrogate). Frames are walked as sent, unmasked,
    the last one possibly incomplete.
    """
    decoder = None
    for start, head_end, length in frames_in(data):
        b0, b1 = data[start], data[start + 1]
        key = data[head_end : head_end + 4] if b1 & 0x80 else b""
        begin = head_end + len(key)
        if len(key) < (4 if b1 & 0x80 else 0):
            return False
        payload = bytes(byte ^ key[i % 4] if key else byte for i, byte in enumerate(data[begin : begin + length]))
        opcode = b0 & 0x0F
        if opcode == 1:
            decoder = codecs.getincrementaldecoder("utf-8")()
        if opcode in (0, 1) and decoder is not None:
            try:
                decoder.decode(payload, False)
            except UnicodeDecodeError:
                return False  # invalid at once: wsproto sees it too
            pending = decoder.getstate()[0]
            if len(pending) >= 2 and pending[0] == 0xED and pending[1] >= 0xA0:
                return True
            if b0 & 0x80:
                decoder = None
    return False


def _utf8_failed_fast(side: Side, data: bytes, a: Outcome, b: Outcome) -> bool:
    """We fail with 1007 at ED A0..BF in a text message; wsproto waits for a third byte and reads on."""
    return (
        bool(a)
        and a[-1] == ("close", 1007, "text message is not valid UTF-8")
        and _codes(a[:-1]) == _codes(b[: len(a) - 1])
        and _doomed_text(data)
    )


def _close_code_1014(side: Side, data: bytes, a: Outcome, b: Outcome) -> bool:
    """wsproto fails a close with 1014 (not in its list of codes); we take it, then check its reason."""
    return (
        bool(a and b)
        and b[-1][:2] == ("close", 1002)
        and "unknown reserved code" in str(b[-1][2:])
        and (a[-1][:2] == ("close", 1014) or a[-1] == ("close", 1007, "close reason is not valid UTF-8"))
        and _codes(a[:-1]) == _codes(b[:-1])
    )


#: The disagreements we know of; README.md's table says the same, with the reasons.
KNOWN: list[Known] = [
    Known("length not in its shortest form", "RFC 6455 section 5.2", _longer_length_encoding),
    Known("UTF-8 failed fast at a surrogate's second byte", "RFC 6455 section 8.1", _utf8_failed_fast),
    Known("close code 1014", "RFC 6455 section 7.4.2, IANA close code registry", _close_code_1014),
]


def _waiting(shorter: Outcome, longer: Outcome) -> bool:
    """One side failed the connection where the other still waits for the rest of a frame.

    wsproto checks a frame's header as soon as it has it, asgiws when the
    whole frame is in: on a stream cut inside a bad frame, one has failed
    and the other has not decided yet. Neither accepted anything the other
    refused, so that is no disagreement.
    """
    return (
        len(longer) == len(shorter) + 1
        and longer[-1][0] == "close"
        and (not shorter or shorter[-1][0] != "close")
        and _codes(longer[:-1]) == _codes(shorter)
    )


def disagreement(side: Side, data: bytes) -> tuple[Outcome, Outcome] | None:
    """Both outcomes when they differ, else None."""
    a, b = ours(side, data), theirs(side, data)
    if _codes(a) == _codes(b) or _waiting(a, b) or _waiting(b, a):
        return None
    return a, b


def classify(side: Side, data: bytes) -> str | None:
    """The name of the known disagreement; "" for none; None for an unknown one."""
    found = disagreement(side, data)
    if found is None:
        return ""
    for known in KNOWN:
        if known.matches(side, data, *found):
            return known.name
    return None


def split_input(data: bytes) -> tuple[Side, bytes]:
    """The side the options byte picks, and the stream."""
    return (Side.CLIENT if data[:1] and data[0] & 1 else Side.SERVER), data[1:]


def fuzz(data: bytes) -> None:
    """One run of the harness: an unknown disagreement is a finding."""
    side, stream = split_input(data)
    if classify(side, stream) is None:
        a, b = disagreement(side, stream)  # type: ignore[misc]
        error = AssertionError(
            f"asgiws and wsproto disagree ({side.name}) on {stream!r}:\n  asgiws:  {a}\n  wsproto: {b}"
        )
        error.signature = (a[-1:], b[-1:])  # type: ignore[attr-defined]
        raise error
