"""Harness: the HTTP/1.1 request parser (`asgiws.protocol.http11.RequestParser`).

Input: an options byte (limits, and what the server does with an Upgrade),
a split seed (see `reader.chunks`), then the bytes a client sends.

Properties:

* the only exception is `HTTPError`, with one of the statuses the parser
  documents; once failed, the parser raises that same error again;
* every request it yields is one the rest of the server can trust: a token
  method, a target of visible bytes, lowercased token names, values with no
  control byte and no surrounding whitespace, a body exactly as long as its
  Content-Length and never over `max_body_size`;
* the same bytes give the same events whether they come in one read or in
  many, and are refused or not alike (the status may differ when a head
  breaks two rules: the parser answers the first fault it sees);
* it terminates: every event consumes input, and it never buffers more than
  it was fed.
"""

from __future__ import annotations

from asgiws.protocol.errors import HTTPError
from asgiws.protocol.grammar import FIELD_VALUE_RE, TOKEN_RE
from asgiws.protocol.http11 import NEED_DATA, PAUSED, Data, EndOfMessage, Request, RequestParser

from .reader import chunks, options_seed_stream

#: What `RequestParser` answers bad input with (see http11's module docstring).
STATUSES = frozenset({400, 413, 414, 431, 501, 505})

# Small limits as well as the defaults, so that short inputs reach the 413/414/431 paths.
REQUEST_LINES = (8 * 2**10, 16, 40)
HEADER_BLOCKS = (64 * 2**10, 32, 128)
HEADER_COUNTS = (128, 0, 2)
BODY_SIZES = (None, 0, 10)


def make_parser(options: int) -> RequestParser:
    """A parser whose limits `options` picks."""
    return RequestParser(
        max_request_line=REQUEST_LINES[options % 3],
        max_header_block=HEADER_BLOCKS[options // 3 % 3],
        max_headers=HEADER_COUNTS[options // 9 % 3],
        max_body_size=BODY_SIZES[options // 27 % 3],
    )


def check_request(request: Request, parser: RequestParser) -> None:
    """What the server and the application rely on in a parsed request head."""
    assert TOKEN_RE.fullmatch(request.method.encode("ascii")), request.method
    assert request.target and all(0x21 <= b <= 0x7E or b >= 0x80 for b in request.target), request.target
    assert request.http_version in ("1.0", "1.1")
    assert len(request.headers) <= parser.max_headers
    for name, value in request.headers:
        assert TOKEN_RE.fullmatch(name) and name == name.lower(), name
        assert FIELD_VALUE_RE.fullmatch(value), value
        assert value == value.strip(b" \t"), value
    if request.chunked:
        assert request.content_length is None
    if request.content_length is not None and parser.max_body_size is not None:
        assert request.content_length <= parser.max_body_size


def parse(stream: list[bytes], parser: RequestParser, switch: bool) -> list[tuple[object, ...]]:
    """Feed `stream` piece by piece; the events, Data merged, and how it ended."""
    out: list[tuple[object, ...]] = []
    fed = 0
    body = 0
    request: Request | None = None
    for piece in stream:
        fed += len(piece)
        parser.feed(piece)
        while True:
            assert parser.buffered <= fed
            try:
                event = parser.next_event()
            except HTTPError as exc:
                assert exc.status in STATUSES, (exc.status, exc)
                # A dead parser keeps failing, with the same error.
                for again in (parser.next_event, lambda: parser.feed(b"x")):
                    try:
                        again()
                    except HTTPError as same:
                        assert same is exc
                    else:
                        raise AssertionError("a failed parser went on")
                out.append(("error", exc.status))
                return out
            assert len(out) <= 2 * fed + 2, "events without input"
            if event is NEED_DATA:
                break
            if event is PAUSED:
                assert request is not None and request.upgrade is not None
                if switch:
                    trailing = parser.take_trailing_data()
                    out.append(("switched", trailing + b"".join(stream)[fed:]))
                    return out
                parser.resume()
                out.append(("declined",))
                continue
            if isinstance(event, Request):
                check_request(event, parser)
                request = event
                body = 0
                out.append(("request", event))
            elif isinstance(event, Data):
                assert request is not None and event.data
                body += len(event.data)
                if request.content_length is not None:
                    assert body <= request.content_length
                if parser.max_body_size is not None:
                    assert body <= parser.max_body_size
                if out[-1][0] == "data":
                    out[-1] = ("data", out[-1][1] + event.data)  # type: ignore[operator]
                else:
                    out.append(("data", event.data))
            else:
                assert isinstance(event, EndOfMessage), event
                assert request is not None
                if not request.chunked:
                    assert body == (request.content_length or 0)
                    assert not event.trailers
                for name, value in event.trailers:
                    assert TOKEN_RE.fullmatch(name) and name == name.lower()
                    assert FIELD_VALUE_RE.fullmatch(value)
                out.append(("end", event.trailers))
    return out


def fuzz(data: bytes) -> None:
    """One run of the harness; an AssertionError or any other exception is a finding."""
    options, seed, stream = options_seed_stream(data)
    switch = options >= 128
    whole = parse([stream], make_parser(options), switch)
    split = parse(list(chunks(stream, seed)), make_parser(options), switch)
    if whole and split and whole[-1][0] == split[-1][0] == "error":
        # A head with two faults (a request line too long *and* a bare LF)
        # is refused for the first one the parser sees, which depends on how
        # much of it had arrived: both refusals are right.
        whole, split = whole[:-1], split[:-1]
    assert whole == split, (whole, split)
