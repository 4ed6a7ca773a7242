"""The request line and field lines of an HTTP/1.1 request head (RFC 9112 sections 3 and 5), in one call.

`parse_request_head` is the C accelerator (`_http11.c`) when it was built,
else `py_parse_request_head`; both read the grammar of `grammar`
(`REQUEST_LINE_RE`, `FIELD_LINES_RE`) and give the same answer for the
same bytes: the parsed head, or the int code of the rule that failed,
which `head_error` turns into the HTTPError the request parser raises.
Returning a code rather than raising keeps the C side free of the error
types and of their messages; tests/protocol/test_http11_speedups.py feeds
both versions the same bytes.

The caller (`http11.RequestParser`) has found the head's end and checked
its size limits: ``buf[:line_end]`` is the request line and
``buf[line_end:end + 2]`` the CRLF ending it followed by the field lines,
each ending with CRLF (``end`` is where the head's CRLFCRLF starts).
"""

from __future__ import annotations

from collections.abc import Set

from . import grammar, native
from .errors import HTTPError
from .grammar import field_lines_error, parse_field_lines

__all__ = [
    "INVALID_REQUEST_LINE",
    "UNSUPPORTED_VERSION",
    "INVALID_FIELDS",
    "TOO_MANY_FIELDS",
    "ParsedHead",
    "py_parse_request_head",
    "parse_request_head",
    "head_error",
]

# Which rule a head broke; keep in step with _http11.c's HEAD_* codes.
INVALID_REQUEST_LINE = 1
UNSUPPORTED_VERSION = 2
INVALID_FIELDS = 3
TOO_MANY_FIELDS = 4

#: method, target, HTTP version ("1.0" or "1.1"), (lowercased name, value)
#: pairs in order, and the values of the fields named in `special_names`, by name.
ParsedHead = tuple[str, bytes, str, list[tuple[bytes, bytes]], dict[bytes, list[bytes]]]

_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")}

# A module name of our own (not `from grammar import`): CPython compiles
# ``NAME.fullmatch(...)`` into a cheap method call only when NAME was not bound by an import.
_match_request_line = grammar.REQUEST_LINE_RE.fullmatch


def py_parse_request_head(
    buf: bytes | bytearray, line_end: int, end: int, max_headers: int, special_names: Set[bytes]
) -> ParsedHead | int:
    """The head in ``buf[:end + 2]`` (see the module docstring), or the code of the first rule it breaks."""
    match = _match_request_line(buf, 0, line_end)
    if match is None:
        return INVALID_REQUEST_LINE
    method_bytes, target, major, minor = match.groups()
    if major != b"1":
        return UNSUPPORTED_VERSION
    fields = parse_field_lines(buf, line_end, end + 2)
    if fields is None:
        return INVALID_FIELDS
    if len(fields) > max_headers:
        return TOO_MANY_FIELDS
    headers = []
    special: dict[bytes, list[bytes]] = {}
    for name, value in fields:
        name = name.lower()  # the only time a received name is lowercased
        headers.append((name, value))
        if name in special_names:
            values = special.get(name)
            if values is None:
                special[name] = [value]
            else:
                values.append(value)
    method = _METHODS.get(method_bytes) or method_bytes.decode("ascii")
    return method, target, "1.0" if minor == b"0" else "1.1", headers, special


def head_error(code: int, buf: bytes | bytearray, line_end: int, end: int) -> HTTPError:
    """The error a request parser raises for a head that broke rule `code`."""
    if code == INVALID_REQUEST_LINE:
        return HTTPError("invalid request line", 400)
    if code == UNSUPPORTED_VERSION:
        return HTTPError("unsupported HTTP version", 505)
    if code == INVALID_FIELDS:
        return HTTPError(field_lines_error(bytes(buf[line_end + 2 : end + 2])), 400)
    if code == TOO_MANY_FIELDS:
        return HTTPError("too many header fields", 431)
    raise ValueError(f"no request head error {code}")


if native.ENABLED:
    try:
        from ._http11 import parse_request_head
    except ImportError:  # built without a compiler: the pure-Python version
        parse_request_head = py_parse_request_head
else:
    parse_request_head = py_parse_request_head
