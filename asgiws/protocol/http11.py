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
- An HTTP/1.1 request without a Host field is 400, as RFC 9112 section 3.2
  requires (uvicorn accepts it); so are several Host fields. HTTP/1.0 may
  omit Host, which it predates.
- The request target is US-ASCII (RFC 9112 section 3.2, RFC 3986): a raw
  byte above 0x7F in it makes the request line invalid, 400 (section 3).
- Any HTTP/1.x minor version above 1 is handled as 1.1 (RFC 9110 section 2.5).

After any error the parser is dead: every later call raises the same error.
Its states and the moves between them are `ParserState` and `TRANSITIONS`;
the grammar it reads is `grammar`'s, shared with the opening handshake.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from http import HTTPStatus

from . import grammar, limits
from .errors import HTTPError
from .grammar import comma_list, content_length, field_lines_error, parse_field_lines
from .request_head import head_error, parse_request_head

__all__ = [
    "NEED_DATA",
    "PAUSED",
    "Request",
    "Data",
    "EndOfMessage",
    "Event",
    "ParserState",
    "ParserStep",
    "TRANSITIONS",
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

    `special_fields` holds, by lowercased name, the values of the fields the
    protocol core acts on: framing and connection handling (read here) and
    the Sec-WebSocket-* fields of an opening handshake (read by
    `handshake.parse_upgrade_request`), so that nobody walks `headers` again.
    It follows from `headers`, so equality leaves it out.
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
        "special_fields",
    )

    def __init__(
        self,
        method: str,
        target: bytes,
        http_version: str,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool = True,
        special_fields: dict[bytes, list[bytes]] | None = None,
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
        self.special_fields = special_fields if special_fields is not None else {}

    def _key(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__[:-1])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return self._key() == other._key()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__[:-1])
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


Event = Request | Data | EndOfMessage | _Sentinel

# grammar's rules, as the per-request code calls them. Module names of our own,
# not `from grammar import`: CPython compiles ``NAME.fullmatch(...)`` into a
# cheap method call only when NAME was not bound by an import statement.
_match_chunk_size_line = grammar.CHUNK_SIZE_LINE_RE.fullmatch
_match_token = grammar.TOKEN_RE.fullmatch
_match_field_value = grammar.FIELD_VALUE_RE.fullmatch
_match_content_length = grammar.CONTENT_LENGTH_RE.fullmatch
_find_not_field_char = grammar.NOT_FIELD_CHAR_RE.search


# -- the parser's states ----------------------------------------------------


class ParserState(enum.IntEnum):
    """Where `RequestParser` is in the byte stream.

    An IntEnum: states key the `TRANSITIONS` table, and an int's hash keeps
    its lookups as cheap as the bare integers they replace.
    """

    HEAD = 0  # a request head is next (between requests, or part of one buffered)
    BODY = 1  # in a Content-Length body (or an empty one): `_remaining` bytes left
    CHUNK_SIZE = 2  # a chunk-size line is next
    CHUNK_DATA = 3  # in a chunk: `_remaining` bytes left
    CHUNK_END = 4  # the CRLF after a chunk's data is next
    TRAILERS = 5  # after the last chunk: trailer fields, then an empty line
    PAUSED = 6  # an Upgrade request is complete: the server switches or declines
    SWITCHED = 7  # the server switched protocols: the bytes are not HTTP anymore
    FAILED = 8  # a request was rejected: every later call raises its error


class ParserStep(enum.IntEnum):
    """What the parser read (or was told) that moves it to another state."""

    LENGTH_HEAD = 0  # a head whose body has a Content-Length, or none
    CHUNKED_HEAD = 1  # a head whose body is chunked
    CHUNK = 2  # a chunk-size line, size > 0
    LAST_CHUNK = 3  # the chunk-size line of size 0
    CHUNK_READ = 4  # a chunk's last data byte
    CHUNK_CRLF = 5  # the CRLF that ends a chunk
    END = 6  # the end of a request (EndOfMessage)
    UPGRADE_END = 7  # the end of a request that asked for an Upgrade
    DECLINE = 8  # `resume()`: the server declined the Upgrade
    SWITCH = 9  # `take_trailing_data()`: the server switched protocols
    REJECT = 10  # invalid input: the parser is dead


_S = ParserState
_STEP = ParserStep

#: Every move of the parser, and the only place states change: state -> step -> next state.
#: A step missing here is a bug in this module (RuntimeError), never the peer's doing.
TRANSITIONS: dict[ParserState, dict[ParserStep, ParserState]] = {
    _S.HEAD: {_STEP.LENGTH_HEAD: _S.BODY, _STEP.CHUNKED_HEAD: _S.CHUNK_SIZE},
    _S.BODY: {_STEP.END: _S.HEAD, _STEP.UPGRADE_END: _S.PAUSED},
    _S.CHUNK_SIZE: {_STEP.CHUNK: _S.CHUNK_DATA, _STEP.LAST_CHUNK: _S.TRAILERS},
    _S.CHUNK_DATA: {_STEP.CHUNK_READ: _S.CHUNK_END},
    _S.CHUNK_END: {_STEP.CHUNK_CRLF: _S.CHUNK_SIZE},
    _S.TRAILERS: {_STEP.END: _S.HEAD, _STEP.UPGRADE_END: _S.PAUSED},
    _S.PAUSED: {_STEP.DECLINE: _S.HEAD, _STEP.SWITCH: _S.SWITCHED},
    _S.SWITCHED: {},
    _S.FAILED: {},
}
# Any state that still parses HTTP can meet invalid input.
for _state in (_S.HEAD, _S.BODY, _S.CHUNK_SIZE, _S.CHUNK_DATA, _S.CHUNK_END, _S.TRAILERS):
    TRANSITIONS[_state][_STEP.REJECT] = _S.FAILED
del _state

# Module-level names for the hot paths (a global load, not an enum attribute lookup).
_HEAD, _BODY, _PAUSED, _SWITCHED, _FAILED = _S.HEAD, _S.BODY, _S.PAUSED, _S.SWITCHED, _S.FAILED
_CHUNK_DATA, _CHUNK_END, _CHUNK_SIZE = _S.CHUNK_DATA, _S.CHUNK_END, _S.CHUNK_SIZE
_CHUNKED_STATES = frozenset((_S.CHUNK_SIZE, _S.CHUNK_DATA, _S.CHUNK_END, _S.TRAILERS))
_LENGTH_HEAD, _CHUNKED_HEAD, _END, _UPGRADE_END = _STEP.LENGTH_HEAD, _STEP.CHUNKED_HEAD, _STEP.END, _STEP.UPGRADE_END
_CHUNK, _LAST_CHUNK, _CHUNK_READ, _CHUNK_CRLF = _STEP.CHUNK, _STEP.LAST_CHUNK, _STEP.CHUNK_READ, _STEP.CHUNK_CRLF

# Headers that change how a request is framed or handled, read here.
_CONTENT_LENGTH = b"content-length"
_TRANSFER_ENCODING = b"transfer-encoding"
_CONNECTION = b"connection"
_EXPECT = b"expect"
_UPGRADE = b"upgrade"
_HOST = b"host"
# The fields recorded in `Request.special_fields`: those above, and what the
# WebSocket opening handshake reads (RFC 6455 section 4.2.1; Origin for the
# server's `ws_origins`).
_SPECIAL = frozenset(
    (
        _CONTENT_LENGTH,
        _TRANSFER_ENCODING,
        _CONNECTION,
        _EXPECT,
        _UPGRADE,
        _HOST,
        b"sec-websocket-key",
        b"sec-websocket-version",
        b"sec-websocket-protocol",
        b"sec-websocket-extensions",
        b"origin",
    )
)


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
    def state(self) -> ParserState:
        """Where the parser is; see `TRANSITIONS`."""
        return self._state

    @property
    def buffered(self) -> int:
        """How many received bytes are not parsed yet."""
        return len(self._buf)

    @property
    def body_left(self) -> int | None:
        """Bytes of the current body not returned as `Data` yet; None for a chunked body (unknown), 0 outside a body."""
        state = self._state
        if state is _BODY:
            return self._remaining
        if state in _CHUNKED_STATES:
            return None
        return 0

    @property
    def between_requests(self) -> bool:
        """True when no part of a request has been parsed or buffered."""
        return self._state is _HEAD and not self._buf

    def _move(self, step: ParserStep) -> None:
        """Take one transition of `TRANSITIONS`."""
        try:
            self._state = TRANSITIONS[self._state][step]
        except KeyError:
            raise RuntimeError(f"request parser: no step {step.name} from {self._state.name}") from None

    def feed(self, data: bytes) -> None:
        """Add bytes received from the client."""
        if self._error is not None:
            raise self._error
        self._buf += data

    def take_trailing_data(self) -> bytes:
        """Switch protocols: return the bytes buffered after the request, and stop parsing."""
        self._move(ParserStep.SWITCH)
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def resume(self) -> None:
        """Decline an Upgrade: go on parsing HTTP/1.1 requests (nothing to do outside of one)."""
        if self._state is _PAUSED:
            self._move(ParserStep.DECLINE)

    def next_event(self) -> Event:
        """The next event, `NEED_DATA`, or `PAUSED`; raises HTTPError on bad input."""
        state = self._state
        try:
            if state is _HEAD:
                return self._parse_head()
            if state is _BODY:
                return self._parse_body()
            if state is _PAUSED or state is _SWITCHED:
                return PAUSED
            if state is _FAILED:
                error = self._error
                assert error is not None
                raise error
            return self._parse_chunked()
        except HTTPError as exc:
            if state is not _FAILED:
                self._error = exc
                self._buf.clear()
                self._move(ParserStep.REJECT)
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
        parsed = parse_request_head(buf, line_end, end, self.max_headers, _SPECIAL)
        if isinstance(parsed, int):
            raise head_error(parsed, buf, line_end, end)
        del buf[: end + 4]
        method, target, http_version, headers, special = parsed

        # Positional arguments: keywords cost this per-request call measurably more.
        request = Request(method, target, http_version, headers, http_version == "1.1", special)
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
            if size > self.max_request_line + 1:  # + 1: the CR of a CRLF whose LF is still to come
                raise HTTPError("request line too long", 414)
        elif size - line_end > self.max_header_block + 4:
            raise HTTPError("header block too large", 431)

    def _apply_special(self, request: Request, special: dict[bytes, list[bytes]]) -> None:
        """Framing and connection handling from the fields that drive them."""
        hosts = special.get(_HOST)
        if hosts is None:
            # RFC 9112 section 3.2: a server MUST answer 400 to an HTTP/1.1
            # request without Host; HTTP/1.0 predates the field.
            if request.http_version == "1.1":
                raise HTTPError("no Host field", 400)
        elif len(hosts) > 1:
            raise HTTPError("several Host fields", 400)

        connection = special.get(_CONNECTION)
        tokens = comma_list(connection, lower=True) if connection else ()
        if b"close" in tokens:
            request.keep_alive = False
        elif request.http_version == "1.0" and b"keep-alive" in tokens:
            request.keep_alive = True

        upgrade = special.get(_UPGRADE)
        if upgrade is not None and b"upgrade" in tokens:
            request.upgrade = b",".join(comma_list(upgrade, lower=True))

        expect = special.get(_EXPECT)
        if expect is not None and request.http_version == "1.1":
            # RFC 9110 section 10.1.1: ignored in HTTP/1.0 requests.
            request.expect_continue = b"100-continue" in comma_list(expect, lower=True)

        lengths = special.get(_CONTENT_LENGTH)
        codings = special.get(_TRANSFER_ENCODING)
        if codings is not None:
            if lengths is not None:
                raise HTTPError("both Content-Length and Transfer-Encoding", 400)
            if request.http_version == "1.0":
                raise HTTPError("Transfer-Encoding in an HTTP/1.0 request", 400)
            items = comma_list(codings, lower=True)
            if not items or items[-1] != b"chunked":
                raise HTTPError("chunked is not the final transfer coding", 400)
            if items.count(b"chunked") > 1:
                # RFC 9112 section 7: chunked MUST NOT be applied more than once.
                raise HTTPError("chunked applied more than once", 400)
            if len(items) > 1:
                raise HTTPError("unsupported transfer coding", 501)
            request.chunked = True
        elif lengths is not None:
            try:
                request.content_length = content_length(lengths)
            except ValueError as exc:
                raise HTTPError(str(exc), 400) from None

    def _start_body(self, request: Request) -> Request:
        self._upgrade = request.upgrade is not None
        if request.chunked:
            self._move(_CHUNKED_HEAD)
            self._body_size = 0
        else:
            length = request.content_length or 0
            if self.max_body_size is not None and length > self.max_body_size:
                raise HTTPError("request body too large", 413)
            self._remaining = length
            self._state = TRANSITIONS[self._state][_LENGTH_HEAD]  # once per request: inline, as above
        return request

    # -- request body ------------------------------------------------------

    def _end_of_message(self, trailers: list[tuple[bytes, bytes]] | None = None) -> EndOfMessage:
        # Once per request: the table is read inline rather than through _move.
        self._state = TRANSITIONS[self._state][_UPGRADE_END if self._upgrade else _END]
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
            if state is _CHUNK_DATA:
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
                    self._move(_CHUNK_READ)
                return Data(data)
            if state is _CHUNK_END:
                if len(buf) < 2:
                    if buf and buf[0] != 0x0D:
                        raise HTTPError("missing CRLF after chunk data", 400)
                    return NEED_DATA
                if buf[:2] != b"\r\n":
                    raise HTTPError("missing CRLF after chunk data", 400)
                del buf[:2]
                self._move(_CHUNK_CRLF)
            elif state is _CHUNK_SIZE:
                end = buf.find(b"\r\n", 0, self.max_request_line + 2)
                if end < 0:
                    if len(buf) > self.max_request_line + 1:  # + 1: as in _check_partial_head
                        raise HTTPError("chunk size line too long", 400)
                    if b"\n" in buf:
                        raise HTTPError("bare LF in chunk size line", 400)
                    return NEED_DATA
                match = _match_chunk_size_line(buf, 0, end)
                if match is None:
                    raise HTTPError("invalid chunk size line", 400)
                size = int(match.group(1), 16)
                del buf[: end + 2]
                if size == 0:
                    self._move(_LAST_CHUNK)
                    continue
                self._body_size += size
                if self.max_body_size is not None and self._body_size > self.max_body_size:
                    raise HTTPError("request body too large", 413)
                self._remaining = size
                self._move(_CHUNK)
            else:  # TRAILERS
                if buf[:2] == b"\r\n":
                    del buf[:2]
                    return self._end_of_message()
                end = buf.find(b"\r\n\r\n", self._scan)
                if end < 0:
                    # + 1: the CRLFCRLF may still end at most 3 bytes past the buffer.
                    if len(buf) > self.max_header_block + 1:
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
                fields = parse_field_lines(block, 0, len(block))
                if fields is None:
                    raise HTTPError(field_lines_error(block[2:]), 400)
                if len(fields) > self.max_headers:
                    raise HTTPError("too many trailer fields", 431)
                return self._end_of_message([(name.lower(), value) for name, value in fields])


# -- responses -------------------------------------------------------------


class InvalidResponse(ValueError):
    """The application asked for a response that cannot be sent; answer 500 (or close)."""


CONTINUE_RESPONSE = b"HTTP/1.1 100 Continue\r\n\r\n"
"""RFC 9110 section 15.2.1: the interim response to ``Expect: 100-continue``."""

_STATUS_LINES: dict[tuple[int, str], bytes] = {}


def status_line(status: int, http_version: str = "1.1") -> bytes:
    """``HTTP/1.1 200 OK\\r\\n``, with the reason phrase from http.HTTPStatus; cached.

    Raises InvalidResponse for a status that is not an int of `grammar.STATUS_CODES`.
    """
    key = (status, http_version)
    line = _STATUS_LINES.get(key)
    if line is None:
        if type(status) is not int or status not in grammar.STATUS_CODES:
            raise InvalidResponse(f"invalid status code {status!r}: an int from 100 to 599 (RFC 9110 section 15)")
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


#: Response header names already found to be tokens, each with its lowercase form: most
#: responses repeat the same few names, so each is checked once (up to `_MAX_CHECKED_NAMES`).
_CHECKED_NAMES: dict[bytes, bytes] = {}
_MAX_CHECKED_NAMES = 1024
#: The response fields `ResponseWriter` reads for framing and connection handling.
_FRAMING_NAMES = frozenset((b"content-length", b"transfer-encoding", b"connection"))

def _check_value(name: bytes, value: bytes) -> None:
    """Raise InvalidResponse if `value` is not a valid field value (RFC 9110 section 5.5)."""
    if _match_field_value(value) is None:
        raise InvalidResponse(f"invalid value for header {name!r}: CR, LF, NUL or another control byte")


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
                lower = _CHECKED_NAMES.get(name) if type(name) is bytes else None
                if lower is None:
                    if _match_token(name) is None:
                        raise InvalidResponse(f"invalid header name {name!r}: not a token (RFC 9110 section 5.1)")
                    lower = bytes(name).lower()  # bytes (hashable) for a bytearray name too
                    if type(name) is bytes and len(_CHECKED_NAMES) < _MAX_CHECKED_NAMES:
                        _CHECKED_NAMES[name] = lower
                if lower not in _FRAMING_NAMES:
                    pass
                elif lower == b"content-length":
                    if _match_content_length(value.strip(b" \t")) is None:
                        raise InvalidResponse(f"invalid Content-Length {value!r}")
                    length = int(value)
                    if content_length is not None and content_length != length:
                        raise InvalidResponse("conflicting Content-Length headers")
                    content_length = length
                elif lower == b"transfer-encoding":
                    if comma_list((value,), lower=True)[-1:] != [b"chunked"]:
                        raise InvalidResponse("a Transfer-Encoding must end with chunked")
                    if http_version == "1.0":
                        _check_value(name, value)  # not among the values checked below
                        continue  # HTTP/1.0 has no chunked coding: the body will be close-delimited
                    chunked = True
                elif lower == b"connection":
                    connection_sent = True
                    if b"close" in comma_list((value,), lower=True):
                        keep_alive = False
                        close_sent = True
                parts += (name, b": ", value, b"\r\n")
            # Every value (parts[4::4], after status line and `extra`) in one search rather than one each.
            if _find_not_field_char(b"".join(parts[4::4])) is not None:
                for name, value in zip(parts[2::4], parts[4::4], strict=True):
                    _check_value(name, value)
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
