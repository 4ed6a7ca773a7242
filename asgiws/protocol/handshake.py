"""RFC 6455 section 4: the WebSocket opening handshake, both sides, sans-I/O.

Server side: the HTTP/1.1 parser hands over the request head (method,
version, lowercased header names); `parse_upgrade_request` validates it and
`accept_response` / `reject_response` build the bytes to answer with.

Client side: `ClientHandshake` builds the request bytes and parses the
server's response incrementally; whatever follows the response head is
returned as `leftover`, since it is already WebSocket frames.

Errors are `HandshakeError` carrying the HTTP status (server side) or the
status received (client side, 0 for a malformed response); an application
asking for an impossible accept (a subprotocol the client did not offer, a
header with CR/LF) gets `InvalidAccept`, a ValueError the server treats as an
application error.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import http
import os
import re
from typing import Iterable, Sequence

from . import limits
from .deflate import EXTENSION_NAME, DeflateSettings, ExtensionOffer, parse_extensions, serialize_extensions
from .errors import HandshakeError, InvalidStatus
from .extensions import Extension
from .http11 import error_body

__all__ = [
    "WEBSOCKET_GUID",
    "accept_key",
    "is_websocket_upgrade",
    "InvalidAccept",
    "UpgradeRequest",
    "parse_upgrade_request",
    "accept_response",
    "reject_response",
    "ClientHandshake",
    "ClientHandshakeResult",
]

#: RFC 6455 section 1.3: appended to the client's key before hashing.
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

_TOKEN_RE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# field-value: visible characters, spaces and tabs, obs-text; never CR, LF or NUL.
_FORBIDDEN_IN_VALUE_RE = re.compile(rb"[\x00\r\n]")


class InvalidAccept(ValueError):
    """The application's accept cannot be sent: unknown subprotocol or invalid header."""


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)), RFC 6455 section 4.2.2."""
    digest = hashlib.sha1((key + WEBSOCKET_GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def _tokens(values: Iterable[bytes]) -> list[bytes]:
    """Elements of comma-separated header values (RFC 7230 #rule), stripped, empty ones dropped."""
    return [item for value in values for item in (part.strip(b" \t") for part in value.split(b",")) if item]


def _values(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [value for key, value in headers if key == name]


def is_websocket_upgrade(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """True when the request asks to upgrade to WebSocket (its `Upgrade` lists "websocket").

    The server uses this to choose between the HTTP and the WebSocket paths;
    the rest of the request is checked by `parse_upgrade_request`.
    """
    return any(token.lower() == b"websocket" for token in _tokens(_values(headers, b"upgrade")))


@dataclasses.dataclass(frozen=True)
class UpgradeRequest:
    """A valid opening handshake request, with what the ASGI scope and the response need."""

    key: str
    subprotocols: list[str]
    extensions: list[ExtensionOffer]
    http_version: str
    headers: list[tuple[bytes, bytes]]


def _http_version(version: str | bytes) -> str:
    text = version.decode("ascii", "replace") if isinstance(version, bytes) else version
    return text[5:] if text.upper().startswith("HTTP/") else text


def parse_upgrade_request(
    method: str | bytes, http_version: str | bytes, headers: list[tuple[bytes, bytes]]
) -> UpgradeRequest:
    """Validate an opening handshake (RFC 6455 section 4.2.1); raise HandshakeError with the status to send.

    `headers` are (lowercased name, value) pairs as the HTTP/1.1 parser gives
    them. A method other than GET is answered 400 (the RFC's "such as 400":
    the resource may well accept other methods over plain HTTP, so 405 would
    mislead); a missing or unsupported Sec-WebSocket-Version is answered 426,
    which `reject_response` completes with "Sec-WebSocket-Version: 13".
    A malformed Sec-WebSocket-Extensions only declines compression: the
    connection can work without it.
    """
    if (method.encode() if isinstance(method, str) else method) != b"GET":
        raise HandshakeError("WebSocket handshake must use GET", 400)
    version = _http_version(http_version)
    try:
        major, minor = (int(part) for part in version.split("."))
    except ValueError:
        raise HandshakeError(f"invalid HTTP version {version!r}", 400) from None
    if (major, minor) < (1, 1):
        raise HandshakeError("WebSocket handshake needs HTTP/1.1 or later", 400)
    if not is_websocket_upgrade(headers):
        raise HandshakeError("missing 'websocket' in Upgrade", 400)
    if not any(token.lower() == b"upgrade" for token in _tokens(_values(headers, b"connection"))):
        raise HandshakeError("missing 'upgrade' in Connection", 400)
    if [value.strip(b" \t") for value in _values(headers, b"sec-websocket-version")] != [b"13"]:
        raise HandshakeError("unsupported Sec-WebSocket-Version", 426)
    keys = _values(headers, b"sec-websocket-key")
    if len(keys) != 1:
        raise HandshakeError("need exactly one Sec-WebSocket-Key", 400)
    key = keys[0].strip(b" \t")
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError
    except (binascii.Error, ValueError):
        raise HandshakeError("Sec-WebSocket-Key is not base64 of 16 bytes", 400) from None
    subprotocols = [token.decode("latin-1") for token in _tokens(_values(headers, b"sec-websocket-protocol"))]
    try:
        extensions = parse_extensions(_values(headers, b"sec-websocket-extensions"))
    except ValueError:
        extensions = []
    return UpgradeRequest(key.decode("ascii"), subprotocols, extensions, version, headers)


def _header_line(name: bytes | str, value: bytes | str) -> bytes:
    """One `name: value` line; InvalidAccept if the name is not a token or the value has CR, LF or NUL."""
    name_bytes = name.encode("latin-1") if isinstance(name, str) else bytes(name)
    value_bytes = value.encode("latin-1") if isinstance(value, str) else bytes(value)
    if not _TOKEN_RE.fullmatch(name_bytes):
        raise InvalidAccept(f"invalid header name {name_bytes!r}")
    if _FORBIDDEN_IN_VALUE_RE.search(value_bytes):
        raise InvalidAccept(f"invalid value for header {name_bytes!r}")
    return name_bytes + b": " + value_bytes + b"\r\n"


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
        lines.append(_header_line(b"Sec-WebSocket-Protocol", subprotocol))
    extensions: list[Extension] = []
    if compression is not None and request.extensions:
        negotiated = compression.negotiate(request.extensions)
        if negotiated is not None:
            response, extension = negotiated
            lines.append(b"Sec-WebSocket-Extensions: " + serialize_extensions([response]).encode("ascii") + b"\r\n")
            extensions.append(extension)
    for name, value in headers:
        if (name.encode("latin-1") if isinstance(name, str) else bytes(name)).lower() in _HANDSHAKE_HEADERS:
            raise InvalidAccept(f"header {name!r} is set by the handshake")
        lines.append(_header_line(name, value))
    lines.append(b"\r\n")
    return b"".join(lines), extensions


def reject_response(
    status: int, body: bytes | None = None, headers: Iterable[tuple[bytes, bytes]] = ()
) -> bytes:
    """A complete HTTP/1.1 response refusing the handshake, closing the connection.

    The body defaults to the one of the server's own HTTP error responses
    (the status phrase) as text/plain. A 426 carries
    `Sec-WebSocket-Version: 13` (RFC 6455 section 4.4), the version we speak.
    """
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    if body is None:
        body = error_body(status)
    lines = [f"HTTP/1.1 {status} {phrase}\r\n".encode("ascii")]
    names = set()
    for name, value in headers:
        names.add(bytes(name).lower())
        lines.append(_header_line(name, value))
    if status == 426 and b"sec-websocket-version" not in names:
        lines.append(b"Sec-WebSocket-Version: 13\r\n")
    if b"content-type" not in names:
        lines.append(b"Content-Type: text/plain; charset=utf-8\r\n")
    lines.append(b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
    lines.append(body)
    return b"".join(lines)


# ---------------------------------------------------------------------------
# Client side, RFC 6455 sections 4.1 and 4.2.2.


@dataclasses.dataclass
class ClientHandshakeResult:
    """A successful handshake: what was negotiated, and the bytes already received past the head."""

    subprotocol: str | None
    extensions: list[Extension]
    headers: list[tuple[str, str]]
    leftover: bytes


_STATUS_LINE_RE = re.compile(rb"HTTP/1\.[0-9] ([0-9]{3})(?: [^\r\n]*)?")
_HEADER_LINE_RE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\r\n\x00]*?)[ \t]*")


class ClientHandshake:
    """The client's opening handshake: `request` to send, then `receive_data` until a result.

    `receive_data` returns None while the response head is incomplete, a
    `ClientHandshakeResult` on success, and raises `InvalidStatus` for a
    non-101 answer (with its body when Content-Length announces one of at
    most `max_body_size` bytes) or `HandshakeError` (status 0) for an invalid
    one. `receive_eof` reports the end of the stream.
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
        if not resource.startswith("/") or re.search(r"[^\x21-\x7e]", resource):
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
        lines = [
            f"GET {resource} HTTP/1.1\r\n".encode("ascii"),
            _header_line(b"Host", authority.encode("idna") if not authority.isascii() else authority),
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ",
            self.key.encode("ascii"),
            b"\r\nSec-WebSocket-Version: 13\r\n",
        ]
        if origin is not None:
            lines.append(_header_line(b"Origin", origin))
        if self.subprotocols:
            for subprotocol in self.subprotocols:
                if not _TOKEN_RE.fullmatch(subprotocol.encode("latin-1")):
                    raise ValueError(f"invalid subprotocol {subprotocol!r}")
            lines.append(_header_line(b"Sec-WebSocket-Protocol", ", ".join(self.subprotocols)))
        if compression is not None:
            lines.append(_header_line(b"Sec-WebSocket-Extensions", serialize_extensions([compression.offer()])))
        if user_agent is not None:
            lines.append(_header_line(b"User-Agent", user_agent))
        for name, value in headers:
            lines.append(_header_line(name, value))
        lines.append(b"\r\n")
        #: The request bytes to send.
        self.request = b"".join(lines)

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
        head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
        try:
            status, headers = self._parse_head(head)
        except HandshakeError:
            self._done = True
            raise
        if status != 101:
            self._rejected = InvalidStatus(status, headers)
            self._body_wanted = self._body_length(headers)
            if len(self._buffer) >= self._body_wanted:
                self._reject()
            return None
        self._done = True
        return self._validate(headers)

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

    def _body_length(self, headers: list[tuple[str, str]]) -> int:
        """How many body bytes to wait for before reporting a refusal: Content-Length, bounded."""
        lengths = [value for name, value in headers if name.lower() == "content-length"]
        if len(lengths) == 1 and lengths[0].isdigit():
            return min(int(lengths[0]), self.max_body_size)
        return 0

    def _parse_head(self, head: bytes) -> tuple[int, list[tuple[str, str]]]:
        lines = head.split(b"\r\n")
        match = _STATUS_LINE_RE.fullmatch(lines[0])
        if match is None:
            raise HandshakeError(f"invalid status line {lines[0][:100]!r}", 0)
        if len(lines) - 1 > self.max_headers:
            raise HandshakeError("too many headers in the response", 0)
        headers = []
        for line in lines[1:]:
            header = _HEADER_LINE_RE.fullmatch(line)
            if header is None:  # also rejects obs-fold (RFC 7230 section 3.2.4)
                raise HandshakeError(f"invalid header line {line[:100]!r}", 0)
            headers.append((header.group(1).decode("ascii"), header.group(2).decode("latin-1")))
        return int(match.group(1)), headers

    def _validate(self, headers: list[tuple[str, str]]) -> ClientHandshakeResult:
        """RFC 6455 section 4.2.2, items 5.2 to 5.6, from the client's side."""
        raw = [(name.lower().encode("ascii"), value.encode("latin-1")) for name, value in headers]
        if [token.lower() for token in _tokens(_values(raw, b"upgrade"))] != [b"websocket"]:
            raise HandshakeError("response Upgrade is not 'websocket'", 0)
        if not any(token.lower() == b"upgrade" for token in _tokens(_values(raw, b"connection"))):
            raise HandshakeError("missing 'upgrade' in the response's Connection", 0)
        accepts = _values(raw, b"sec-websocket-accept")
        if len(accepts) != 1 or accepts[0].decode("latin-1") != accept_key(self.key):
            raise HandshakeError("wrong Sec-WebSocket-Accept", 0)
        protocols = _tokens(_values(raw, b"sec-websocket-protocol"))
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
        result = ClientHandshakeResult(subprotocol, extensions, headers, self._buffer)
        self._buffer = b""
        return result
