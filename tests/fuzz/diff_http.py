"""Differential harness: the same request bytes to asgiws' parser and to h11.

Input: the bytes a client sends (no options). Both parsers read the first
request of the stream, head, body and end; each comes to a verdict:
accepted (the whole first request, with what it says), rejected, or still
waiting for bytes. A disagreement is one side accepting what the other
does not, or both accepting different requests (a different body length
is how request smuggling starts). Each disagreement we know of is in
`KNOWN`, with the RFC section that decides it, and in README.md's table;
any other one fails the harness, to be fixed or written down. Those that
were fixed since (the RFC sided with h11) are no longer in `KNOWN`: their
examples, ``corpus/diff_http/fixed-*``, must now get the same verdict from
both parsers.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import h11

from asgiws.protocol.errors import HTTPError
from asgiws.protocol.grammar import comma_list
from asgiws.protocol.http11 import NEED_DATA, PAUSED, Data, EndOfMessage, Request, RequestParser
from asgiws.protocol.limits import MAX_HEADER_BLOCK, MAX_REQUEST_LINE


@dataclasses.dataclass
class Verdict:
    """What one parser made of the first request."""

    kind: str  # "accepted", "rejected" or "waiting"
    why: str = ""  # the error's message, for a rejection
    request: tuple[object, ...] = ()  # method, target, version, headers, body, trailers

    def __str__(self) -> str:
        return f"{self.kind} {self.why or self.request}"


def ours(data: bytes) -> Verdict:
    """asgiws' verdict."""
    parser = RequestParser()
    parser.feed(data)
    head: Request | None = None
    body = b""
    while True:
        try:
            event = parser.next_event()
        except HTTPError as exc:
            return Verdict("rejected", f"{exc.status} {exc}")
        if event is NEED_DATA or event is PAUSED:
            return Verdict("waiting")
        if isinstance(event, Request):
            head = event
        elif isinstance(event, Data):
            body += event.data
        else:
            assert isinstance(event, EndOfMessage) and head is not None
            return Verdict(
                "accepted",
                request=(
                    head.method.encode("ascii"),
                    head.target,
                    head.http_version.encode("ascii"),
                    head.headers,
                    body,
                    event.trailers,
                ),
            )


def theirs(data: bytes) -> Verdict:
    """h11's verdict, as a server (our role) with our head-size limit."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_LINE + MAX_HEADER_BLOCK)
    if data:  # h11 reads empty bytes as the end of the stream
        conn.receive_data(data)
    head: h11.Request | None = None
    body = b""
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            return Verdict("rejected", f"{exc.error_status_hint} {exc}")
        if event is h11.NEED_DATA or event is h11.PAUSED:
            return Verdict("waiting")
        if isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
        else:
            assert isinstance(event, h11.EndOfMessage) and head is not None, event
            return Verdict(
                "accepted",
                request=(
                    head.method,
                    head.target,
                    head.http_version,
                    list(head.headers),
                    body,
                    list(event.headers),
                ),
            )


@dataclasses.dataclass(frozen=True)
class Known:
    """A disagreement written down: which, and what decides it."""

    name: str
    rfc: str
    matches: Callable[[bytes, Verdict, Verdict], bool]


def _we_reject(*reasons: str) -> Callable[[bytes, Verdict, Verdict], bool]:
    """We refuse, for one of `reasons` (words of our error), what h11 accepts."""
    return lambda data, a, b: a.kind == "rejected" and b.kind == "accepted" and any(r in a.why for r in reasons)


def _they_reject(*reasons: str) -> Callable[[bytes, Verdict, Verdict], bool]:
    """h11 refuses, for one of `reasons` (words of its error), what we accept."""
    return lambda data, a, b: b.kind == "rejected" and a.kind == "accepted" and any(r in b.why for r in reasons)


def _same_request_reported_differently(data: bytes, a: Verdict, b: Verdict) -> bool:
    """Both accept the same request; h11 reports HTTP/1.2+ as sent (we say 1.1) and rewrites framing values.

    Framing values: ``Content-Length: 1, 1`` as ``1``, ``Transfer-Encoding: chUnked`` as ``chunked``.
    """
    if a.kind != "accepted" or b.kind != "accepted":
        return False
    framing = (b"content-length", b"transfer-encoding")

    def normal(request: tuple[object, ...], version: object) -> tuple[object, ...]:
        fields = [item for item in request[3] if item[0] not in framing]  # type: ignore[attr-defined]
        return (*request[:2], version, fields, *request[4:])

    version = b.request[2]
    if version[:2] == b"1." and version > b"1.1":  # type: ignore[index,operator]
        version = b"1.1"
    return normal(a.request, a.request[2]) == normal(b.request, version)


def _bare_lf(data: bytes, a: Verdict, b: Verdict) -> bool:
    """We refuse a bare LF (whatever the error says, or not yet); with CRLFs, no unknown disagreement is left."""
    crlf = _BARE_LF.sub(b"\r\n", data)
    return a.kind != "accepted" and crlf != data and classify(crlf) is not None


_BARE_LF = re.compile(rb"(?<!\r)\n")


def _no_host_above_1_1(data: bytes, a: Verdict, b: Verdict) -> bool:
    """We read HTTP/1.2 and above as 1.1, which requires Host; h11 requires it of 1.1 exactly."""
    if a.kind != "rejected" or "no Host field" not in a.why or b.kind != "accepted":
        return False
    version = b.request[2]
    return version[:2] == b"1." and version > b"1.1"  # type: ignore[index,operator]


def _framing_field_in_trailers(data: bytes, a: Verdict, b: Verdict) -> bool:
    """We keep Transfer-Encoding or Content-Length trailers apart, as trailers; h11 judges them as framing.

    It refuses one that would not frame a message, and folds repeated equal ones into one.
    """
    framing = (b"transfer-encoding", b"content-length")
    if a.kind != "accepted" or not any(name in framing for name, _ in a.request[5]):  # type: ignore[union-attr]
        return False
    if b.kind == "rejected":
        return "Transfer-Encoding" in b.why or "Content-Length" in b.why
    if b.kind != "accepted":
        return False

    def without(verdict: Verdict) -> Verdict:
        trailers = [item for item in verdict.request[5] if item[0] not in framing]  # type: ignore[union-attr]
        return dataclasses.replace(verdict, request=(*verdict.request[:5], trailers))

    a, b = without(a), without(b)
    return a == b or _same_request_reported_differently(data, a, b)


def _empty_list_elements(data: bytes, a: Verdict, b: Verdict) -> bool:
    """We read ``Transfer-Encoding: , chunked`` as ``chunked``; h11 refuses anything but the one word."""
    if a.kind != "accepted" or b.kind != "rejected" or "Transfer-Encoding" not in b.why:
        return False
    values = [value for name, value in a.request[3] if name == b"transfer-encoding"]  # type: ignore[union-attr]
    return comma_list(values, lower=True) == [b"chunked"] and [value.lower() for value in values] != [b"chunked"]


#: The disagreements we know of; README.md's table says the same, with the reasons.
KNOWN: list[Known] = [
    Known("leading empty lines", "RFC 9112 section 2.2", _they_reject("no request line received")),
    Known("bare LF as a line end", "RFC 9112 section 2.2", _bare_lf),
    Known("control character in a field value", "RFC 9110 section 5.5", _we_reject("invalid header value")),
    Known("obs-fold", "RFC 9112 section 5.2", _we_reject("obsolete line folding")),
    Known("HTTP major version other than 1", "RFC 9110 section 15.6.6", _we_reject("505 unsupported HTTP version")),
    Known("same request, reported differently", "RFC 9110 sections 2.5 and 8.6", _same_request_reported_differently),
    Known(
        "chunk-size line outside the grammar or over 16 hex digits",
        "RFC 9112 section 7.1",
        _we_reject("invalid chunk size line"),
    ),
    Known(
        "both Content-Length and Transfer-Encoding",
        "RFC 9112 section 6.3",
        _we_reject("both Content-Length and Transfer-Encoding"),
    ),
    Known("empty elements in a Transfer-Encoding list", "RFC 9110 section 5.6.1.2", _empty_list_elements),
    Known(
        "Transfer-Encoding in HTTP/1.0",
        "RFC 9112 section 6.1",
        _we_reject("Transfer-Encoding in an HTTP/1.0 request"),
    ),
    Known("framing field in the trailers", "RFC 9110 sections 6.5.1, 6.5.2", _framing_field_in_trailers),
    Known("over our limits (431, 414)", "RFC 9110 section 5.4", _we_reject("431 ", "414 ")),
    Known("no Host in HTTP/1.2 and above", "RFC 9110 section 2.5, RFC 9112 section 3.2", _no_host_above_1_1),
]


def disagreement(data: bytes) -> tuple[Verdict, Verdict] | None:
    """Both verdicts when they disagree on accepting the first request, else None."""
    a, b = ours(data), theirs(data)
    if a.kind != "accepted" and b.kind != "accepted":
        return None
    if a.kind == b.kind and a.request == b.request:
        return None
    return a, b


def classify(data: bytes) -> str | None:
    """The name of the known disagreement `data` shows; "" for none; None for an unknown one."""
    found = disagreement(data)
    if found is None:
        return ""
    for known in KNOWN:
        if known.matches(data, *found):
            return known.name
    return None


def fuzz(data: bytes) -> None:
    """One run of the harness: an unknown disagreement is a finding."""
    if classify(data) is None:
        a, b = disagreement(data)  # type: ignore[misc]
        error = AssertionError(f"asgiws and h11 disagree on {data!r}:\n  asgiws: {a}\n  h11:    {b}")
        # What kind of disagreement, without the input that h11's messages quote.
        error.signature = (a.kind, a.why.split(":")[0], b.kind, b.why.split(":")[0])  # type: ignore[attr-defined]
        raise error
