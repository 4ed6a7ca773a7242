"""HTTP/1.1 request parsing and response framing (RFC 9112): bytes in, events or bytes out."""

from __future__ import annotations

import pytest

from asgiws.protocol.errors import HTTPError
from asgiws.protocol.http11 import (
    CONTINUE_RESPONSE,
    NEED_DATA,
    PAUSED,
    TRANSITIONS,
    Data,
    EndOfMessage,
    InvalidResponse,
    ParserState,
    Request,
    RequestParser,
    ResponseWriter,
    status_line,
)


def events(parser: RequestParser, limit: int = 10_000) -> list[object]:
    """Pull events until the parser needs data or pauses."""
    out = []
    for _ in range(limit):
        event = parser.next_event()
        if event is NEED_DATA or event is PAUSED:
            out.append(event)
            return out
        out.append(event)
    raise AssertionError("the parser never stopped producing events")


def parse(data: bytes, **limits: int | None) -> list[object]:
    parser = RequestParser(**limits)
    parser.feed(data)
    return events(parser)


def merged(evs: list[object]) -> list[object]:
    """Events with consecutive Data joined: where a body is split depends on the reads."""
    out: list[object] = []
    for event in evs:
        if isinstance(event, Data) and out and isinstance(out[-1], Data):
            out[-1] = Data(out[-1].data + event.data)
        else:
            out.append(event)
    return out


# -- RFC 9112 section 3: request line and fields --------------------------


def test_simple_get() -> None:
    assert parse(b"GET /path?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n") == [
        Request("GET", b"/path?q=1", "1.1", [(b"host", b"example.com"), (b"accept", b"*/*")]),
        EndOfMessage(),
        NEED_DATA,
    ]


def test_header_names_are_lowercased_values_kept_in_order() -> None:
    (request, *_) = parse(b"GET / HTTP/1.1\r\nX-Foo: A b\r\nx-foo: C\r\nHOST: h\r\n\r\n")
    assert request.headers == [(b"x-foo", b"A b"), (b"x-foo", b"C"), (b"host", b"h")]


def test_optional_whitespace_around_values_is_stripped() -> None:
    # RFC 9112 section 5: OWS before and after the field value is not part of it.
    (request, *_) = parse(b"GET / HTTP/1.1\r\nHost:a\r\nA:x\r\nB: \t y z \t\r\nC:\r\nD:   \r\n\r\n")
    assert request.headers == [(b"host", b"a"), (b"a", b"x"), (b"b", b"y z"), (b"c", b""), (b"d", b"")]


def test_obs_text_in_values_is_kept() -> None:
    (request, *_) = parse(b"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n")
    assert request.headers == [(b"host", b"a"), (b"x", b"caf\xc3\xa9")]


def test_unknown_method_is_a_string() -> None:
    (request, *_) = parse(b"PROPFIND / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert request.method == "PROPFIND"


def test_absolute_and_asterisk_targets_are_raw() -> None:
    assert parse(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")[0].target == b"*"
    assert parse(b"GET http://a.example/b%20c HTTP/1.1\r\nHost: a\r\n\r\n")[0].target == b"http://a.example/b%20c"


def test_empty_lines_before_request_line_are_ignored() -> None:
    # RFC 9112 section 2.2.
    assert parse(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")[0].target == b"/"


def test_higher_minor_version_is_handled_as_1_1() -> None:
    assert parse(b"GET / HTTP/1.2\r\nHost: a\r\n\r\n")[0].http_version == "1.1"


@pytest.mark.parametrize(
    "version, connection, keep_alive",
    [
        (b"1.1", None, True),
        (b"1.1", b"close", False),
        (b"1.1", b"Keep-Alive, CLOSE", False),
        (b"1.1", b"keep-alive", True),
        (b"1.0", None, False),
        (b"1.0", b"keep-alive", True),
        (b"1.0", b"Keep-Alive", True),
        (b"1.0", b"close", False),
    ],
)
def test_keep_alive(version: bytes, connection: bytes | None, keep_alive: bool) -> None:
    head = b"GET / HTTP/" + version + b"\r\nHost: a\r\n"
    if connection is not None:
        head += b"Connection: " + connection + b"\r\n"
    assert parse(head + b"\r\n")[0].keep_alive is keep_alive


@pytest.mark.parametrize(
    "version, expect, expected",
    [
        (b"1.1", b"100-continue", True),
        (b"1.1", b"100-Continue", True),
        (b"1.1", b"something", False),
        (b"1.0", b"100-continue", False),  # RFC 9110 section 10.1.1
    ],
)
def test_expect_continue(version: bytes, expect: bytes, expected: bool) -> None:
    head = b"POST / HTTP/" + version + b"\r\nHost: a\r\nExpect: " + expect + b"\r\nContent-Length: 1\r\n\r\n"
    request = parse(head)[0]
    assert request.expect_continue is expected


def test_websocket_upgrade_then_trailing_data() -> None:
    parser = RequestParser()
    parser.feed(
        b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\x81\x85"
    )
    request, end, paused = events(parser)
    assert request.upgrade == b"websocket"
    assert end == EndOfMessage()
    assert paused is PAUSED
    assert parser.next_event() is PAUSED
    parser.feed(b"\x37\xfa")
    assert parser.take_trailing_data() == b"\x81\x85\x37\xfa"
    assert parser.buffered == 0
    assert parser.next_event() is PAUSED


def test_upgrade_needs_connection_upgrade() -> None:
    assert parse(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n")[0].upgrade is None


def test_declined_upgrade_resumes_http() -> None:
    parser = RequestParser()
    parser.feed(
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n"
        b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    assert [type(e) for e in events(parser)] == [Request, EndOfMessage, type(PAUSED)]
    parser.resume()
    assert events(parser)[0].target == b"/next"


# -- RFC 9112 section 6: message body ------------------------------------


def test_content_length_body_streams_byte_by_byte() -> None:
    parser = RequestParser()
    parser.feed(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n")
    request, need = events(parser)
    assert request.content_length == 5 and need is NEED_DATA
    received = []
    for byte in b"hello":
        parser.feed(bytes([byte]))
        received += events(parser)
    assert received == [
        *(Data(b"h"), NEED_DATA, Data(b"e"), NEED_DATA, Data(b"l"), NEED_DATA, Data(b"l"), NEED_DATA),
        *(Data(b"o"), EndOfMessage(), NEED_DATA),
    ]


def test_identical_content_lengths_are_folded() -> None:
    evs = parse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc")
    assert evs[0].content_length == 3
    assert evs[1:] == [Data(b"abc"), EndOfMessage(), NEED_DATA]


def test_content_length_zero_and_leading_zeros() -> None:
    assert parse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")[1:] == [EndOfMessage(), NEED_DATA]
    evs = parse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 002\r\n\r\nab")
    assert evs[1:] == [Data(b"ab"), EndOfMessage(), NEED_DATA]


def test_chunked_body_with_extensions_and_trailers() -> None:
    evs = parse(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\nA ; x\r\n0123456789\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n"
    )
    assert evs[0].chunked is True and evs[0].content_length is None
    assert merged(evs[1:]) == [
        Data(b"hello0123456789"),
        EndOfMessage([(b"expires", b"never"), (b"x-sum", b"1")]),
        NEED_DATA,
    ]


def test_chunked_body_byte_by_byte() -> None:
    data = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n"
    parser = RequestParser()
    received = []
    for byte in data:
        parser.feed(bytes([byte]))
        received += [e for e in events(parser) if e is not NEED_DATA]
    assert merged(received[1:]) == [Data(b"abcde"), EndOfMessage([(b"t", b"v")])]


def test_body_left_counts_what_the_body_still_owes() -> None:
    """What a server answering early reads to know how much body it would have to drop."""
    parser = RequestParser()
    assert parser.body_left == 0
    parser.feed(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhe")
    assert isinstance(parser.next_event(), Request)
    assert parser.body_left == 5  # buffered bytes not returned as Data yet still count
    assert parser.next_event() == Data(b"he")
    assert parser.body_left == 3
    parser.feed(b"llo")
    assert events(parser) == [Data(b"llo"), EndOfMessage(), NEED_DATA]
    assert parser.body_left == 0
    parser.feed(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
    assert isinstance(parser.next_event(), Request)
    assert parser.body_left is None  # a chunked body's length is unknown until its last chunk


def test_pipelined_requests_stay_buffered_until_pulled() -> None:
    parser = RequestParser()
    second = b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"
    parser.feed(b"POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok" + second)
    assert parser.next_event().target == b"/1"
    assert parser.next_event() == Data(b"ok")
    assert parser.next_event() == EndOfMessage()
    # The server stops here until its response is sent.
    assert parser.buffered == len(second)
    assert not parser.between_requests
    assert parser.next_event().target == b"/2"
    assert parser.next_event() == EndOfMessage()
    assert parser.next_event() is NEED_DATA
    assert parser.between_requests


def test_body_at_exactly_max_body_size_is_accepted() -> None:
    evs = parse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcd", max_body_size=4)
    assert merged(evs[1:]) == [Data(b"abcd"), EndOfMessage(), NEED_DATA]
    evs = parse(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n", max_body_size=4
    )
    assert merged(evs[1:]) == [Data(b"abcd"), EndOfMessage(), NEED_DATA]


def test_limits_at_their_exact_size_are_accepted() -> None:
    line = b"GET /" + b"a" * (100 - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"
    assert len(line) == 100
    assert parse(line + b"\r\nHost: a\r\n\r\n", max_request_line=100)[0].method == "GET"
    fields = b"Host: a\r\n" + b"".join(b"h%d: v\r\n" % i for i in range(4))
    assert len(parse(b"GET / HTTP/1.1\r\n" + fields + b"\r\n", max_headers=5)[0].headers) == 5


def test_limits_at_their_exact_size_are_accepted_byte_by_byte() -> None:
    # Found by fuzzing (tests/fuzz): with the CR of a line's CRLF read and its
    # LF not yet, a line of exactly the limit was taken for a longer one.
    line = b"POST /" + b"a" * (100 - len(b"POST / HTTP/1.1")) + b" HTTP/1.1"
    chunk_line = b"4;" + b"e" * 98
    trailer = b"t: " + b"v" * (100 - len(b"t: \r\n"))
    head = line + b"\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    data = head + chunk_line + b"\r\nabcd\r\n0\r\n" + trailer + b"\r\n\r\n"
    assert len(line) == len(chunk_line) == len(trailer + b"\r\n") == 100
    whole = parse(data, max_request_line=100, max_header_block=100)
    assert whole[-2:] == [EndOfMessage([(b"t", b"v" * 95)]), NEED_DATA]
    parser = RequestParser(max_request_line=100, max_header_block=100)
    evs: list[object] = []
    for byte in data:
        parser.feed(bytes([byte]))
        evs += [event for event in events(parser) if event is not NEED_DATA]
    assert merged(evs) == whole[:-1]


# -- rejections ----------------------------------------------------------

HOST = b"Host: a\r\n"
GET = b"GET / HTTP/1.1\r\n" + HOST
POST = b"POST / HTTP/1.1\r\n" + HOST
CHUNKED = POST + b"Transfer-Encoding: chunked\r\n\r\n"

# Every row but the one under test is valid (a Host included), so that each is refused for its own fault.
MALFORMED = [
    # RFC 9112 section 3: request line
    ("request line over limit", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 414),
    ("request line over limit, incomplete", b"GET /" + b"a" * 9000, 414),
    ("invalid method", b"G(T / HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("empty method", b" / HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("space in target", b"GET /a b HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("control byte in target", b"GET /a\x01b HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("DEL in target", b"GET /a\x7fb HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    # RFC 9112 section 3.2, RFC 3986: the target is US-ASCII; UTF-8 goes percent-encoded.
    ("raw UTF-8 in target", b"GET /caf\xc3\xa9 HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("raw UTF-8 in query", b"GET /?q=\xc3\xa9 HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("byte 0x80 in target", b"GET /\x80 HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("byte 0xFF in target", b"GET /\xff HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("raw UTF-8 in HTTP/1.0 target", b"GET /caf\xc3\xa9 HTTP/1.0\r\n\r\n", 400),
    ("missing target", b"GET HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("double space", b"GET  / HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("lowercase http", b"GET / http/1.1\r\n" + HOST + b"\r\n", 400),
    ("version without minor", b"GET / HTTP/1\r\n" + HOST + b"\r\n", 400),
    ("two-digit major", b"GET / HTTP/11.1\r\n" + HOST + b"\r\n", 400),
    ("HTTP/0.9 style", b"GET /\r\n" + HOST + b"\r\n", 400),
    ("HTTP/2.0", b"GET / HTTP/2.0\r\n" + HOST + b"\r\n", 505),
    ("HTTP/0.9 version", b"GET / HTTP/0.9\r\n" + HOST + b"\r\n", 505),
    # RFC 9112 section 3.2: a server MUST answer 400 to an HTTP/1.1 request without Host.
    ("no Host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("no Host, other fields", b"GET / HTTP/1.1\r\nAccept: */*\r\nX-Host: a\r\n\r\n", 400),
    ("no Host in HTTP/1.2 (handled as 1.1)", b"GET / HTTP/1.2\r\n\r\n", 400),
    ("no Host, with a body", b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nok", 400),
    ("several Host fields", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("several Host fields in HTTP/1.0", b"GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", 400),
    # RFC 9112 section 5: fields
    ("header block over limit", GET + b"X: " + b"a" * 70000 + b"\r\n\r\n", 431),
    ("header block over limit, incomplete", GET + b"X: " + b"a" * 70000, 431),
    ("too many headers", GET + b"".join(b"h%d: v\r\n" % i for i in range(128)) + b"\r\n", 431),  # 129 with Host
    ("space in header name", GET + b"Bad Name: x\r\n\r\n", 400),
    ("space before colon", GET + b"Host : x\r\n\r\n", 400),
    ("empty header name", GET + b": x\r\n\r\n", 400),
    ("no colon", GET + b"NoColon\r\n\r\n", 400),
    ("NUL in header name", GET + b"X\x00: x\r\n\r\n", 400),
    ("NUL in header value", GET + b"X: a\x00b\r\n\r\n", 400),
    ("control in header value", GET + b"X: a\x01b\r\n\r\n", 400),
    ("DEL in header value", GET + b"X: a\x7fb\r\n\r\n", 400),
    ("bare CR in header value", GET + b"X: a\rb\r\n\r\n", 400),
    ("bare CR ending a line", GET + b"X: a\rY: b\r\n\r\n", 400),
    ("obs-fold with SP", GET + b"X: a\r\n b\r\n\r\n", 400),
    ("obs-fold with HTAB", GET + b"X: a\r\n\tb\r\n\r\n", 400),
    ("bare LF in head", GET + b"X: a\nY: b\r\n\r\n", 400),
    ("bare LF only, incomplete", b"GET / HTTP/1.1\nHost: x\n\n", 400),
    ("bare LF after request line", b"GET / HTTP/1.1\n" + HOST + b"\r\n", 400),
    # RFC 9112 section 6: framing
    ("Content-Length and Transfer-Encoding", POST + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    ("different Content-Lengths", POST + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\n", 400),
    ("different Content-Lengths in a list", POST + b"Content-Length: 3, 4\r\n\r\n", 400),
    ("non-digit Content-Length", POST + b"Content-Length: abc\r\n\r\n", 400),
    ("negative Content-Length", POST + b"Content-Length: -1\r\n\r\n", 400),
    ("signed Content-Length", POST + b"Content-Length: +1\r\n\r\n", 400),
    ("hex Content-Length", POST + b"Content-Length: 0x10\r\n\r\n", 400),
    ("empty Content-Length", POST + b"Content-Length: \r\n\r\n", 400),
    ("huge Content-Length", POST + b"Content-Length: 99999999999999999999\r\n\r\n", 400),
    ("final coding not chunked", POST + b"Transfer-Encoding: gzip\r\n\r\n", 400),
    ("chunked then another coding", POST + b"Transfer-Encoding: chunked, gzip\r\n\r\n", 400),
    ("empty Transfer-Encoding", POST + b"Transfer-Encoding: \r\n\r\n", 400),
    ("chunked twice", POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    ("unknown coding before chunked", POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ("Transfer-Encoding in HTTP/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    ("Content-Length body over max_body_size", POST + b"Content-Length: 1025\r\n\r\n", 413),
    ("chunked body over max_body_size", CHUNKED + b"400\r\n" + b"a" * 1024 + b"\r\n1\r\n", 413),
    # RFC 9112 section 7.1: chunked coding
    ("non-hex chunk size", CHUNKED + b"zz\r\n", 400),
    ("negative chunk size", CHUNKED + b"-1\r\n", 400),
    ("empty chunk size", CHUNKED + b"\r\n", 400),
    ("chunk size over 16 hex digits", CHUNKED + b"1" + b"0" * 16 + b"\r\n", 400),
    ("space inside chunk size", CHUNKED + b"1 0\r\n", 400),
    ("control in chunk extension", CHUNKED + b"1;a=\x01\r\n", 400),
    ("chunk size line with bare LF", CHUNKED + b"1\na\r\n", 400),
    ("chunk size line over limit", CHUNKED + b"1;" + b"x" * 9000, 400),
    ("chunk data too long", CHUNKED + b"1\r\nab\r\n", 400),
    ("chunk data without CRLF", CHUNKED + b"1\r\naXY", 400),
    ("chunk data with only CR", CHUNKED + b"1\r\na\rX", 400),
    ("chunk data followed by LF", CHUNKED + b"1\r\na\n", 400),
    ("invalid trailer", CHUNKED + b"0\r\nBad Trailer: x\r\n\r\n", 400),
    ("trailer with bare LF", CHUNKED + b"0\r\nA: b\nB: c\r\n\r\n", 400),
    ("trailer block over limit", CHUNKED + b"0\r\nX: " + b"a" * 70000, 431),
]


@pytest.mark.parametrize("data, status", [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_request_is_rejected_and_parser_stays_dead(data: bytes, status: int) -> None:
    parser = RequestParser(max_body_size=1024)
    parser.feed(data)
    with pytest.raises(HTTPError) as excinfo:
        events(parser)
    assert excinfo.value.status == status
    # No request smuggling: a valid request afterwards changes nothing.
    with pytest.raises(HTTPError) as again:
        parser.next_event()
    assert again.value is excinfo.value
    with pytest.raises(HTTPError) as on_feed:
        parser.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert on_feed.value is excinfo.value
    assert parser.buffered == 0


@pytest.mark.parametrize("data, status", [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_request_fed_byte_by_byte(data: bytes, status: int) -> None:
    parser = RequestParser(max_body_size=1024)
    with pytest.raises(HTTPError) as excinfo:
        for byte in data:
            parser.feed(bytes([byte]))
            events(parser)
    assert excinfo.value.status == status


def test_error_after_a_valid_request_keeps_the_valid_one() -> None:
    parser = RequestParser()
    parser.feed(b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\nGET /bad HTTP/9.9\r\n\r\n")
    assert parser.next_event().target == b"/ok"
    assert parser.next_event() == EndOfMessage()
    with pytest.raises(HTTPError) as excinfo:
        parser.next_event()
    assert excinfo.value.status == 505


def test_host_is_required_in_http_1_1_only() -> None:
    # RFC 9112 section 3.2: MUST 400 without Host in HTTP/1.1; HTTP/1.0 predates the field.
    with pytest.raises(HTTPError, match=r"^no Host field$") as excinfo:
        parse(b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n")
    assert excinfo.value.status == 400
    assert parse(b"GET / HTTP/1.0\r\n\r\n") == [Request("GET", b"/", "1.0", [], False), EndOfMessage(), NEED_DATA]
    (request, *_) = parse(b"POST /form HTTP/1.0\r\nContent-Length: 2\r\n\r\nok")
    assert request.http_version == "1.0" and request.content_length == 2
    assert parse(b"GET / HTTP/1.1\r\nhOsT: a\r\n\r\n")[0].headers == [(b"host", b"a")]  # any case
    assert parse(b"GET / HTTP/1.1\r\nHost:\r\n\r\n")[0].headers == [(b"host", b"")]  # empty: no authority


def test_target_is_us_ascii_and_utf8_travels_percent_encoded() -> None:
    # RFC 9112 section 3.2 / RFC 3986: raw bytes above 0x7F make the request line invalid.
    with pytest.raises(HTTPError, match=r"^invalid request line$") as excinfo:
        parse(b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n")
    assert excinfo.value.status == 400
    target = b"/caf%C3%A9/%E2%82%AC?q=%C3%A9&x=%F0%9F%98%80"
    assert parse(b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n")[0].target == target
    # Only the bytes above 0x7F are new: any VCHAR stays accepted, as before.
    assert parse(b'GET /{"a"}|<b>^`\\ HTTP/1.1\r\nHost: a\r\n\r\n')[0].target == b'/{"a"}|<b>^`\\'


def test_incomplete_head_is_not_an_error() -> None:
    parser = RequestParser()
    parser.feed(b"GET / HTTP/1.1\r\nHost: x\r")
    assert parser.next_event() is NEED_DATA
    parser.feed(b"\n\r\n")
    assert parser.next_event().headers == [(b"host", b"x")]


# -- the parser's states: ParserState and TRANSITIONS ---------------------


def test_every_state_is_in_the_table_and_reachable_from_head() -> None:
    assert set(TRANSITIONS) == set(ParserState)
    reached = {ParserState.HEAD}
    frontier = [ParserState.HEAD]
    while frontier:
        for target in TRANSITIONS[frontier.pop()].values():
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(ParserState)
    assert TRANSITIONS[ParserState.SWITCHED] == {} and TRANSITIONS[ParserState.FAILED] == {}


def test_states_of_a_chunked_upgrade_request() -> None:
    parser = RequestParser()
    seen = [parser.state]
    data = (
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nUpgrade: foo\r\nConnection: upgrade\r\n\r\n"
        b"3\r\nabc\r\n0\r\nX: y\r\n\r\nnot HTTP"
    )
    for byte in data:
        parser.feed(bytes([byte]))
        while parser.next_event() not in (NEED_DATA, PAUSED):
            pass
        if parser.state != seen[-1]:
            seen.append(parser.state)
    assert seen == [
        ParserState.HEAD,
        ParserState.CHUNK_SIZE,
        ParserState.CHUNK_DATA,
        ParserState.CHUNK_END,
        ParserState.CHUNK_SIZE,
        ParserState.TRAILERS,
        ParserState.PAUSED,
    ]
    assert parser.take_trailing_data() == b"not HTTP"
    assert parser.state is ParserState.SWITCHED


def test_declined_upgrade_and_rejection_states() -> None:
    parser = RequestParser()
    parser.feed(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\nGET / HTTP/9.9\r\n\r\n")
    events(parser)
    assert parser.state is ParserState.PAUSED
    parser.resume()
    assert parser.state is ParserState.HEAD
    parser.resume()  # outside of an upgrade: nothing to decline
    assert parser.state is ParserState.HEAD
    with pytest.raises(HTTPError):
        parser.next_event()
    assert parser.state is ParserState.FAILED


def test_switching_protocols_outside_of_an_upgrade_is_a_bug() -> None:
    parser = RequestParser()
    parser.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert isinstance(parser.next_event(), Request)
    with pytest.raises(RuntimeError):
        parser.take_trailing_data()  # the server must wait for PAUSED
    assert parser.next_event() == EndOfMessage()


def test_special_fields_recorded_for_the_handshake() -> None:
    (request, *_) = parse(
        b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: k\r\nSec-WebSocket-Protocol: a, b\r\nsec-websocket-protocol: c\r\nX-Other: 1\r\n\r\n"
    )
    assert request.special_fields == {
        b"host": [b"h"],
        b"upgrade": [b"websocket"],
        b"connection": [b"Upgrade"],
        b"sec-websocket-key": [b"k"],
        b"sec-websocket-protocol": [b"a, b", b"c"],
    }


# -- responses (RFC 9112 section 6, RFC 9110 section 15) -----------------


def test_status_line_reason_phrases() -> None:
    assert status_line(200) == b"HTTP/1.1 200 OK\r\n"
    assert status_line(404) == b"HTTP/1.1 404 Not Found\r\n"
    assert status_line(299) == b"HTTP/1.1 299 \r\n"
    with pytest.raises(InvalidResponse):
        status_line(42)


def test_content_length_response() -> None:
    writer = ResponseWriter(200, [(b"Content-Type", b"text/plain"), (b"Content-Length", b"5")])
    assert writer.head == b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
    assert writer.body(b"hel") == b"hel"
    assert writer.body(b"lo") == b"lo"
    assert writer.end() == b""
    assert writer.keep_alive


def test_chunked_response_when_no_length() -> None:
    writer = ResponseWriter(200, [(b"content-type", b"text/plain")])
    assert writer.head == b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"
    assert writer.body(b"hello world, this is sixteen+") == b"1d\r\nhello world, this is sixteen+\r\n"
    assert writer.body(b"") == b""
    assert writer.end() == b"0\r\n\r\n"
    assert writer.keep_alive


def test_app_chosen_chunked_is_not_doubled() -> None:
    writer = ResponseWriter(200, [(b"Transfer-Encoding", b"chunked")])
    assert writer.head == b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert writer.body(b"ab") == b"2\r\nab\r\n"


def test_head_response_keeps_content_length_and_sends_no_body() -> None:
    writer = ResponseWriter(200, [(b"content-length", b"1000")], head_request=True)
    assert writer.head == b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n"
    assert writer.body(b"x" * 1000) == b""
    assert writer.end() == b""
    assert writer.keep_alive


def test_head_response_without_length_is_not_chunked() -> None:
    writer = ResponseWriter(200, [], head_request=True)
    assert writer.head == b"HTTP/1.1 200 OK\r\n\r\n"
    assert writer.body(b"x") == b""
    assert writer.end() == b""


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(status: int) -> None:
    writer = ResponseWriter(status, [(b"etag", b'"x"')])
    assert writer.head == status_line(status) + b'etag: "x"\r\n\r\n'
    assert writer.body(b"ignored") == b""
    assert writer.end() == b""
    assert writer.keep_alive


def test_http_1_0_without_length_is_close_delimited() -> None:
    writer = ResponseWriter(200, [(b"content-type", b"text/plain")], http_version="1.0", keep_alive=True)
    assert writer.head == b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n"
    assert writer.body(b"raw") == b"raw"
    assert writer.end() == b""
    assert not writer.keep_alive


def test_http_1_0_keep_alive_with_length() -> None:
    writer = ResponseWriter(200, [(b"content-length", b"2")], http_version="1.0", keep_alive=True)
    assert writer.head == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\n"
    assert writer.keep_alive
    writer = ResponseWriter(200, [(b"content-length", b"2")], http_version="1.0", keep_alive=False)
    assert writer.head == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"
    assert not writer.keep_alive


def test_connection_close() -> None:
    writer = ResponseWriter(200, [(b"content-length", b"0")], keep_alive=False)
    assert writer.head == b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    assert not writer.keep_alive
    writer = ResponseWriter(200, [(b"content-length", b"0"), (b"Connection", b"close")])
    assert writer.head == b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nConnection: close\r\n\r\n"
    assert not writer.keep_alive


def test_extra_header_lines_follow_the_status_line() -> None:
    writer = ResponseWriter(200, [(b"content-length", b"0")], extra=b"server: asgiws\r\n")
    assert writer.head == b"HTTP/1.1 200 OK\r\nserver: asgiws\r\ncontent-length: 0\r\n\r\n"


def test_continue_and_switching_protocols() -> None:
    assert CONTINUE_RESPONSE == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer = ResponseWriter(101, [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade")])
    assert writer.head == b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    assert not writer.keep_alive


@pytest.mark.parametrize(
    "headers",
    [
        [(b"X-Bad\r\nInjected", b"1")],
        [(b"X", b"a\r\nInjected: 1")],
        [(b"X", b"a\nb")],
        [(b"X", b"a\x00b")],
        [(b"", b"v")],
        [(b"Bad Name", b"v")],
        [(b"content-length", b"abc")],
        [(b"content-length", b"1"), (b"content-length", b"2")],
        [(b"content-length", b"1"), (b"transfer-encoding", b"chunked")],
    ],
)
def test_invalid_response_headers(headers: list[tuple[bytes, bytes]]) -> None:
    with pytest.raises(InvalidResponse):
        ResponseWriter(200, headers)


def test_invalid_response_value_is_named_among_valid_ones() -> None:
    # The values are checked together; the error still names the header at fault.
    with pytest.raises(InvalidResponse, match="b'Y'"):
        ResponseWriter(200, [(b"X", b"ok"), (b"Y", b"a\x01b"), (b"Z", b"ok")])


def test_dropped_transfer_encoding_value_is_checked_too() -> None:
    # HTTP/1.0: the app's Transfer-Encoding line is left out, but never unchecked.
    with pytest.raises(InvalidResponse, match="control byte"):
        ResponseWriter(200, [(b"transfer-encoding", b"gzip\x01, chunked")], http_version="1.0")


def test_response_header_names_checked_once_are_still_lowercased_for_framing() -> None:
    for _ in range(2):  # the second time from the names already checked
        writer = ResponseWriter(200, [(b"Content-Length", b"2"), (b"X-Name", b"v")])
        assert writer.head.endswith(b"Content-Length: 2\r\nX-Name: v\r\n\r\n")
        assert writer.body(b"ab") == b"ab"
        with pytest.raises(InvalidResponse):
            writer.body(b"c")


def test_bytearray_header_name_is_accepted() -> None:
    writer = ResponseWriter(200, [(bytearray(b"X-Name"), b"v"), (b"content-length", b"0")])
    assert b"X-Name: v\r\n" in writer.head


def test_body_longer_than_content_length() -> None:
    writer = ResponseWriter(200, [(b"content-length", b"2")])
    writer.body(b"ab")
    with pytest.raises(InvalidResponse):
        writer.body(b"c")


def test_body_shorter_than_content_length() -> None:
    writer = ResponseWriter(200, [(b"content-length", b"2")])
    writer.body(b"a")
    with pytest.raises(InvalidResponse):
        writer.end()
    assert not writer.keep_alive


def test_app_chunked_to_http_1_0_client_becomes_close_delimited() -> None:
    writer = ResponseWriter(200, [(b"transfer-encoding", b"chunked")], http_version="1.0", keep_alive=True)
    assert writer.head == b"HTTP/1.1 200 OK\r\n\r\n"
    assert writer.body(b"ab") == b"ab"
    assert not writer.keep_alive


def test_app_transfer_encoding_must_end_with_chunked() -> None:
    with pytest.raises(InvalidResponse):
        ResponseWriter(200, [(b"transfer-encoding", b"gzip")])


@pytest.mark.parametrize(
    "value",
    [
        b" " * 30000 + b"a" * 30000 + b"\x01",
        b"a" + b" " * 60000 + b"\x01",
        b"a " * 30000 + b"\x01",
        b"\t" * 60000 + b"\r",
    ],
)
def test_long_whitespace_runs_are_rejected_in_linear_time(value: bytes) -> None:
    # A backtracking field regex turns these into minutes of CPU (a DoS); the
    # suite's run time is what catches a regression here.
    with pytest.raises(HTTPError) as excinfo:
        parse(GET + b"X:" + value + b"\r\n\r\n")
    assert excinfo.value.status == 400


def test_long_whitespace_runs_in_a_valid_value() -> None:
    (request, *_) = parse(GET + b"X:" + b" " * 30000 + b"a" + b" \t" * 10000 + b"b" + b" " * 10000 + b"\r\n\r\n")
    assert request.headers == [(b"host", b"a"), (b"x", b"a" + b" \t" * 10000 + b"b")]


@pytest.mark.parametrize(
    "headers",
    [[("content-type", "text/plain")], [(b"x",)], [b"x: y"], [(b"x", 1)]],
)
def test_response_headers_that_are_not_byte_pairs(headers: list) -> None:
    with pytest.raises(InvalidResponse):
        ResponseWriter(200, headers)


def test_http_1_0_keep_alive_from_the_app_is_not_doubled() -> None:
    writer = ResponseWriter(
        200, [(b"content-length", b"0"), (b"Connection", b"keep-alive")], http_version="1.0", keep_alive=True
    )
    assert writer.head == b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nConnection: keep-alive\r\n\r\n"
    assert writer.keep_alive
