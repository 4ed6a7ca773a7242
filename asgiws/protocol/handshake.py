"""RFC 6455 section 4: the WebSocket opening handshake, both sides, sans-I/O.

Server side: `parse_upgrade_request` validates the `http11.Request` that the
request parser produced, from what the parser recorded while reading it
(`Request.upgrade`, `Request.special_fields`): no header is read twice.
`accept_response` / `reject_response` build the bytes to answer with.

Client side: `ClientHandshake` builds the request bytes and parses the
server's response incrementally, with the same grammar as the server side
(`grammar`); whatever follows the response head is returned as `leftover`,
since it is already WebSocket frames.

Errors are `HandshakeError` carrying the HTTP status (server side) or the
status received (client side, 0 for a malformed response); an application
asking for an impossible accept (a subprotocol the client did not offer, a
header that is no valid field) gets `InvalidAccept`, a ValueError the server treats as an
application error.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import os
import re
from collections.abc import Collection, Iterable, Sequence

from . import limits
from .deflate import EXTENSION_NAME, DeflateSettings, ExtensionOffer, parse_extensions, serialize_extensions
from .errors import ForbiddenOrigin, HandshakeError, InvalidStatus
from .extensions import Extension
from .grammar import (
    FIELD_VALUE_RE,
    STATUS_LINE_RE,
    TOKEN_RE,
    VCHAR,
    comma_list,
    content_length,
    field_lines_error,
    parse_field_lines,
)
from .http11 import Request, error_body, status_line

__all__ = [
    "WEBSOCKET_GUID",
    "accept_key",
    "InvalidAccept",
    "UpgradeRequest",
    "parse_upgrade_request",
    "accept_response",
    "reject_response",
    "rejection_head",
    "complete_rejection",
    "ClientHandshake",
    "ClientHandshakeResult",
]

#: RFC 6455 section 1.3: appended to the client's key before hashing.
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class InvalidAccept(ValueError):
    """The application's accept cannot be sent: unknown subprotocol or invalid header."""


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)), RFC 6455 section 4.2.2."""
    digest = hashlib.sha1((key + WEBSOCKET_GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclasses.dataclass(frozen=True)
class UpgradeRequest:
    """A valid opening handshake request, with what the ASGI scope and the response need."""

    key: str
    subprotocols: list[str]
    extensions: list[ExtensionOffer]
    http_version: str
    headers: list[tuple[bytes, bytes]]


def parse_upgrade_request(request: Request, origins: Collection[bytes | None] | None = None) -> UpgradeRequest:
    """Validate the opening handshake in a parsed request (RFC 6455 section 4.2.1).

    Reads what `http11.RequestParser` recorded (`Request.upgrade`,
    `Request.special_fields`), so no header is parsed again; raises
    HandshakeError with the status to answer with. A method other than GET
    is answered 400 (the RFC's "such as 400": the resource may well accept other methods over plain HTTP, so 405 would
    mislead); a missing or unsupported Sec-WebSocket-Version is answered 426,
    which `reject_response` completes with "Sec-WebSocket-Version: 13".
    A Sec-WebSocket-Protocol element that is not a token is 400; a malformed
    Sec-WebSocket-Extensions only declines compression: the connection can
    work without it.

    `origins`, when not None, are the Origin values allowed (None among them
    allows a request without Origin, as non-browser clients send): any other
    request, or one with several Origin fields, raises `ForbiddenOrigin`
    (403), after the checks above. Browsers send Origin with every
    handshake, and a page cannot forge it (RFC 6455 section 10.2).
    """
    if request.method != "GET":
        raise HandshakeError("WebSocket handshake must use GET", 400)
    if request.http_version == "1.0":
        raise HandshakeError("WebSocket handshake needs HTTP/1.1 or later", 400)
    fields = request.special_fields
    if request.upgrade is None:
        # The parser records an upgrade only when Connection lists "upgrade".
        if b"upgrade" in fields:
            raise HandshakeError("missing 'upgrade' in Connection", 400)
        raise HandshakeError("missing 'websocket' in Upgrade", 400)
    if b"websocket" not in request.upgrade.split(b","):  # the parser's lowercased list, joined with ","
        raise HandshakeError("missing 'websocket' in Upgrade", 400)
    if fields.get(b"sec-websocket-version") != [b"13"]:
        raise HandshakeError("unsupported Sec-WebSocket-Version", 426)
    keys = fields.get(b"sec-websocket-key", ())
    if len(keys) != 1:
        raise HandshakeError("need exactly one Sec-WebSocket-Key", 400)
    (key,) = keys
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError
    except (binascii.Error, ValueError):
        raise HandshakeError("Sec-WebSocket-Key is not base64 of 16 bytes", 400) from None
    protocols = comma_list(fields.get(b"sec-websocket-protocol", ()))
    if any(TOKEN_RE.fullmatch(protocol) is None for protocol in protocols):
        # RFC 6455 section 4.1: each element is a token; one the app chose would fail the client.
        raise HandshakeError("Sec-WebSocket-Protocol is not a list of tokens", 400)
    if origins is not None:
        sent = fields.get(b"origin", ())
        if len(sent) > 1:
            raise ForbiddenOrigin(sent[0], "several Origin fields")
        origin = sent[0] if sent else None
        if origin not in origins:
            raise ForbiddenOrigin(origin)
    subprotocols = [token.decode("latin-1") for token in protocols]
    try:
        extensions = parse_extensions(fields.get(b"sec-websocket-extensions", ()))
    except ValueError:
        extensions = []
    return UpgradeRequest(key.decode("ascii"), subprotocols, extensions, request.http_version, request.headers)


def _as_bytes(text: bytes | str) -> bytes:
    return text.encode("latin-1") if isinstance(text, str) else bytes(text)


def _header_line(name: bytes, value: bytes) -> bytes:
    """One `name: value` line; InvalidAccept if the name is not a token or the value not a field value."""
    if TOKEN_RE.fullmatch(name) is None:
        raise InvalidAccept(f"invalid header name {name!r}: not a token (RFC 9110 section 5.1)")
    if FIELD_VALUE_RE.fullmatch(value) is None:
        raise InvalidAccept(f"invalid value for header {name!r}: CR, LF, NUL or another control byte")
    return name + b": " + value + b"\r\n"


# Headers the handshake itself sets; an application's copy would contradict them.
_HANDSHAKE_HEADERS = frozenset(
    [b"upgrade", b"connection", b"sec-websocket-accept", b"sec-websocket-protocol", b"sec-websocket-extensions"]
)


def accept_response(
    request: UpgradeRequest,
    *,
    subprotocol: str | None = None,
    headers: Iterable[tuple[bytes, bytes]] = (),
    compression: DeflateSettings | None = DeflateSettings(),
) -> tuple[bytes, list[Extension]]:
    """The `101 Switching Protocols` response and the extensions negotiated for the connection.

    `subprotocol` and `headers` come from the ASGI `websocket.accept`
    message; `compression` None disables permessage-deflate. Raises
    InvalidAccept for a subprotocol the client did not offer or a bad header.
    """
    lines = [
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
        accept_key(request.key).encode("ascii"),
        b"\r\n",
    ]
    if subprotocol is not None:
        if subprotocol not in request.subprotocols:
            raise InvalidAccept(f"subprotocol {subprotocol!r} was not offered by the client")
        lines.append(_header_line(b"Sec-WebSocket-Protocol", _as_bytes(subprotocol)))
    extensions: list[Extension] = []
    if compression is not None and request.extensions:
        negotiated = compression.negotiate(request.extensions)
        if negotiated is not None:
            response, extension = negotiated
            lines.append(b"Sec-WebSocket-Extensions: " + serialize_extensions([response]).encode("ascii") + b"\r\n")
            extensions.append(extension)
    for name, value in headers:
        name = _as_bytes(name)
        if name.lower() in _HANDSHAKE_HEADERS:
            raise InvalidAccept(f"header {name!r} is set by the handshake")
        lines.append(_header_line(name, _as_bytes(value)))
    lines.append(b"\r\n")
    return b"".join(lines), extensions


# What a refusal frames itself; an application's copy is dropped.
_FRAMING_HEADERS = frozenset([b"content-length", b"connection", b"transfer-encoding"])


def reject_response(
    status: int, body: bytes | None = None, headers: Iterable[tuple[bytes, bytes]] = ()
) -> bytes:
    """A complete HTTP/1.1 response refusing the handshake, closing the connection.

    Also the server's own answer to any request it refuses or fails (400,
    408, 500...), with its default headers. The body defaults to the
    status phrase as text/plain. Raises a ValueError for a status or
    header that cannot be sent; see `rejection_head`.
    """
    return complete_rejection(rejection_head(status, headers), error_body(status) if body is None else body)


def rejection_head(status: int, headers: Iterable[tuple[bytes, bytes]] = ()) -> bytes:
    """The status line and header lines of a response refusing the handshake, all but its framing.

    A 426 carries `Sec-WebSocket-Version: 13` (RFC 6455 section 4.4), the
    version we speak; Content-Type defaults to text/plain. Content-Length,
    Connection and Transfer-Encoding among `headers` are dropped:
    `complete_rejection` frames the body itself. Raises a ValueError
    (`InvalidResponse` for a status outside `grammar.STATUS_CODES`,
    `InvalidAccept` for a header name that is no token or a value that is
    no field value) before anything is built, so nothing invalid is sent.
    """
    lines = [status_line(status)]
    names = set()
    for name, value in headers:
        name = _as_bytes(name)
        lower = name.lower()
        if lower in _FRAMING_HEADERS:
            continue
        names.add(lower)
        lines.append(_header_line(name, _as_bytes(value)))
    if status == 426 and b"sec-websocket-version" not in names:
        lines.append(b"Sec-WebSocket-Version: 13\r\n")
    if b"content-type" not in names:
        lines.append(b"Content-Type: text/plain; charset=utf-8\r\n")
    return b"".join(lines)


def complete_rejection(head: bytes, body: bytes) -> bytes:
    """A refusal from its `rejection_head` and body: framed by Content-Length, closing the connection."""
    return b"%sContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (head, len(body), body)


# ---------------------------------------------------------------------------
# Client side, RFC 6455 sections 4.1 and 4.2.2.


@dataclasses.dataclass
class ClientHandshakeResult:
    """A successful handshake: what was negotiated, the response's headers, and the bytes received past the head.

    `headers` keep the names as the server sent them; `raw_headers` are the
    same fields with lowercased names, as bytes (as ASGI carries headers).
    """

    subprotocol: str | None
    extensions: list[Extension]
    headers: list[tuple[str, str]]
    leftover: bytes
    raw_headers: list[tuple[bytes, bytes]] = dataclasses.field(default_factory=list)


#: RFC 3986 path-abempty [ "?" query ], as far as the request line cares: visible ASCII after a slash.
_RESOURCE_RE = re.compile("/" + VCHAR + "*")


def _values(fields: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [value for key, value in fields if key == name]


class ClientHandshake:
    """The client's opening handshake: `request` to send, then `receive_data` until a result.

    `receive_data` returns None while the response head is incomplete, a
    `ClientHandshakeResult` on success, and raises `InvalidStatus` for a
    non-101 answer (with its body when Content-Length announces one of at
    most `max_body_size` bytes) or `HandshakeError` (status 0) for an invalid
    one. `receive_eof` reports the end of the stream. The response head is
    read with the request parser's grammar, as strictly.
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        resource: str = "/",
        *,
        secure: bool = False,
        subprotocols: Sequence[str] = (),
        headers: Iterable[tuple[str | bytes, str | bytes]] = (),
        compression: DeflateSettings | None = DeflateSettings(),
        origin: str | None = None,
        user_agent: str | None = "asgiws",
        key: str | None = None,
        max_head_size: int = limits.MAX_HEADER_BLOCK,
        max_headers: int = limits.MAX_HEADERS,
        max_body_size: int = limits.MAX_REFUSAL_BODY,
    ) -> None:
        if _RESOURCE_RE.fullmatch(resource) is None:
            raise ValueError(f"invalid resource {resource!r}")
        self.key = key if key is not None else base64.b64encode(os.urandom(16)).decode("ascii")
        self.subprotocols = list(subprotocols)
        self.compression = compression
        self.max_head_size = max_head_size
        self.max_headers = max_headers
        self.max_body_size = max_body_size
        self._buffer = b""
        self._rejected: InvalidStatus | None = None
        self._body_wanted = 0
        self._done = False

        authority = f"[{host}]" if ":" in host and not host.startswith("[") else host
        if port is not None and port != (443 if secure else 80):
            authority = f"{authority}:{port}"
        fields = [
            (b"Host", authority.encode("idna") if not authority.isascii() else authority.encode("ascii")),
            (b"Upgrade", b"websocket"),
            (b"Connection", b"Upgrade"),
            (b"Sec-WebSocket-Key", self.key.encode("ascii")),
            (b"Sec-WebSocket-Version", b"13"),
        ]
        if origin is not None:
            fields.append((b"Origin", _as_bytes(origin)))
        if self.subprotocols:
            for subprotocol in self.subprotocols:
                if TOKEN_RE.fullmatch(subprotocol.encode("latin-1")) is None:
                    raise ValueError(f"invalid subprotocol {subprotocol!r}")
            fields.append((b"Sec-WebSocket-Protocol", ", ".join(self.subprotocols).encode("latin-1")))
        if compression is not None:
            fields.append((b"Sec-WebSocket-Extensions", serialize_extensions([compression.offer()]).encode("ascii")))
        if user_agent is not None:
            fields.append((b"User-Agent", _as_bytes(user_agent)))
        fields += [(_as_bytes(name), _as_bytes(value)) for name, value in headers]
        #: The request bytes to send.
        self.request = b"".join(
            [f"GET {resource} HTTP/1.1\r\n".encode("ascii"), *(_header_line(n, v) for n, v in fields), b"\r\n"]
        )
        #: The request's header fields, names lowercased, as the server's parser will read them.
        self.request_headers = [(name.lower(), value.strip(b" \t")) for name, value in fields]

    def receive_data(self, data: bytes) -> ClientHandshakeResult | None:
        """Feed bytes from the server; see the class docstring for the outcomes."""
        if self._done:
            raise RuntimeError("the handshake is over")
        self._buffer += data
        if self._rejected is not None:
            if len(self._buffer) >= self._body_wanted:
                self._reject()
            return None
        # Resume the search where the previous call left it (bytes may come one by one).
        end = self._buffer.find(b"\r\n\r\n", max(0, len(self._buffer) - len(data) - 3))
        if end < 0:
            if len(self._buffer) > self.max_head_size:
                self._done = True
                raise HandshakeError("response head too large", 0)
            return None
        if end + 4 > self.max_head_size:
            self._done = True
            raise HandshakeError("response head too large", 0)
        try:
            status, fields = self._parse_head(end)
        except HandshakeError:
            self._done = True
            raise
        self._buffer = self._buffer[end + 4 :]
        headers = [(name.decode("ascii"), value.decode("latin-1")) for name, value in fields]
        raw = [(name.lower(), value) for name, value in fields]  # the only time a name is lowercased
        if status != 101:
            self._rejected = InvalidStatus(status, headers)
            self._body_wanted = self._body_length(raw)
            if len(self._buffer) >= self._body_wanted:
                self._reject()
            return None
        self._done = True
        return self._validate(headers, raw)

    def receive_eof(self) -> None:
        """The server closed the connection before the handshake completed: raise why."""
        if self._done:
            return
        self._done = True
        if self._rejected is not None:
            self._rejected.body = self._buffer[: self.max_body_size]
            raise self._rejected
        raise HandshakeError("connection closed during the opening handshake", 0)

    def _reject(self) -> None:
        assert self._rejected is not None
        self._done = True
        self._rejected.body = self._buffer[: self._body_wanted]
        raise self._rejected

    def _body_length(self, raw: list[tuple[bytes, bytes]]) -> int:
        """How many body bytes to wait for before reporting a refusal: Content-Length, bounded."""
        try:
            return min(content_length(_values(raw, b"content-length")), self.max_body_size)
        except ValueError:  # none, or not one valid length: report at once
            return 0

    def _parse_head(self, end: int) -> tuple[int, list[tuple[bytes, bytes]]]:
        """The status code and the field lines of the response head that ends at `end` (its CRLFCRLF)."""
        buffer = self._buffer
        line_end = buffer.find(b"\r\n")
        match = STATUS_LINE_RE.fullmatch(buffer, 0, line_end)
        if match is None or match.group(1) != b"1":
            raise HandshakeError(f"invalid status line {buffer[: min(line_end, 100)]!r}", 0)
        fields = parse_field_lines(buffer, line_end, end + 2)
        if fields is None:
            raise HandshakeError(field_lines_error(buffer[line_end + 2 : end + 2]) + " of the response", 0)
        if len(fields) > self.max_headers:
            raise HandshakeError("too many headers in the response", 0)
        status = int(match.group(3))
        if not 100 <= status <= 599:
            # RFC 9110 section 15: no valid status lies outside; InvalidStatus(0) would read as "malformed".
            raise HandshakeError(f"invalid status code {status}", 0)
        return status, fields

    def _validate(self, headers: list[tuple[str, str]], raw: list[tuple[bytes, bytes]]) -> ClientHandshakeResult:
        """RFC 6455 section 4.2.2, items 5.2 to 5.6, from the client's side."""
        if comma_list(_values(raw, b"upgrade"), lower=True) != [b"websocket"]:
            raise HandshakeError("response Upgrade is not 'websocket'", 0)
        if b"upgrade" not in comma_list(_values(raw, b"connection"), lower=True):
            raise HandshakeError("missing 'upgrade' in the response's Connection", 0)
        accepts = _values(raw, b"sec-websocket-accept")
        if accepts != [accept_key(self.key).encode("ascii")]:
            raise HandshakeError("wrong Sec-WebSocket-Accept", 0)
        protocols = comma_list(_values(raw, b"sec-websocket-protocol"))
        subprotocol = None
        if protocols:
            if len(protocols) > 1:
                raise HandshakeError("several subprotocols in the response", 0)
            subprotocol = protocols[0].decode("latin-1")
            if subprotocol not in self.subprotocols:
                raise HandshakeError(f"subprotocol {subprotocol!r} was not offered", 0)
        extensions: list[Extension] = []
        try:
            answers = parse_extensions(_values(raw, b"sec-websocket-extensions"))
        except ValueError as exc:
            raise HandshakeError(f"invalid Sec-WebSocket-Extensions: {exc}", 0) from None
        for answer in answers:
            if answer.name.lower() != EXTENSION_NAME or self.compression is None or extensions:
                raise HandshakeError(f"extension {answer.name!r} was not offered", 0)
            extensions.append(self.compression.accept_response(answer.params))
        result = ClientHandshakeResult(subprotocol, extensions, headers, self._buffer, raw)
        self._buffer = b""
        return result
