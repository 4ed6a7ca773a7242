"""Harnesses: the opening handshake (`asgiws.protocol.handshake`), both sides.

`server`: a split seed, then the bytes a client sends. Each request the
parser yields goes through `parse_upgrade_request`. Properties: it raises
nothing but `HandshakeError` with 400 or 426; an accepted handshake has a
key of 16 bytes and token subprotocols; our 101 (and, for a refused one,
`reject_response`) is read by our own client as the client must read it:
the right accept key and subprotocol, or the refusal's status.

`client`: an options byte (what our client offers and its limits), a split
seed, then the bytes the server answers. Properties: `receive_data` and
`receive_eof` raise nothing but `InvalidStatus` (a status other than 101)
or `HandshakeError` with status 0; a result negotiates only what was
offered and hands back every byte past the head; the same bytes give the
same outcome whatever the reads.
"""

from __future__ import annotations

import base64

from asgiws.protocol.deflate import DeflateSettings
from asgiws.protocol.errors import HandshakeError, HTTPError, InvalidStatus
from asgiws.protocol.grammar import TOKEN_RE
from asgiws.protocol.handshake import (
    ClientHandshake,
    ClientHandshakeResult,
    accept_response,
    parse_upgrade_request,
    reject_response,
)
from asgiws.protocol.http11 import NEED_DATA, PAUSED, Request, RequestParser

from .reader import FuzzInput, chunks, options_seed_stream

#: The statuses `parse_upgrade_request` refuses a handshake with.
SERVER_STATUSES = frozenset({400, 426})

# -- server side -------------------------------------------------------------------


def requests(data: bytes) -> list[Request]:
    """The request heads in `data`, as the server's parser yields them (declining upgrades)."""
    parser = RequestParser()
    parser.feed(data)
    heads = []
    while True:
        try:
            event = parser.next_event()
        except HTTPError:
            return heads
        if event is NEED_DATA:
            return heads
        if event is PAUSED:
            parser.resume()
        elif isinstance(event, Request):
            heads.append(event)


def serve(request: Request, subprotocol_choice: int) -> None:
    """Answer one request as the server does, and read the answer as our client does."""
    try:
        upgrade = parse_upgrade_request(request)
    except HandshakeError as exc:
        assert exc.status in SERVER_STATUSES, exc
        response = reject_response(exc.status)
        client = ClientHandshake("example.com", key="dGhlIHNhbXBsZSBub25jZQ==", compression=None)
        try:
            client.receive_data(response)
        except InvalidStatus as refused:
            assert refused.status == exc.status
            if exc.status == 426:
                assert ("Sec-WebSocket-Version", "13") in refused.headers
        else:
            raise AssertionError("our refusal was not read as one")
        return
    assert len(base64.b64decode(upgrade.key, validate=True)) == 16
    for name in upgrade.subprotocols:
        assert TOKEN_RE.fullmatch(name.encode("latin-1")), f"subprotocol {name!r} is not a token"
    offered = upgrade.subprotocols
    subprotocol = offered[subprotocol_choice % len(offered)] if offered and subprotocol_choice else None
    # With compression, only that negotiation runs; without, our client must accept the answer.
    accept_response(upgrade, subprotocol=subprotocol)
    response, extensions = accept_response(upgrade, subprotocol=subprotocol, compression=None)
    assert not extensions
    client = ClientHandshake(
        "example.com", key=upgrade.key, subprotocols=[subprotocol] if subprotocol else (), compression=None
    )
    result = client.receive_data(response + b"\x81\x00")
    assert isinstance(result, ClientHandshakeResult)
    assert result.subprotocol == subprotocol and result.leftover == b"\x81\x00"


def fuzz_server(data: bytes) -> None:
    """One run of the server-side harness; an AssertionError or any other exception is a finding."""
    reader = FuzzInput(data)
    choice = reader.byte()
    for request in requests(reader.rest()):
        serve(request, choice)


# -- client side ---------------------------------------------------------------------

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 section 1.3's example
SUBPROTOCOLS = ((), ("chat",), ("chat", "superchat"))
COMPRESSIONS = (
    None,
    DeflateSettings(),
    DeflateSettings(window_bits=15),
    DeflateSettings(server_no_context_takeover=True),
)
LIMITS = ((64 * 2**10, 64 * 2**10), (60, 8), (200, 0))  # max_head_size, max_body_size


def handshake(options: int) -> ClientHandshake:
    """A client handshake whose offers and limits `options` picks."""
    max_head_size, max_body_size = LIMITS[(options >> 4) % 3]
    return ClientHandshake(
        "example.com",
        key=KEY,
        subprotocols=SUBPROTOCOLS[options % 3],
        compression=COMPRESSIONS[options >> 2 & 3],
        max_head_size=max_head_size,
        max_body_size=max_body_size,
        max_headers=1 + (options >> 6) * 10,
    )


def outcome(client: ClientHandshake, stream: list[bytes]) -> tuple[object, ...]:
    """Feed `stream` piece by piece, then the end of the stream: how the handshake ended."""
    fed = b""
    for piece in stream:
        fed += piece
        try:
            result = client.receive_data(piece)
        except InvalidStatus as exc:
            assert exc.status != 101 and 100 <= exc.status <= 599  # RFC 9110 section 15
            assert len(exc.body) <= client.max_body_size
            return ("refused", exc.status, exc.headers, exc.body)
        except HandshakeError as exc:
            assert exc.status == 0, exc
            return ("failed",)
        if result is not None:
            assert result.subprotocol is None or result.subprotocol in client.subprotocols
            assert len(result.extensions) <= (client.compression is not None)
            rest = b"".join(stream)[len(fed) :]
            assert fed.endswith(result.leftover) and b"\r\n\r\n" in fed[: len(fed) - len(result.leftover)]
            return ("open", result.subprotocol, repr(result.extensions), result.headers, result.leftover + rest)
    try:
        client.receive_eof()
    except InvalidStatus as exc:
        assert exc.status != 101 and 100 <= exc.status <= 599 and len(exc.body) <= client.max_body_size
        return ("refused", exc.status, exc.headers, exc.body)
    except HandshakeError as exc:
        assert exc.status == 0, exc
        return ("failed",)
    raise AssertionError("the end of the stream passed unnoticed")


def fuzz_client(data: bytes) -> None:
    """One run of the client-side harness; an AssertionError or any other exception is a finding."""
    options, seed, stream = options_seed_stream(data)
    whole = outcome(handshake(options), [stream])
    split = outcome(handshake(options), list(chunks(stream, seed)))
    assert whole == split, (whole, split)
