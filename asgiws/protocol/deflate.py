"""RFC 7692: the permessage-deflate WebSocket extension, sans-I/O.

Three parts:

* the `Sec-WebSocket-Extensions` header grammar (RFC 6455 section 9.1):
  `parse_extensions` and `serialize_extensions`;
* negotiation (RFC 7692 section 7.1): `DeflateSettings.negotiate` picks the
  server's answer to a client's offers, `DeflateSettings.offer` and
  `DeflateSettings.accept_response` do the client's side;
* `PerMessageDeflate`, the `Extension` that compresses outgoing messages and
  inflates incoming ones, with the decoded size bounded while inflating.

Memory per connection (zlib's own figures, zconf.h): a compressor needs about
``(1 << (wbits + 2)) + (1 << (mem_level + 9))`` bytes, a decompressor about
``1 << wbits``. zlib's defaults (15, 8) cost ~256 KiB + 32 KiB; our defaults
(12, 5) cost 16 KiB + 16 KiB + 4 KiB. Measured with tracemalloc, one
compressor and one decompressor after a message: ~50 KiB at (12, 5) against
~302 KiB at (15, 8), with the same output size for a 1.2 KB JSON message
(websockets measured the same trade-off on larger corpora).
"""

from __future__ import annotations

import dataclasses
import re
import zlib
from collections.abc import Iterable, Sequence

from . import limits
from .errors import HandshakeError, MessageTooBig, WebSocketProtocolError
from .extensions import RSV1, Extension
from .frames import Frame, Opcode
from .grammar import OWS, QUOTED_STRING, TOKEN, unquote

__all__ = [
    "ExtensionOffer",
    "parse_extensions",
    "serialize_extensions",
    "DeflateSettings",
    "PerMessageDeflate",
    "EXTENSION_NAME",
]

EXTENSION_NAME = "permessage-deflate"

#: The tail of a zlib sync flush: an empty stored block (RFC 7692 section 7.2.1).
_SYNC_TAIL = b"\x00\x00\xff\xff"

# An extension parameter and its value: None when the parameter has no value.
Params = list[tuple[str, "str | None"]]


@dataclasses.dataclass(frozen=True)
class ExtensionOffer:
    """One element of a Sec-WebSocket-Extensions list: a name and its parameters."""

    name: str
    params: Params


# ---------------------------------------------------------------------------
# Header grammar, RFC 6455 section 9.1:
#   Sec-WebSocket-Extensions = extension-list
#   extension-list = 1#extension
#   extension = extension-token *( ";" extension-param )
#   extension-param = token [ "=" (token | quoted-string) ]
# When a quoted-string is used, its unescaped value must still be a token.
# The rules are `grammar`'s, compiled here for decoded (latin-1) text.

_TOKEN_RE = re.compile(TOKEN)
_NAME_RE = re.compile(OWS + "(" + TOKEN + ")" + OWS)
_PARAM_RE = re.compile(
    OWS + ";" + OWS + "(" + TOKEN + ")" + OWS
    + "(?:=" + OWS + "(?:(" + TOKEN + ")|(" + QUOTED_STRING + "))" + OWS + ")?"
)


def parse_extensions(values: Iterable[bytes | str]) -> list[ExtensionOffer]:
    """Parse every Sec-WebSocket-Extensions header value, in order, into offers.

    Several headers are one list (RFC 7230 section 3.2.2). Raises ValueError on
    a malformed list; callers turn that into a 400 (server) or a failed
    handshake (client).
    """
    offers: list[ExtensionOffer] = []
    for value in values:
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        pos = 0
        end = len(text)
        while pos < end:
            # Empty list elements ("a, , b") are allowed by the #rule.
            if text[pos] in " \t,":
                pos += 1
                continue
            match = _NAME_RE.match(text, pos)
            if match is None:
                raise ValueError(f"invalid extension list at {pos}: {text!r}")
            name = match.group(1)
            pos = match.end()
            params: Params = []
            while True:
                param = _PARAM_RE.match(text, pos)
                if param is None:
                    break
                pname, token, quoted = param.group(1, 2, 3)
                if quoted is not None:
                    token = unquote(quoted)
                    if not _TOKEN_RE.fullmatch(token):
                        raise ValueError(f"quoted parameter value is not a token: {quoted!r}")
                params.append((pname, token))
                pos = param.end()
            if pos < end and text[pos] != ",":
                raise ValueError(f"invalid extension list at {pos}: {text!r}")
            offers.append(ExtensionOffer(name, params))
    return offers


def serialize_extensions(offers: Iterable[ExtensionOffer]) -> str:
    """Format offers (or a response) as one Sec-WebSocket-Extensions value."""
    return ", ".join(
        "; ".join([offer.name, *(name if value is None else f"{name}={value}" for name, value in offer.params)])
        for offer in offers
    )


# ---------------------------------------------------------------------------
# Negotiation, RFC 7692 section 7.1.

_KNOWN_PARAMS = frozenset(
    ["server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits", "client_max_window_bits"]
)
# "a decimal integer value without leading zeroes between 8 to 15" (7.1.2.1)
_WINDOW_BITS_RE = re.compile(r"8|9|1[0-5]")


def _check_params(params: Params) -> dict[str, str | None]:
    """Validate parameters of one offer or response; ValueError if unacceptable.

    Each parameter at most once (7.1), only the four known ones, no value on
    the *_no_context_takeover flags, window bits 8..15 without leading zeros,
    and a value on server_max_window_bits (it has no "no value" form).
    """
    seen: dict[str, str | None] = {}
    for name, value in params:
        name = name.lower()
        if name not in _KNOWN_PARAMS:
            raise ValueError(f"unknown parameter {name}")
        if name in seen:
            raise ValueError(f"duplicate parameter {name}")
        if name.endswith("no_context_takeover"):
            if value is not None:
                raise ValueError(f"{name} takes no value")
        elif value is None:
            if name == "server_max_window_bits":
                raise ValueError("server_max_window_bits needs a value")
        elif not _WINDOW_BITS_RE.fullmatch(value):
            raise ValueError(f"invalid {name}={value}")
        seen[name] = value
    return seen


def _zlib_window_bits(bits: int) -> int:
    # zlib 1.2.9+ refuses windowBits=8 for raw deflate streams (deflateInit2
    # returns Z_STREAM_ERROR; earlier versions silently used 9), so the
    # smallest window our compressor can promise is 9.
    return 9 if bits == 8 else bits


@dataclasses.dataclass(frozen=True)
class DeflateSettings:
    """What this side asks for and accepts in permessage-deflate negotiation.

    `window_bits` caps the LZ77 window of *both* directions when the peer lets
    us: our compressor's, and (through client_max_window_bits on the server
    side, server_max_window_bits on the client side) the peer's, which sizes
    our decompressor. `mem_level` sizes the compressor's hash tables. The
    defaults, `limits.DEFLATE_WINDOW_BITS` and `limits.DEFLATE_MEM_LEVEL`,
    keep a connection's compression state near 50 KiB instead of zlib's
    ~300 KiB (see the module docstring). 8 is accepted but our compressor
    uses 9 (zlib cannot do 8 for raw deflate).

    `level` is the zlib compression level of what we send
    (`limits.DEFLATE_LEVEL`: speed over the last few percent of size).

    `server_no_context_takeover` / `client_no_context_takeover` request a
    fresh compression context per message in that direction (less memory
    between messages, worse ratio).
    """

    window_bits: int = limits.DEFLATE_WINDOW_BITS
    mem_level: int = limits.DEFLATE_MEM_LEVEL
    level: int = limits.DEFLATE_LEVEL
    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False

    def __post_init__(self) -> None:
        if not 8 <= self.window_bits <= 15:
            raise ValueError("window_bits must be between 8 and 15")
        if not 1 <= self.mem_level <= 9:
            raise ValueError("mem_level must be between 1 and 9")
        if not 0 <= self.level <= 9:
            raise ValueError("level must be between 0 and 9")

    # -- server side --

    def negotiate(self, offers: Sequence[ExtensionOffer]) -> tuple[ExtensionOffer, PerMessageDeflate] | None:
        """Answer the first acceptable permessage-deflate offer (server side).

        Returns the response element for Sec-WebSocket-Extensions and the
        extension for the connection, or None when no offer is acceptable.
        An offer we cannot accept (malformed, unknown or duplicate
        parameters, server_max_window_bits=8) is skipped, never an error for
        the whole handshake: the client listed alternatives for that reason.
        """
        for offer in offers:
            if offer.name.lower() != EXTENSION_NAME:
                continue
            try:
                params = _check_params(offer.params)
            except ValueError:
                continue
            response = self._answer(params)
            if response is not None:
                return response
        return None

    def _answer(self, offered: dict[str, str | None]) -> tuple[ExtensionOffer, PerMessageDeflate] | None:
        response: Params = []
        # 7.1.1.1: the server must echo server_no_context_takeover if offered;
        # it may add it on its own.
        server_nct = "server_no_context_takeover" in offered or self.server_no_context_takeover
        if server_nct:
            response.append(("server_no_context_takeover", None))
        # 7.1.1.2: client_no_context_takeover in an offer is a hint; echoing
        # it lets us drop the inflate context between messages.
        client_nct = "client_no_context_takeover" in offered or self.client_no_context_takeover
        if client_nct:
            response.append(("client_no_context_takeover", None))
        # 7.1.2.1: our compressor's window, at most what the client allows.
        server_bits = self.window_bits
        offered_bits = offered.get("server_max_window_bits")  # present means a value: _check_params
        if offered_bits is not None:
            limit = int(offered_bits)
            if limit == 8:
                return None  # zlib cannot compress with a 256-byte window: decline
            server_bits = min(server_bits, limit)
        server_bits = _zlib_window_bits(server_bits)
        if server_bits < 15 or "server_max_window_bits" in offered:
            response.append(("server_max_window_bits", str(server_bits)))
        # 7.1.2.2: we may limit the client's window only if it offered the
        # parameter; otherwise it may use 15 bits and our inflater must too.
        client_bits = 15
        if "client_max_window_bits" in offered:
            value = offered["client_max_window_bits"]
            client_bits = min(self.window_bits, 15 if value is None else int(value))
            response.append(("client_max_window_bits", str(client_bits)))
        extension = PerMessageDeflate(
            remote_no_context_takeover=client_nct,
            local_no_context_takeover=server_nct,
            remote_max_window_bits=client_bits,
            local_max_window_bits=server_bits,
            mem_level=self.mem_level,
            level=self.level,
        )
        return ExtensionOffer(EXTENSION_NAME, response), extension

    # -- client side --

    def offer(self) -> ExtensionOffer:
        """The client's permessage-deflate offer.

        client_max_window_bits carries our window so the server can size its
        inflater; server_max_window_bits is offered only below 15, to bound
        our inflater (some servers decline any offer carrying it).
        """
        params: Params = []
        if self.server_no_context_takeover:
            params.append(("server_no_context_takeover", None))
        if self.client_no_context_takeover:
            params.append(("client_no_context_takeover", None))
        if self.window_bits < 15:
            params.append(("server_max_window_bits", str(self.window_bits)))
        params.append(("client_max_window_bits", str(_zlib_window_bits(self.window_bits))))
        return ExtensionOffer(EXTENSION_NAME, params)

    def accept_response(self, params: Params) -> PerMessageDeflate:
        """Validate the server's answer to `offer()` (client side); HandshakeError(status 0) if invalid."""
        try:
            answer = _check_params(params)
        except ValueError as exc:
            raise HandshakeError(f"invalid permessage-deflate response: {exc}", 0) from None
        if self.server_no_context_takeover and "server_no_context_takeover" not in answer:
            raise HandshakeError("server ignored server_no_context_takeover", 0)
        server_bits = 15
        answered_bits = answer.get("server_max_window_bits")  # present means a value: _check_params
        if answered_bits is not None:
            server_bits = int(answered_bits)
            if self.window_bits < 15 and server_bits > self.window_bits:
                raise HandshakeError("server_max_window_bits larger than offered", 0)
        elif self.window_bits < 15:
            raise HandshakeError("server did not answer server_max_window_bits", 0)
        client_bits = _zlib_window_bits(self.window_bits)
        if "client_max_window_bits" in answer:
            value = answer["client_max_window_bits"]
            if value is None:
                raise HandshakeError("client_max_window_bits without a value in a response", 0)
            limit = int(value)
            if limit == 8:
                raise HandshakeError("client_max_window_bits=8 is not supported by zlib", 0)
            client_bits = min(client_bits, limit)
        return PerMessageDeflate(
            remote_no_context_takeover="server_no_context_takeover" in answer,
            local_no_context_takeover="client_no_context_takeover" in answer or self.client_no_context_takeover,
            remote_max_window_bits=server_bits,
            local_max_window_bits=client_bits,
            mem_level=self.mem_level,
            level=self.level,
        )


# ---------------------------------------------------------------------------
# The extension, RFC 7692 sections 6 and 7.2.


class PerMessageDeflate(Extension):
    """Compress every outgoing message; inflate incoming messages that have RSV1.

    Every data message we send is compressed (RFC 7692 allows a per-message
    choice, but deciding needs the whole message while frames are encoded one
    by one, and a tiny message costs only a few bytes more). "local" is this
    side's sending direction, "remote" the peer's.
    """

    name = EXTENSION_NAME
    rsv_bits = RSV1

    __slots__ = (
        "remote_no_context_takeover",
        "local_no_context_takeover",
        "remote_max_window_bits",
        "local_max_window_bits",
        "mem_level",
        "level",
        "_encoder",
        "_decoder",
        "_decoding",
    )

    def __init__(
        self,
        *,
        remote_no_context_takeover: bool = False,
        local_no_context_takeover: bool = False,
        remote_max_window_bits: int = 15,
        local_max_window_bits: int = 15,
        mem_level: int = 8,
        level: int = zlib.Z_DEFAULT_COMPRESSION,
    ) -> None:
        self.remote_no_context_takeover = remote_no_context_takeover
        self.local_no_context_takeover = local_no_context_takeover
        self.remote_max_window_bits = remote_max_window_bits
        self.local_max_window_bits = _zlib_window_bits(local_max_window_bits)
        self.mem_level = mem_level
        self.level = level
        # Created lazily: a connection that never sends (or never receives a
        # compressed message) never pays for that direction's zlib state.
        self._encoder: zlib._Compress | None = None
        self._decoder: zlib._Decompress | None = None
        self._decoding = False  # inside a compressed message

    def __repr__(self) -> str:
        return (
            f"PerMessageDeflate(remote_no_context_takeover={self.remote_no_context_takeover}, "
            f"local_no_context_takeover={self.local_no_context_takeover}, "
            f"remote_max_window_bits={self.remote_max_window_bits}, "
            f"local_max_window_bits={self.local_max_window_bits}, mem_level={self.mem_level})"
        )

    def decode(self, frame: Frame, *, max_size: int | None) -> Frame:
        """Inflate one data frame of a compressed message, at most `max_size` bytes out."""
        opcode = frame.opcode
        if opcode >= 8:  # control frames are never compressed (6.1)
            if frame.rsv1:
                raise WebSocketProtocolError("RSV1 set on a control frame")
            return frame
        if opcode == Opcode.CONTINUATION:
            # 6.1: RSV1 is the "Per-Message Compressed" bit of the first frame only.
            if frame.rsv1:
                raise WebSocketProtocolError("RSV1 set on a continuation frame")
            if not self._decoding:
                return frame
        else:
            if not frame.rsv1:
                self._decoding = False
                return frame
            self._decoding = True
        decoder = self._decoder
        if decoder is None:
            # A larger window than the peer's always decodes its stream.
            decoder = self._decoder = zlib.decompressobj(wbits=-max(9, self.remote_max_window_bits))
        data = frame.payload
        if frame.fin:
            data += _SYNC_TAIL  # 7.2.2
        try:
            if max_size is None:
                payload = decoder.decompress(data)
            else:
                # Never inflate more than max_size + 1 bytes: a small frame
                # expanding into gigabytes must fail, not allocate them.
                payload = decoder.decompress(data, max_size + 1)
                if len(payload) > max_size:
                    self._decoder = None
                    raise MessageTooBig(f"message over {max_size} bytes once inflated")
        except zlib.error as exc:
            self._decoder = None
            raise WebSocketProtocolError(f"invalid compressed data: {exc}") from None
        if frame.fin:
            self._decoding = False
            # BFINAL (7.2.3.4) ends the deflate stream: the next message starts a new one.
            if self.remote_no_context_takeover or decoder.eof:
                self._decoder = None
        return Frame(opcode, payload, frame.fin, False, frame.rsv2, frame.rsv3)

    def encode(self, frame: Frame) -> Frame:
        """Compress one outgoing data frame; RSV1 goes on a message's first frame only."""
        opcode = frame.opcode
        if opcode >= 8:
            return frame
        encoder = self._encoder
        if encoder is None:
            encoder = self._encoder = zlib.compressobj(
                self.level, wbits=-self.local_max_window_bits, memLevel=self.mem_level
            )
        data = encoder.compress(frame.payload) + encoder.flush(zlib.Z_SYNC_FLUSH)
        if frame.fin:
            # 7.2.1: remove the 4-octet tail of the final sync flush.
            if data.endswith(_SYNC_TAIL):
                data = data[:-4]
            if self.local_no_context_takeover:
                self._encoder = None
        return Frame(opcode, data, frame.fin, opcode != Opcode.CONTINUATION, frame.rsv2, frame.rsv3)
