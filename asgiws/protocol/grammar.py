"""The HTTP/1.1 grammar (RFC 9110, RFC 9112), once, for every parser and writer of the package.

The request parser (`http11`), the opening handshake on both sides
(`handshake`) and the Sec-WebSocket-Extensions parser (`deflate`) all read
and write HTTP with the rules below; none keeps a pattern of its own.

Rules are written as `str` patterns, each under the RFC section that defines
it, so that one text serves the wire (compiled here to `bytes` regexes, the
``*_RE`` names) and the places that work on decoded text (`deflate`, which
compiles its own composition of `TOKEN`, `OWS` and `QUOTED_STRING`). Where
this package accepts more than the RFC on input, the rule says so; what we
send always follows the RFC.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "VCHAR",
    "OWS",
    "TCHAR",
    "TOKEN",
    "FIELD_CHAR",
    "QUOTED_STRING",
    "HTTP_VERSION",
    "STATUS_CODES",
    "ORIGIN",
    "TOKEN_RE",
    "FIELD_VALUE_RE",
    "NOT_FIELD_CHAR_RE",
    "REQUEST_LINE_RE",
    "STATUS_LINE_RE",
    "FIELD_LINES_RE",
    "CHUNK_SIZE_LINE_RE",
    "CONTENT_LENGTH_RE",
    "comma_list",
    "content_length",
    "parse_field_lines",
    "field_lines_error",
    "unquote",
]

# -- RFC 5234 appendix B.1 and RFC 9110 section 5.5: characters -------------

#: Visible (printing) US-ASCII.
VCHAR = r"[\x21-\x7e]"

# -- RFC 9110 section 5.6.3: whitespace --------------------------------------

#: OWS = *( SP / HTAB )
OWS = r"[ \t]*"

# -- RFC 9110 section 5.6.2: tokens ------------------------------------------

#: tchar: any VCHAR except the delimiters ``"(),/:;<=>?@[\]{}``.
TCHAR = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
#: token = 1*tchar; also field-name (section 5.1) and method (RFC 9112 section 3.1).
TOKEN = TCHAR + "+"

# -- RFC 9110 section 5.5: field values --------------------------------------

#: What a field value holds: field-vchar (VCHAR / obs-text, the bytes above
#: US-ASCII), and SP or HTAB inside it. Control characters (NUL, CR, LF, DEL...) never.
FIELD_CHAR = r"[\t\x20-\x7e\x80-\xff]"

# -- RFC 9110 section 5.6.4: quoted strings ----------------------------------

#: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
QUOTED_STRING = r'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'

# -- RFC 9112 section 2.3: version -------------------------------------------

#: HTTP-version = "HTTP/" DIGIT "." DIGIT (case-sensitive), major and minor captured.
HTTP_VERSION = r"HTTP/([0-9])\.([0-9])"

# -- RFC 9110 section 15: status codes -----------------------------------------

#: The status codes a response may carry: "values outside the range 100..599 are invalid".
STATUS_CODES = range(100, 600)

# -- RFC 6454 section 7: the Origin field --------------------------------------

#: serialized-origin = scheme "://" host [ ":" port ], or "null" (an opaque
#: origin: a sandboxed frame, a file: page). Lenient on the host: any run of
#: visible characters but "/", "?" and "#", since what counts is equality
#: with the value a browser sends, not a parse.
ORIGIN = r"null|[A-Za-z][A-Za-z0-9+.\-]*://[\x21-\x22\x24-\x2e\x30-\x3e\x40-\x7e]+"

# -- compiled, for the wire ----------------------------------------------------


def _wire(pattern: str) -> re.Pattern[bytes]:
    return re.compile(pattern.encode("latin-1"))


#: A token, to `fullmatch` a field name, a method or a list element.
TOKEN_RE = _wire(TOKEN)

#: A field value as we send it (RFC 9110 section 5.5), to `fullmatch`.
FIELD_VALUE_RE = _wire(FIELD_CHAR + "*")

#: A byte no field value may hold, to `search` many values joined in one call.
NOT_FIELD_CHAR_RE = _wire("[^" + FIELD_CHAR[1:])

#: RFC 9112 section 3: request-line = method SP request-target SP HTTP-version.
#: Groups: method, target, major, minor. The target is any run of VCHAR: every
#: form of request-target (RFC 9112 section 3.2, RFC 3986) is US-ASCII, so a
#: raw byte above 0x7F (unencoded UTF-8) makes the request line invalid (400,
#: RFC 9112 section 3); non-ASCII text travels percent-encoded. Lenient only
#: within VCHAR (``"``, ``<``, ``{``, ``|``... pass); the server interprets it.
REQUEST_LINE_RE = _wire("(" + TOKEN + ") (" + VCHAR + "+) " + HTTP_VERSION)

#: RFC 9112 section 4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
#: Groups: major, minor, status code, reason phrase.
STATUS_LINE_RE = _wire(HTTP_VERSION + " ([0-9]{3}) (" + FIELD_CHAR + "*)")

#: RFC 9112 section 5: field-line = field-name ":" OWS field-value OWS.
#: Each line is matched from the CRLF that ends the line before it up to (not
#: including) its own CRLF, so that `findall` over a whole block returns one
#: (name, value) pair per valid line and skips invalid ones: a bad byte, a
#: bare CR or LF, obs-fold (a line starting with SP or HTAB, which RFC 9112
#: section 5.2 lets a server reject). `parse_field_lines` counts them. The OWS
#: around the value is possessive and the value's end found by a lookbehind,
#: so a failing line costs linear time, never quadratic; the empty value is a
#: branch of its own (``X|``, cheaper for the regex engine than ``(?:X)?``).
_OWS_POSSESSIVE = OWS + "+"  # ``*+``: never gives back what it matched
FIELD_LINES_RE = _wire(
    r"\r\n(" + TOKEN + "):" + _OWS_POSSESSIVE + "(" + FIELD_CHAR + r"*(?<![ \t])|)" + _OWS_POSSESSIVE + r"(?=\r\n)"
)

#: RFC 9112 section 7.1: chunk-size [ chunk-ext ]. At most 16 hex digits
#: (a 64-bit size); extensions are ignored but hold no control characters.
CHUNK_SIZE_LINE_RE = _wire(r"([0-9A-Fa-f]{1,16})(?:" + OWS + ";" + FIELD_CHAR + "*)?")

#: RFC 9110 section 8.6: Content-Length = 1*DIGIT, at most 19 digits (fits 63 bits).
CONTENT_LENGTH_RE = _wire("[0-9]{1,19}")


# -- RFC 9110 section 5.6.1: lists ---------------------------------------------


def comma_list(values: Iterable[bytes], *, lower: bool = False) -> list[bytes]:
    """The elements of a #list field, from all its lines (RFC 9110 sections 5.3 and 5.6.1).

    Elements are stripped of OWS and empty ones dropped (``a, , b`` is two
    elements); `lower` lowercases them, for case-insensitive tokens
    (Connection, Upgrade, Transfer-Encoding...). Commas inside quoted
    strings are not special-cased: this is for lists of tokens.
    """
    items = []
    for value in values:
        if lower:
            value = value.lower()
        for item in value.split(b","):
            item = item.strip(b" \t")
            if item:
                items.append(item)
    return items


def content_length(values: Iterable[bytes]) -> int:
    """The body length that the Content-Length lines `values` declare (RFC 9110 section 8.6).

    Identical values, repeated or in a list (``42, 42``), are one; raises
    ValueError when they differ, when one is not 1*DIGIT (at most 19) or when
    a list has an empty element: a length is too important to guess.
    """
    lengths = {item.strip(b" \t") for value in values for item in value.split(b",")}
    if len(lengths) != 1:
        raise ValueError("conflicting Content-Length values")
    (length,) = lengths
    if CONTENT_LENGTH_RE.fullmatch(length) is None:
        raise ValueError("invalid Content-Length")
    return int(length)


# -- RFC 9112 section 5: field lines ---------------------------------------------


def parse_field_lines(data: bytes | bytearray, start: int, end: int) -> list[tuple[bytes, bytes]] | None:
    """The (name, value) pairs of the field lines in ``data[start:end]``, or None if any line is invalid.

    ``data[start:start + 2]`` is the CRLF that ends the start line (or an
    added one) and ``data[end - 2:end]`` the CRLF that ends the last field
    line. Names keep their case; values are stripped of the OWS around them.
    """
    fields = FIELD_LINES_RE.findall(data, start, end)
    # Every LF of a valid block ends a line: a line that did not match
    # entirely is missing from `fields`.
    if len(fields) != data.count(b"\n", start, end - 2):
        return None
    return fields


def field_lines_error(block: bytes) -> str:
    """Why a block of field lines (each ending with CRLF) was refused, naming the first bad line's fault."""
    for line in block.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            return "obsolete line folding in header"
        if b"\n" in line or b"\r" in line:
            return "bare CR or LF in header"
        name, colon, _ = line.partition(b":")
        if line and (not colon or TOKEN_RE.fullmatch(name) is None):
            return "invalid header name"
    return "invalid header value"


# -- RFC 9110 section 5.6.4: quoted strings -------------------------------------

_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)


def unquote(quoted: str) -> str:
    """The content of a quoted-string (quotes included in `quoted`), with quoted-pairs resolved."""
    return _QUOTED_PAIR.sub(r"\1", quoted[1:-1])
