"""The HTTP grammar shared by the request parser and the handshake: literal bytes in, matches out."""

from __future__ import annotations

import re

import pytest

from asgiws.protocol import grammar
from asgiws.protocol.grammar import (
    CHUNK_SIZE_LINE_RE,
    CONTENT_LENGTH_RE,
    FIELD_VALUE_RE,
    REQUEST_LINE_RE,
    STATUS_LINE_RE,
    TOKEN_RE,
    comma_list,
    content_length,
    field_lines_error,
    parse_field_lines,
    unquote,
)

# -- RFC 9110 section 5.6.2: tokens ---------------------------------------------


@pytest.mark.parametrize("token", [b"GET", b"x-forwarded-for", b"!#$%&'*+-.^_`|~", b"0", b"Sec-WebSocket-Key"])
def test_tokens(token: bytes) -> None:
    assert TOKEN_RE.fullmatch(token)


@pytest.mark.parametrize(
    "text", [b"", b"a b", b"a:b", b"a,b", b"a;b", b'"a"', b"a/b", b"a=b", b"(a)", b"a\x00", b"a\x7f", b"caf\xe9"]
)
def test_not_tokens(text: bytes) -> None:
    assert TOKEN_RE.fullmatch(text) is None


# -- RFC 9110 section 5.5: field values -----------------------------------------


@pytest.mark.parametrize("value", [b"", b"text/html", b"a b\tc", b"caf\xc3\xa9", b"\x80\xff", b'"quoted"'])
def test_field_values(value: bytes) -> None:
    assert FIELD_VALUE_RE.fullmatch(value)


@pytest.mark.parametrize("value", [b"a\r\nInjected: 1", b"a\nb", b"a\rb", b"a\x00b", b"a\x01b", b"a\x1fb", b"a\x7fb"])
def test_not_field_values(value: bytes) -> None:
    assert FIELD_VALUE_RE.fullmatch(value) is None


# -- RFC 9110 section 5.6.1: lists ------------------------------------------------


@pytest.mark.parametrize(
    "values, elements",
    [
        ([b"a"], [b"a"]),
        ([b"a, b,c"], [b"a", b"b", b"c"]),
        ([b"a ,\t b \t"], [b"a", b"b"]),
        ([b"a, , b", b",c,"], [b"a", b"b", b"c"]),  # empty elements are not elements
        ([b"", b" "], []),
        ([b"keep-alive", b"Upgrade"], [b"keep-alive", b"Upgrade"]),  # several lines are one list (section 5.3)
        ([], []),
    ],
)
def test_comma_list(values: list[bytes], elements: list[bytes]) -> None:
    assert comma_list(values) == elements


def test_comma_list_lowered_for_case_insensitive_tokens() -> None:
    assert comma_list([b"Keep-Alive, UPGRADE"], lower=True) == [b"keep-alive", b"upgrade"]
    assert comma_list([b"Chat, SuperChat"]) == [b"Chat", b"SuperChat"]  # subprotocols keep their case


# -- RFC 9110 section 8.6: Content-Length -------------------------------------------


@pytest.mark.parametrize(
    "values, length",
    [([b"0"], 0), ([b"42"], 42), ([b"007"], 7), ([b"3", b"3"], 3), ([b"3, 3"], 3), ([b"9" * 19], int("9" * 19))],
)
def test_content_length(values: list[bytes], length: int) -> None:
    assert content_length(values) == length


@pytest.mark.parametrize(
    "values",
    [[], [b""], [b"3, "], [b"3, 4"], [b"3", b"4"], [b"-1"], [b"+1"], [b"0x10"], [b"1" * 20], [b"\xb2"], [b"1 2"]],
)
def test_invalid_content_length(values: list[bytes]) -> None:
    with pytest.raises(ValueError):
        content_length(values)


def test_content_length_digits() -> None:
    assert CONTENT_LENGTH_RE.fullmatch(b"0123456789")
    assert CONTENT_LENGTH_RE.fullmatch(b"\xb2") is None  # a superscript two is no digit on the wire


# -- RFC 9110 section 5.6.4: quoted strings -------------------------------------------

QUOTED_STRING_RE = re.compile(grammar.QUOTED_STRING)


@pytest.mark.parametrize(
    "quoted, content",
    [('""', ""), ('"abc"', "abc"), ('"a b\\"c\\\\"', 'a b"c\\'), ('"\\a"', "a"), ('"caf\xe9"', "caf\xe9")],
)
def test_quoted_strings(quoted: str, content: str) -> None:
    assert QUOTED_STRING_RE.fullmatch(quoted)
    assert unquote(quoted) == content


@pytest.mark.parametrize("text", ['"', '"abc', 'abc"', '"a"b"', '"a\\"', '"a\x00"', '"a\x7f"', '"\\\x01"'])
def test_not_quoted_strings(text: str) -> None:
    assert QUOTED_STRING_RE.fullmatch(text) is None


# -- RFC 9112 section 3: request line -------------------------------------------------


@pytest.mark.parametrize(
    "line, groups",
    [
        (b"GET / HTTP/1.1", (b"GET", b"/", b"1", b"1")),
        (b"OPTIONS * HTTP/1.0", (b"OPTIONS", b"*", b"1", b"0")),
        (b"GET http://a.example/b?c HTTP/1.1", (b"GET", b"http://a.example/b?c", b"1", b"1")),
        (b"PROPFIND /caf%C3%A9 HTTP/2.0", (b"PROPFIND", b"/caf%C3%A9", b"2", b"0")),  # UTF-8, percent-encoded
        (b'GET /{"a"}|<b> HTTP/1.1', (b"GET", b'/{"a"}|<b>', b"1", b"1")),  # any VCHAR: lenient
    ],
)
def test_request_lines(line: bytes, groups: tuple[bytes, ...]) -> None:
    match = REQUEST_LINE_RE.fullmatch(line)
    assert match is not None and match.groups() == groups


@pytest.mark.parametrize(
    "line",
    [
        b"GET /",
        b"GET  / HTTP/1.1",
        b"GET / HTTP/1.1 ",
        b"GET /a b HTTP/1.1",
        b"G(T / HTTP/1.1",
        b" / HTTP/1.1",
        b"GET / http/1.1",
        b"GET / HTTP/1",
        b"GET / HTTP/11.1",
        b"GET /\x01 HTTP/1.1",
        b"GET /\x7f HTTP/1.1",
        b"GET /caf\xc3\xa9 HTTP/1.1",  # raw UTF-8: the target is US-ASCII (RFC 9112 section 3.2)
        b"GET /\x80 HTTP/1.1",
        b"GET /\xff HTTP/1.1",
    ],
)
def test_invalid_request_lines(line: bytes) -> None:
    assert REQUEST_LINE_RE.fullmatch(line) is None


# -- RFC 9112 section 4: status line ---------------------------------------------------


@pytest.mark.parametrize(
    "line, groups",
    [
        (b"HTTP/1.1 101 Switching Protocols", (b"1", b"1", b"101", b"Switching Protocols")),
        (b"HTTP/1.0 404 ", (b"1", b"0", b"404", b"")),  # the reason phrase may be empty...
        (b"HTTP/1.1 200 \tcaf\xc3\xa9 ok", (b"1", b"1", b"200", b"\tcaf\xc3\xa9 ok")),
    ],
)
def test_status_lines(line: bytes, groups: tuple[bytes, ...]) -> None:
    match = STATUS_LINE_RE.fullmatch(line)
    assert match is not None and match.groups() == groups


@pytest.mark.parametrize(
    "line",
    [
        b"HTTP/1.1 101",  # ...but not the space before it
        b"HTTP/1.1 10 Nope",
        b"HTTP/1.1 1010 Nope",
        b"HTTP/1.1  101 Switching",
        b"SPDY/3 101 Switching Protocols",
        b"http/1.1 101 Switching Protocols",
        b"HTTP/1.1 101 Switching\x00Protocols",
        b"HTTP/1.1 101 Switching\rProtocols",
    ],
)
def test_invalid_status_lines(line: bytes) -> None:
    assert STATUS_LINE_RE.fullmatch(line) is None


# -- RFC 9112 section 5: field lines ------------------------------------------------------


def block(*lines: bytes) -> bytes:
    """Field lines as they follow a start line: each preceded by the CRLF before it, the last one ended."""
    return b"".join(b"\r\n" + line for line in lines) + b"\r\n"


@pytest.mark.parametrize(
    "lines, fields",
    [
        ((), []),
        ((b"Host: example.com",), [(b"Host", b"example.com")]),
        ((b"A:x", b"B: \t y z \t", b"C:", b"D:   "), [(b"A", b"x"), (b"B", b"y z"), (b"C", b""), (b"D", b"")]),
        ((b"X: caf\xc3\xa9",), [(b"X", b"caf\xc3\xa9")]),
        ((b"X-A: 1", b"x-a: 2"), [(b"X-A", b"1"), (b"x-a", b"2")]),  # names keep their case here
    ],
)
def test_field_lines(lines: tuple[bytes, ...], fields: list[tuple[bytes, bytes]]) -> None:
    data = block(*lines)
    assert parse_field_lines(data, 0, len(data)) == fields


def test_field_lines_within_a_buffer() -> None:
    head = bytearray(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\nbody\r\nC: 3\r\n")
    line_end = head.find(b"\r\n")
    end = head.find(b"\r\n\r\n")
    assert parse_field_lines(head, line_end, end + 2) == [(b"A", b"1"), (b"B", b"2")]


@pytest.mark.parametrize(
    "line, error",
    [
        (b" folded", "obsolete line folding in header"),
        (b"\tfolded", "obsolete line folding in header"),
        (b"X: a\rb", "bare CR or LF in header"),
        (b"X: a\nY: b", "bare CR or LF in header"),
        (b"Bad Name: x", "invalid header name"),
        (b"Host : x", "invalid header name"),
        (b": x", "invalid header name"),
        (b"NoColon", "invalid header name"),
        (b"X\x00: x", "invalid header name"),
        (b"X: a\x00b", "invalid header value"),
        (b"X: a\x01b", "invalid header value"),
        (b"X: a\x7fb", "invalid header value"),
    ],
)
def test_invalid_field_lines(line: bytes, error: str) -> None:
    data = block(b"Good: 1", line, b"Also-Good: 2")
    assert parse_field_lines(data, 0, len(data)) is None
    assert field_lines_error(data[2:]) == error


@pytest.mark.parametrize("value", [b" " * 30000 + b"a" * 30000 + b"\x01", b"a " * 30000 + b"\x01"])
def test_invalid_long_field_line_fails_in_linear_time(value: bytes) -> None:
    # A backtracking pattern would take minutes here; the suite's run time catches it.
    data = block(b"X:" + value)
    assert parse_field_lines(data, 0, len(data)) is None


# -- RFC 9112 section 7.1: chunk size line ----------------------------------------------


@pytest.mark.parametrize(
    "line, size", [(b"0", b"0"), (b"1a", b"1a"), (b"FFFF", b"FFFF"), (b"5;name=value", b"5"), (b"A ; x", b"A")]
)
def test_chunk_size_lines(line: bytes, size: bytes) -> None:
    match = CHUNK_SIZE_LINE_RE.fullmatch(line)
    assert match is not None and match.group(1) == size


@pytest.mark.parametrize("line", [b"", b"zz", b"-1", b"1 0", b"1" * 17, b"1;a=\x01", b" 1"])
def test_invalid_chunk_size_lines(line: bytes) -> None:
    assert CHUNK_SIZE_LINE_RE.fullmatch(line) is None
