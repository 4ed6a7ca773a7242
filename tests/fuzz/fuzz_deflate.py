"""Harnesses: permessage-deflate (`asgiws.protocol.deflate`), negotiation and inflation.

`negotiation`: an options byte (which side, our `DeflateSettings`), then a
Sec-WebSocket-Extensions value: a client's offers (server side) or a
server's answer (client side). Properties: parsing raises nothing but
ValueError, and what parses serializes back to the same offers; the server's
answer honours the offer it accepts (RFC 7692 section 7.1) and the client
only accepts an answer that honours its own offer; in both cases the two
extensions that result, ours and the peer's as the answer describes it, pass
messages both ways intact.

`inflate`: an options byte (context takeover, window, the message budget),
then frames as records ``flags, length, payload``. Properties: `decode`
raises nothing but 1002 or 1009, never yields more than the budget left for
the message (a deflate bomb stops at the budget, not at the end of its
output), and what our own `encode` produced always decodes to the original.
"""

from __future__ import annotations

from asgiws.protocol.deflate import (
    EXTENSION_NAME,
    DeflateSettings,
    ExtensionOffer,
    PerMessageDeflate,
    parse_extensions,
    serialize_extensions,
)
from asgiws.protocol.errors import HandshakeError, MessageTooBig, WebSocketProtocolError
from asgiws.protocol.frames import Frame, Opcode

from .reader import FuzzInput

SETTINGS = (
    DeflateSettings(),
    DeflateSettings(window_bits=15, mem_level=8),
    DeflateSettings(window_bits=9, server_no_context_takeover=True),
    DeflateSettings(window_bits=8, client_no_context_takeover=True),
)

MESSAGES = (b"", b"a", b"hello hello hello hello", bytes(range(256)) * 4)

# -- negotiation ---------------------------------------------------------------


def _params(offer: ExtensionOffer) -> dict[str, str | None]:
    return {name.lower(): value for name, value in offer.params}


def _bits(value: str | None) -> int:
    return 15 if value is None else int(value)


def check_messages(local: PerMessageDeflate, remote: PerMessageDeflate) -> None:
    """Messages compressed by one end decode intact at the other, both ways, several times."""
    for sender, receiver in ((local, remote), (remote, local), (local, remote)):
        for message in MESSAGES:
            frame = receiver.decode(sender.encode(Frame(Opcode.BINARY, message)), max_size=None)
            assert frame.payload == message and not frame.rsv1


def server_side(settings: DeflateSettings, text: bytes) -> None:
    """Our answer to a client's offers honours the offer it picks."""
    try:
        offers = parse_extensions([text])
    except ValueError:
        return
    assert parse_extensions([serialize_extensions(offers)]) == offers
    negotiated = settings.negotiate(offers)
    if negotiated is None:
        return
    answer, extension = negotiated
    assert parse_extensions([serialize_extensions([answer])]) == [answer]
    # The offer answered: the first one that alone gets the same answer.
    offered = next(_params(offer) for offer in offers if (settings.negotiate([offer]) or (None,))[0] == answer)
    answered = _params(answer)
    assert len(answered) == len(answer.params), "a parameter twice"
    # RFC 7692 section 7.1: what the client asked of us is granted.
    if "server_no_context_takeover" in offered:
        assert "server_no_context_takeover" in answered
    if "server_max_window_bits" in offered:
        assert _bits(answered.get("server_max_window_bits")) <= _bits(offered["server_max_window_bits"])
    if "client_max_window_bits" in answered:
        assert "client_max_window_bits" in offered
        assert answered["client_max_window_bits"] is not None
    # The client as the answer describes it.
    client_bits = _bits(answered.get("client_max_window_bits"))
    if "client_max_window_bits" in answered and offered["client_max_window_bits"] is not None:
        client_bits = min(client_bits, int(offered["client_max_window_bits"]))  # type: ignore[arg-type]
    client = PerMessageDeflate(
        remote_no_context_takeover="server_no_context_takeover" in answered,
        local_no_context_takeover="client_no_context_takeover" in answered,
        remote_max_window_bits=_bits(answered.get("server_max_window_bits")),
        local_max_window_bits=client_bits,
    )
    check_messages(extension, client)


def client_side(settings: DeflateSettings, text: bytes) -> None:
    """We accept only an answer that honours our offer, and can then talk to that server."""
    try:
        answers = parse_extensions([text])
    except ValueError:
        return
    offered = _params(settings.offer())
    for answer in answers:
        if answer.name.lower() != EXTENSION_NAME:
            continue
        try:
            extension = settings.accept_response(answer.params)
        except HandshakeError as exc:
            assert exc.status == 0
            continue
        answered = _params(answer)
        assert len(answered) == len(answer.params), "a parameter twice"
        if "server_max_window_bits" in offered:
            assert _bits(answered.get("server_max_window_bits", "15")) <= _bits(offered["server_max_window_bits"])
        if "client_max_window_bits" in answered:
            # RFC 7692 7.1.2.2: the server may ignore the value we offered and answer a larger one;
            # we compress within both.
            answered_bits = int(answered["client_max_window_bits"])  # type: ignore[arg-type]
            offered_bits = _bits(offered["client_max_window_bits"])
            assert extension.local_max_window_bits <= min(answered_bits, offered_bits)
        server = PerMessageDeflate(
            remote_no_context_takeover="client_no_context_takeover" in answered,
            local_no_context_takeover="server_no_context_takeover" in answered,
            remote_max_window_bits=_bits(answered.get("client_max_window_bits")),
            local_max_window_bits=_bits(answered.get("server_max_window_bits")),
        )
        check_messages(extension, server)


def fuzz_negotiation(data: bytes) -> None:
    """One run of the negotiation harness; an AssertionError or any other exception is a finding."""
    reader = FuzzInput(data)
    options = reader.byte()
    settings = SETTINGS[options >> 1 & 3]
    if options & 1:
        client_side(settings, reader.rest())
    else:
        server_side(settings, reader.rest())


# -- inflation -------------------------------------------------------------------

MAX_SIZES = (None, 0, 1, 100, 4096)
OPCODES = (Opcode.CONTINUATION, Opcode.TEXT, Opcode.BINARY, Opcode.PING)


def frames(records: bytes) -> list[Frame]:
    """Frames from records: a flags byte (fin, rsv1, opcode), a length byte, the payload."""
    out = []
    pos = 0
    while pos < len(records):
        flags = records[pos]
        length = records[pos + 1] if pos + 1 < len(records) else 0
        payload = records[pos + 2 : pos + 2 + length]
        pos += 2 + length
        out.append(Frame(OPCODES[flags >> 2 & 3], payload, fin=bool(flags & 1), rsv1=bool(flags & 2)))
    return out


def fuzz_inflate(data: bytes) -> None:
    """One run of the inflate harness; an AssertionError or any other exception is a finding."""
    reader = FuzzInput(data)
    options = reader.byte()
    max_size = MAX_SIZES[reader.byte() % len(MAX_SIZES)]
    bits = 8 + (options >> 1) % 8
    extension = PerMessageDeflate(remote_no_context_takeover=bool(options & 1), remote_max_window_bits=bits)
    size = 0  # of the message in progress, as the connection counts it
    for frame in frames(reader.rest()):
        budget = None if max_size is None else max_size - (size if frame.opcode == Opcode.CONTINUATION else 0)
        try:
            out = extension.decode(frame, max_size=budget)
        except MessageTooBig as exc:
            assert exc.close_code == 1009
            assert budget is not None
            break
        except WebSocketProtocolError as exc:
            assert exc.close_code == 1002, exc
            break
        assert not out.rsv1 and out.opcode == frame.opcode and out.fin == frame.fin
        if frame.opcode >= 8:
            assert out is frame
            continue
        if out is not frame:  # inflated: an uncompressed frame is the connection's to measure
            assert budget is None or len(out.payload) <= budget, (len(out.payload), budget)
        size = (size if frame.opcode == Opcode.CONTINUATION else 0) + len(out.payload)
        if frame.fin:
            size = 0
    # Whatever it went through, a fresh pair still round-trips.
    sender = PerMessageDeflate(local_max_window_bits=bits, local_no_context_takeover=bool(options & 1))
    receiver = PerMessageDeflate(remote_max_window_bits=bits, remote_no_context_takeover=bool(options & 1))
    for message in (data, data[::-1], data):
        frame = receiver.decode(sender.encode(Frame(Opcode.BINARY, message)), max_size=len(message))
        assert frame.payload == message
