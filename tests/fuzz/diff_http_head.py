"""Differential harness: the request-head parser in C (`_http11.c`) against the pure-Python one.

Input: as `http_request`'s (an options byte for the limits, a split seed,
then the bytes a client sends). The stream goes through two
`RequestParser`s with the same limits, one reading heads with the C
accelerator and one with `request_head.py_parse_request_head`; everything
they say must be identical: each event's repr (so a bytearray where the
other has bytes shows), each request's `special_fields`, and for a
rejection the status and the message. When the extension was not built,
both sides are the pure-Python parser and the harness checks nothing.

`outcome` and `head_parser` are what tests/protocol/test_http11_speedups.py
uses to feed both versions the same bytes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator

from asgiws.protocol import http11, request_head
from asgiws.protocol.errors import HTTPError
from asgiws.protocol.http11 import NEED_DATA, PAUSED, Request, RequestParser

from .fuzz_http_request import make_parser
from .reader import chunks, options_seed_stream

ParseHead = Callable[..., object]

try:
    from asgiws.protocol._http11 import parse_request_head as c_parse_request_head
except ImportError:  # no compiler: nothing to compare
    C_PARSE_REQUEST_HEAD: ParseHead | None = None
else:
    C_PARSE_REQUEST_HEAD = c_parse_request_head

PY_PARSE_REQUEST_HEAD: ParseHead = request_head.py_parse_request_head


@contextlib.contextmanager
def head_parser(parse_head: ParseHead) -> Iterator[None]:
    """`RequestParser`s read heads with `parse_head` inside the block."""
    saved = http11.parse_request_head
    http11.parse_request_head = parse_head  # type: ignore[assignment]
    try:
        yield
    finally:
        http11.parse_request_head = saved


def outcome(pieces: Iterable[bytes], parser: RequestParser) -> list[str]:
    """Everything `parser` says about `pieces`, fed one by one: events, special fields, the error if any."""
    out: list[str] = []
    for piece in pieces:
        parser.feed(piece)
        while True:
            try:
                event = parser.next_event()
            except HTTPError as exc:
                out.append(f"error {exc.status}: {exc}")
                return out
            if event is NEED_DATA:
                break
            if event is PAUSED:
                parser.resume()  # decline the Upgrade: go on reading HTTP
                out.append("paused")
                continue
            out.append(repr(event))
            if isinstance(event, Request):
                out.append(repr(event.special_fields))
    return out


def both(pieces: list[bytes], make: Callable[[], RequestParser]) -> tuple[list[str], list[str]]:
    """The outcomes with the C head parser and with the pure-Python one."""
    with head_parser(C_PARSE_REQUEST_HEAD or PY_PARSE_REQUEST_HEAD):
        c = outcome(pieces, make())
    with head_parser(PY_PARSE_REQUEST_HEAD):
        py = outcome(pieces, make())
    return c, py


def fuzz(data: bytes) -> None:
    """One run of the harness; a difference between the two parsers is a finding."""
    options, seed, stream = options_seed_stream(data)
    c, py = both(list(chunks(stream, seed)), lambda: make_parser(options))
    assert c == py, (c, py)
