"""HTTP/1.1 on the server side (RFC 9112): an incremental request parser and response framing.

`RequestParser` turns the bytes a client sends into events: one `Request`
(the head), zero or more `Data` (the body, streamed as it arrives) and one
`EndOfMessage` (with the trailers of a chunked body), then the next request
of a pipeline. `ResponseWriter` turns a status, headers and body chunks into
the bytes to send, choosing Content-Length, chunked or close-delimited framing.

Choices where the RFC leaves room, stated once:

- Lines end with CRLF. A bare LF (RFC 9112 section 2.2 "MAY" accept it) and a
  bare CR are rejected with 400: one terminator for everyone leaves nothing
  for a proxy in front of us to interpret differently (request smuggling).
- Empty lines before a request line are skipped (RFC 9112 section 2.2).
- Transfer-Encoding whose final coding is not ``chunked``, or with ``chunked``
  twice, is 400 (RFC 9112 sections 6.3 and 7); other codings before
  ``chunked`` (``gzip, chunked``) are 501, since we decode none of them
  (RFC 9112 section 6.1).
- Chunk extensions are ignored (no control bytes allowed in them); a chunk
  size has at most 16 hex digits; trailer fields are parsed like header
  fields, under the same limits, and returned in `EndOfMessage.trailers`.
- A missing Host is tolerated, as uvicorn does; several Host fields are 400.
- Any HTTP/1.x minor version above 1 is handled as 1.1 (RFC 9110 section 2.5).

After any error the parser is dead: every later call raises the same error.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Iterable, Union

from . import limits
from .errors import HTTPError

__all__ = [
    "NEED_DATA",
    "PAUSED",
    "Request",
    "Data",
    "EndOfMessage",
    "Event",
    "RequestParser",
    "InvalidResponse",
    "ResponseWriter",
    "CONTINUE_RESPONSE",
    "status_line",
]


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


NEED_DATA = _Sentinel("NEED_DATA")
"""`next_event()` needs more bytes before it can return another event."""

PAUSED = _Sentinel("PAUSED")
"""The last request asked for an Upgrade: the server must call
`take_trailing_data()` (switching protocols) or `resume()` (declining)."""


class Request:
    """The head of a request.

    `headers` are (lowercased name, value) pairs in the order received, as
    ASGI wants them. `upgrade` is the lowercased Upgrade value when the
    Connection header lists ``upgrade`` (``b"websocket"`` for a WebSocket
    handshake; several protocols are joined with ``,``), else None.
    `content_length` is the declared body length (None when absent or
    chunked); `chunked` says the body uses the chunked coding.
    """

    __slots__ = (
        "method",
        "target",
        "http_version",
        "headers",
        "keep_alive",
        "expect_continue",
        "upgrade",
        "content_length",
        "chunked",
    )

    def __init__(
        self,
        method: str,
        target: bytes,
        http_version: str,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool = True,
        expect_continue: bool = False,
        upgrade: bytes | None = None,
        content_length: int | None = None,
        chunked: bool = False,
    ) -> None:
        self.method = method
        self.target = target
        self.http_version = http_version
        self.headers = headers
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.upgrade = upgrade
        self.content_length = content_length
        self.chunked = chunked

    def _key(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return self._key() == other._key()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Request({fields})"


class Data:
    """A piece of a request body, in order; pieces are not aligned to chunks."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Data):
            return NotImplemented
        return self.data == other.data

    def __repr__(self) -> str:
        return f"Data({self.data!r})"


class EndOfMessage:
    """The request body is complete; `trailers` come from a chunked body."""

    __slots__ = ("trailers",)

    def __init__(self, trailers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.trailers = trailers if trailers is not None else []

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EndOfMessage):
            return NotImplemented
        return self.trailers == other.trailers

    def __repr__(self) -> str:
        return f"EndOfMessage(trailers={self.trailers!r})"


Event = Union[Request, Data, EndOfMessage, _Sentinel]

# RFC 9110 section 5.6.2: tchar.
_TCHAR = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
# RFC 9110 section 5.5: a field value is field-vchar (VCHAR / obs-text) with
# SP and HTAB allowed inside, never at either end (those are OWS around it).
# Each field line is matched from the CRLF that ends the line before it, up
# to (not including) its own CRLF: a line with a bad byte anywhere, a bare CR
# or LF, or obs-fold (a line starting with SP/HTAB) yields no match, and the
# parser compares the number of matches with the number of lines. The OWS
# around the value is possessive and the value's end is found by a
# lookbehind, so a failing line costs linear time, never quadratic.
_FIELD_LINES = re.compile(
    rb"\r\n(" + _TCHAR + rb"+):[ \t]*+((?:[\t\x20-\x7e\x80-\xff]*(?<![ \t]))?)[ \t]*+(?=\r\n)"
)
# RFC 9112 section 3: request-line = method SP request-target SP HTTP-version.
# The target is any run of visible bytes; the server interprets it.
_REQUEST_LINE = re.compile(rb"(" + _TCHAR + rb"+) ([\x21-\x7e\x80-\xff]+) HTTP/([0-9])\.([0-9])")
# RFC 9112 section 7.1: chunk-size [ chunk-ext ] CRLF; extensions are ignored
# but may not hold control characters.
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})(?:[ \t]*;[\t\x20-\x7e\x80-\xff]*)?")
_DIGITS = re.compile(rb"[0-9]{1,19}")

_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")}

# Parser states.
_HEAD = 0
_BODY = 1  # Content-Length body; self._remaining bytes left
_CHUNK_SIZE_LINE = 2
_CHUNK_DATA = 3  # self._remaining bytes of the current chunk left
_CHUNK_END = 4  # the CRLF after chunk data
_TRAILERS = 5
_PAUSED = 6  # after an Upgrade request
_SWITCHED = 7  # trailing data taken; not HTTP anymore

# Headers that change how a request is framed or handled.
_CONTENT_LENGTH = b"content-length"
_TRANSFER_ENCODING = b"transfer-encoding"
_CONNECTION = b"connection"
_EXPECT = b"expect"
_UPGRADE = b"upgrade"
_HOST = b"host"
_SPECIAL = frozenset((_CONTENT_LENGTH, _TRANSFER_ENCODING, _CONNECTION, _EXPECT, _UPGRADE, _HOST))


def _comma_list(values: list[bytes]) -> list[bytes]:
    """RFC 9110 section 5.6.1: the lowercased, non-empty members of #element lists."""
    items = []
    for value in values:
        for item in value.split(b","):
            item = item.strip(b" \t")
            if item:
                items.append(item.lower())
    return items


class RequestParser:
    """Incremental HTTP/1.1 request parser (server side), sans I/O.

    Call `feed(data)` with whatever the socket gave, then `next_event()` until
    it returns `NEED_DATA`. The server may stop pulling events between
    requests (pipelining): unparsed bytes stay buffered; `buffered` tells how
    many, so the server can pause reading. After an Upgrade request's
    EndOfMessage it returns `PAUSED` until `take_trailing_data()` or
    `resume()`. The search for the end of a head resumes where the last one
    stopped, so a head sent a byte at a time costs linear time.
    """

    __slots__ = (
        "max_request_line",
        "max_header_block",
        "max_headers",
        "max_body_size",
        "_buf",
        "_scan",
        "_state",
        "_remaining",
        "_body_size",
        "_upgrade",
        "_error",
    )

    def __init__(
        self,
        max_request_line: int = limits.MAX_REQUEST_LINE,
        max_header_block: int = limits.MAX_HEADER_BLOCK,
        max_headers: int = limits.MAX_HEADERS,
        max_body_size: int | None = None,
    ) -> None:
        self.max_request_line = max_request_line
        self.max_header_block = max_header_block
        self.max_headers = max_headers
        self.max_body_size = max_body_size
        self._buf = bytearray()
        self._scan = 0  # where the search for the end of the head resumes
        self._state = _HEAD
        self._remaining = 0
        self._body_size = 0
        self._upgrade = False
        self._error: HTTPError | None = None

    @property
    def buffered(self) -> int:
        """How many received bytes are not parsed yet."""
        return len(self._buf)

    @property
    def between_requests(self) -> bool:
        """True when no part of a request has been parsed or buffered."""
        return self._state == _HEAD and not self._buf

    def feed(self, data: bytes) -> None:
        """Add bytes received from the client."""
        if self._error is not None:
            raise self._error
        self._buf += data

    def take_trailing_data(self) -> bytes:
        """Switch protocols: return the bytes buffered after the request, and stop parsing."""
        data = bytes(self._buf)
        self._buf.clear()
        self._state = _SWITCHED
        return data

    def resume(self) -> None:
        """Decline an Upgrade: go on parsing HTTP/1.1 requests."""
        if self._state == _PAUSED:
            self._state = _HEAD

    def next_event(self) -> Event:
        """The next event, `NEED_DATA`, or `PAUSED`; raises HTTPError on bad input."""
        if self._error is not None:
            raise self._error
        try:
            state = self._state
            if state == _HEAD:
                return self._parse_head()
            if state == _BODY:
                return self._parse_body()
            if state >= _PAUSED:
                return PAUSED
            return self._parse_chunked()
        except HTTPError as exc:
            self._error = exc
            self._buf.clear()
            raise

    # -- request head ------------------------------------------------------

    def _parse_head(self) -> Event:
        buf = self._buf
        if not buf:
            return NEED_DATA
        # RFC 9112 section 2.2: ignore empty lines before the request line.
        if buf[0] == 0x0D:
            while buf[:2] == b"\r\n":
                del buf[:2]
        end = buf.find(b"\r\n\r\n", self._scan)
        if end < 0:
            self._check_partial_head()
            return NEED_DATA
        self._scan = 0
        line_end = buf.find(b"\r\n")
        if line_end > self.max_request_line:
            raise HTTPError("request line too long", 414)
        if end - line_end > self.max_header_block:
            raise HTTPError("header block too large", 431)
        match = _REQUEST_LINE.fullmatch(buf, 0, line_end)
        if match is None:
            raise HTTPError("invalid request line", 400)
        method_bytes, target, major, minor = match.groups()
        if major != b"1":
            raise HTTPError("unsupported HTTP version", 505)
        http_version = "1.0" if minor == b"0" else "1.1"
        method = _METHODS.get(method_bytes) or method_bytes.decode("ascii")

        # Field lines, each matched from the CRLF before it; a line that does
        # not match entirely is missing from the result, so counting the
        # lines catches it (see _FIELD_LINES).
        fields = _FIELD_LINES.findall(buf, line_end, end + 2)
        # Every LF in a valid block ends a line (one-byte count is the fast one).
        if len(fields) != buf.count(b"\n", line_end, end):
            raise _invalid_field_block(bytes(buf[line_end + 2 : end + 2]))
        del buf[: end + 4]
        if len(fields) > self.max_headers:
            raise HTTPError("too many header fields", 431)
        headers = []
        special = None
        for name, value in fields:
            name = name.lower()
            headers.append((name, value))
            if name in _SPECIAL:
                if special is None:
                    special = {}
                special.setdefault(name, []).append(value)

        request = Request(method, target, http_version, headers, http_version == "1.1")
        if special is not None:
            self._apply_special(request, special)
        return self._start_body(request)

    def _check_partial_head(self) -> None:
        buf = self._buf
        size = len(buf)
        start = self._scan
        # A bare LF can never be part of a valid head: fail now rather than
        # waiting for a CRLFCRLF that a LF-speaking client will never send.
        start = max(start - 1, 0)
        if buf.count(b"\n", start + 1) != buf.count(b"\r\n", start):
            raise HTTPError("bare LF in request head", 400)
        self._scan = max(size - 3, 0)
        line_end = buf.find(b"\r\n", 0, self.max_request_line + 2)
        if line_end < 0:
            if size > self.max_request_line:
                raise HTTPError("request line too long", 414)
        elif size - line_end > self.max_header_block + 4:
            raise HTTPError("header block too large", 431)

    def _apply_special(self, request: Request, special: dict[bytes, list[bytes]]) -> None:
        """Framing and connection handling from the fields that drive them."""
        hosts = special.get(_HOST)
        if hosts is not None and len(hosts) > 1:
            raise HTTPError("several Host fields", 400)

        connection = special.get(_CONNECTION)
        tokens = _comma_list(connection) if connection else ()
        if b"close" in tokens:
            request.keep_alive = False
        elif request.http_version == "1.0" and b"keep-alive" in tokens:
            request.keep_alive = True

        upgrade = special.get(_UPGRADE)
        if upgrade is not None and b"upgrade" in tokens:
            request.upgrade = b",".join(_comma_list(upgrade))

        expect = special.get(_EXPECT)
        if expect is not None and request.http_version == "1.1":
            # RFC 9110 section 10.1.1: ignored in HTTP/1.0 requests.
            request.expect_continue = b"100-continue" in _comma_list(expect)

        lengths = special.get(_CONTENT_LENGTH)
        codings = special.get(_TRANSFER_ENCODING)
        if codings is not None:
            if lengths is not None:
                raise HTTPError("both Content-Length and Transfer-Encoding", 400)
            if request.http_version == "1.0":
                raise HTTPError("Transfer-Encoding in an HTTP/1.0 request", 400)
            items = _comma_list(codings)
            if not items or items[-1] != b"chunked":
                raise HTTPError("chunked is not the final transfer coding", 400)
            if items.count(b"chunked") > 1:
                # RFC 9112 section 7: chunked MUST NOT be applied more than once.
                raise HTTPError("chunked applied more than once", 400)
            if len(items) > 1:
                raise HTTPError("unsupported transfer coding", 501)
            request.chunked = True
        elif lengths is not None:
            values = set()
            for value in lengths:
                for item in value.split(b","):
                    values.add(item.strip(b" \t"))
            if len(values) != 1:
                raise HTTPError("conflicting Content-Length values", 400)
            (value,) = values
            if _DIGITS.fullmatch(value) is None:
                raise HTTPError("invalid Content-Length", 400)
            request.content_length = int(value)

    def _start_body(self, request: Request) -> Request:
        self._upgrade = request.upgrade is not None
        if request.chunked:
            self._state = _CHUNK_SIZE_LINE
            self._body_size = 0
        else:
            length = request.content_length or 0
            if self.max_body_size is not None and length > self.max_body_size:
                raise HTTPError("request body too large", 413)
            self._remaining = length
            self._state = _BODY
        return request

    # -- request body ------------------------------------------------------

    def _end_of_message(self, trailers: list[tuple[bytes, bytes]] | None = None) -> EndOfMessage:
        self._state = _PAUSED if self._upgrade else _HEAD
        return EndOfMessage(trailers)

    def _parse_body(self) -> Event:
        remaining = self._remaining
        if remaining == 0:
            return self._end_of_message()
        buf = self._buf
        if not buf:
            return NEED_DATA
        if len(buf) <= remaining:
            data = bytes(buf)
            buf.clear()
        else:
            data = bytes(buf[:remaining])
            del buf[:remaining]
        self._remaining = remaining - len(data)
        return Data(data)

    def _parse_chunked(self) -> Event:
        buf = self._buf
        while True:
            state = self._state
            if state == _CHUNK_DATA:
                if not buf:
                    return NEED_DATA
                remaining = self._remaining
                if len(buf) <= remaining:
                    data = bytes(buf)
                    buf.clear()
                else:
                    data = bytes(buf[:remaining])
                    del buf[:remaining]
                self._remaining = remaining = remaining - len(data)
                if remaining == 0:
                    self._state = _CHUNK_END
                return Data(data)
            if state == _CHUNK_END:
                if len(buf) < 2:
                    if buf and buf[0] != 0x0D:
                        raise HTTPError("missing CRLF after chunk data", 400)
                    return NEED_DATA
                if buf[:2] != b"\r\n":
                    raise HTTPError("missing CRLF after chunk data", 400)
                del buf[:2]
                self._state = _CHUNK_SIZE_LINE
            elif state == _CHUNK_SIZE_LINE:
                end = buf.find(b"\r\n", 0, self.max_request_line + 2)
                if end < 0:
                    if len(buf) > self.max_request_line:
                        raise HTTPError("chunk size line too long", 400)
                    if b"\n" in buf:
                        raise HTTPError("bare LF in chunk size line", 400)
                    return NEED_DATA
                match = _CHUNK_SIZE.fullmatch(buf, 0, end)
                if match is None:
                    raise HTTPError("invalid chunk size line", 400)
                size = int(match.group(1), 16)
                del buf[: end + 2]
                if size == 0:
                    self._state = _TRAILERS
                    continue
                self._body_size += size
                if self.max_body_size is not None and self._body_size > self.max_body_size:
                    raise HTTPError("request body too large", 413)
                self._remaining = size
                self._state = _CHUNK_DATA
            else:  # _TRAILERS
                if buf[:2] == b"\r\n":
                    del buf[:2]
                    return self._end_of_message()
                end = buf.find(b"\r\n\r\n", self._scan)
                if end < 0:
                    if len(buf) > self.max_header_block:
                        raise HTTPError("trailer block too large", 431)
                    start = max(self._scan - 1, 0)
                    if buf.count(b"\n", start + 1) != buf.count(b"\r\n", start):
                        raise HTTPError("bare LF in trailers", 400)
                    self._scan = max(len(buf) - 3, 0)
                    return NEED_DATA
                self._scan = 0
                if end + 2 > self.max_header_block:
                    raise HTTPError("trailer block too large", 431)
                block = b"\r\n" + buf[: end + 2]
                del buf[: end + 4]
                fields = _FIELD_LINES.findall(block)
                if len(fields) != block.count(b"\r\n") - 1:
                    raise _invalid_field_block(block[2:])
                if len(fields) > self.max_headers:
                    raise HTTPError("too many trailer fields", 431)
                return self._end_of_message([(name.lower(), value) for name, value in fields])


def _invalid_field_block(block: bytes) -> HTTPError:
    """The error for a field block that failed validation, naming the first bad line."""
    for line in block.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            return HTTPError("obsolete line folding in header", 400)
        if b"\n" in line or b"\r" in line:
            return HTTPError("bare CR or LF in header", 400)
        name, colon, _ = line.partition(b":")
        if line and (not colon or not re.fullmatch(_TCHAR + rb"+", name)):
            return HTTPError("invalid header name", 400)
    return HTTPError("invalid header value", 400)


# -- responses -------------------------------------------------------------


class InvalidResponse(ValueError):
    """The application asked for a response that cannot be sent; answer 500 (or close)."""


CONTINUE_RESPONSE = b"HTTP/1.1 100 Continue\r\n\r\n"
"""RFC 9110 section 15.2.1: the interim response to ``Expect: 100-continue``."""

_STATUS_LINES: dict[tuple[int, str], bytes] = {}
_VALID_NAME = re.compile(_TCHAR + rb"+")
_VALID_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")


def status_line(status: int, http_version: str = "1.1") -> bytes:
    """``HTTP/1.1 200 OK\\r\\n``, with the reason phrase from http.HTTPStatus; cached."""
    key = (status, http_version)
    line = _STATUS_LINES.get(key)
    if line is None:
        if type(status) is not int or not 100 <= status <= 999:
            raise InvalidResponse(f"invalid status code {status!r}")
        try:
            reason = HTTPStatus(status).phrase.encode("ascii")
        except ValueError:
            reason = b""
        line = b"HTTP/%s %d %s\r\n" % (http_version.encode("ascii"), status, reason)
        if len(_STATUS_LINES) < 1024:
            _STATUS_LINES[key] = line
    return line


def error_body(status: int) -> bytes:
    """The body of a response the server makes up itself (400, 500, 503...): its reason phrase, or "Error"."""
    return status_line(status)[13:-2] or b"Error"  # after "HTTP/1.1 NNN ", before CRLF


# Framings.
NO_BODY = 0
CONTENT_LENGTH = 1
CHUNKED = 2
CLOSE_DELIMITED = 3


class ResponseWriter:
    """Frames one response: `head` bytes now, then `body(data)` and `end()`.

    The body framing follows RFC 9112 section 6: none for HEAD, 1xx, 204 and
    304 (a HEAD response keeps the application's Content-Length); the
    application's Content-Length when it gave one; otherwise chunked for
    HTTP/1.1 and close-delimited for HTTP/1.0. `keep_alive` tells whether the
    connection may carry another request once `end()` was sent.

    `extra` is raw, already valid header lines (``b"date: ...\\r\\n"``) that
    the server adds to every response.
    """

    __slots__ = ("head", "framing", "keep_alive", "_remaining")

    def __init__(
        self,
        status: int,
        headers: Iterable[tuple[bytes, bytes]],
        *,
        http_version: str = "1.1",
        head_request: bool = False,
        keep_alive: bool = True,
        extra: bytes = b"",
    ) -> None:
        # RFC 9110 section 2.5: we answer with our own version, 1.1, even to
        # 1.0 clients; `http_version` (the request's) only decides framing.
        parts = [status_line(status), extra]
        content_length = None
        chunked = False
        close_sent = False
        connection_sent = False
        try:
            for name, value in headers:
                if _VALID_NAME.fullmatch(name) is None:
                    raise InvalidResponse(f"invalid header name {name!r}")
                if _VALID_VALUE.fullmatch(value) is None:
                    raise InvalidResponse(f"invalid value for header {name!r}")
                lower = name.lower()
                if lower == b"content-length":
                    if _DIGITS.fullmatch(value.strip(b" \t")) is None:
                        raise InvalidResponse(f"invalid Content-Length {value!r}")
                    length = int(value)
                    if content_length is not None and content_length != length:
                        raise InvalidResponse("conflicting Content-Length headers")
                    content_length = length
                elif lower == b"transfer-encoding":
                    if _comma_list([value])[-1:] != [b"chunked"]:
                        raise InvalidResponse("a Transfer-Encoding must end with chunked")
                    if http_version == "1.0":
                        continue  # HTTP/1.0 has no chunked coding: the body will be close-delimited
                    chunked = True
                elif lower == b"connection":
                    connection_sent = True
                    if b"close" in _comma_list([value]):
                        keep_alive = False
                        close_sent = True
                parts += (name, b": ", value, b"\r\n")
        except InvalidResponse:
            raise
        except (TypeError, ValueError) as exc:
            # str instead of bytes, or an item that is not a (name, value) pair.
            raise InvalidResponse(f"response headers must be (bytes, bytes) pairs: {exc}") from None
        if chunked and content_length is not None:
            raise InvalidResponse("both Content-Length and Transfer-Encoding")

        if head_request or status < 200 or status == 204 or status == 304:
            framing = NO_BODY
        elif content_length is not None:
            framing = CONTENT_LENGTH
        elif chunked or http_version != "1.0":
            if not chunked:
                parts.append(b"transfer-encoding: chunked\r\n")
            framing = CHUNKED
        else:
            framing = CLOSE_DELIMITED
            keep_alive = False
        if status == 101:
            keep_alive = False  # the connection is not HTTP anymore
        elif http_version == "1.0":
            if keep_alive and not connection_sent:
                parts.append(b"connection: keep-alive\r\n")
        elif not keep_alive and not close_sent:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        self.head = b"".join(parts)
        self.framing = framing
        self.keep_alive = keep_alive
        self._remaining = content_length or 0

    def body(self, data: bytes) -> bytes:
        """The bytes to send for a piece of the body (none for bodiless responses)."""
        framing = self.framing
        if framing == CONTENT_LENGTH:
            remaining = self._remaining - len(data)
            if remaining < 0:
                raise InvalidResponse("response body longer than its Content-Length")
            self._remaining = remaining
            return data
        if framing == CHUNKED:
            if not data:
                return b""  # an empty chunk would end the body
            return b"%x\r\n%b\r\n" % (len(data), data)
        if framing == CLOSE_DELIMITED:
            return data
        return b""

    def end(self) -> bytes:
        """The bytes that end the body; raises if a Content-Length body came up short."""
        if self.framing == CHUNKED:
            return b"0\r\n\r\n"
        if self.framing == CONTENT_LENGTH and self._remaining:
            self.keep_alive = False
            raise InvalidResponse("response body shorter than its Content-Length")
        return b""
