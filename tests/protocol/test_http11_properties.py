"""Properties of the HTTP/1.1 request parser: split-invariance and robustness to any input."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgiws.protocol.errors import HTTPError
from asgiws.protocol.http11 import NEED_DATA, PAUSED, Data, EndOfMessage, Request, RequestParser

TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Names that would change framing or connection handling are left to the example tests.
RESERVED = {b"content-length", b"transfer-encoding", b"connection", b"expect", b"upgrade", b"host"}

tokens = st.text(TCHARS, min_size=1, max_size=12).map(str.encode)
field_names = tokens.filter(lambda name: name.lower() not in RESERVED)
# field-vchar and obs-text, with SP/HTAB only inside.
field_values = st.binary(max_size=20).map(
    lambda raw: bytes(b for b in raw if b == 0x20 or b == 0x09 or 0x21 <= b <= 0x7E or b >= 0x80).strip(b" \t")
)
fields = st.lists(st.tuples(field_names, field_values), max_size=6)
targets = st.text("abcdefghijklmnopqrstuvwxyz0123456789/?=&%-._~", min_size=0, max_size=20).map(
    lambda path: b"/" + path.encode()
)
bodies = st.binary(max_size=40)


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, list[object]]:
    """A serialized request and the events the parser must produce for it."""
    method = draw(st.sampled_from([b"GET", b"POST", b"PUT", b"PATCH", b"DELETE"]) | tokens)
    target = draw(targets)
    headers = draw(fields)
    # RFC 9112 section 3.2: an HTTP/1.1 request carries one Host, anywhere among its fields.
    host = draw(st.sampled_from([b"Host", b"host", b"HOST"])), draw(field_values)
    headers.insert(draw(st.integers(0, len(headers))), host)
    framing = draw(st.sampled_from(["none", "length", "chunked"]))
    body = draw(bodies) if framing != "none" else b""
    trailers: list[tuple[bytes, bytes]] = []
    wire = [method + b" " + target + b" HTTP/1.1\r\n"]
    expected_headers = [(name.lower(), value) for name, value in headers]
    wire += [name + b": " + value + b"\r\n" for name, value in headers]
    if framing == "length":
        wire.append(b"Content-Length: %d\r\n" % len(body))
        expected_headers.append((b"content-length", b"%d" % len(body)))
    elif framing == "chunked":
        wire.append(b"Transfer-Encoding: chunked\r\n")
        expected_headers.append((b"transfer-encoding", b"chunked"))
    wire.append(b"\r\n")
    if framing == "chunked":
        sizes = draw(st.lists(st.integers(1, 16), max_size=8))
        position = 0
        for size in sizes:
            chunk = body[position : position + size]
            if not chunk:
                break
            extension = draw(st.sampled_from([b"", b";a=b", b" ; x"]))
            wire.append(b"%x%s\r\n%s\r\n" % (len(chunk), extension, chunk))
            position += len(chunk)
        if position < len(body):
            wire.append(b"%X\r\n%s\r\n" % (len(body) - position, body[position:]))
        wire.append(b"0\r\n")
        trailers = draw(fields)
        wire += [name + b": " + value + b"\r\n" for name, value in trailers]
        wire.append(b"\r\n")
    elif framing == "length":
        wire.append(body)
    request = Request(
        method.decode(),
        target,
        "1.1",
        expected_headers,
        content_length=len(body) if framing == "length" else None,
        chunked=framing == "chunked",
    )
    expected: list[object] = [request]
    if body:
        expected.append(Data(body))
    expected.append(EndOfMessage([(name.lower(), value) for name, value in trailers]))
    return b"".join(wire), expected


def drain(parser: RequestParser) -> list[object]:
    out: list[object] = []
    for _ in range(100_000):
        event = parser.next_event()
        if event is NEED_DATA:
            return out
        if event is PAUSED:
            parser.resume()
            continue
        if isinstance(event, Data) and out and isinstance(out[-1], Data):
            out[-1] = Data(out[-1].data + event.data)
        else:
            out.append(event)
    raise AssertionError("the parser never stopped producing events")


def feed_pieces(pieces: list[bytes]) -> list[object]:
    parser = RequestParser()
    out: list[object] = []
    for piece in pieces:
        parser.feed(piece)
        for event in drain(parser):
            if isinstance(event, Data) and out and isinstance(out[-1], Data):
                out[-1] = Data(out[-1].data + event.data)
            else:
                out.append(event)
    assert parser.between_requests
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_any_split_point_gives_the_same_events(case: tuple[bytes, list[object]]) -> None:
    wire, expected = case
    assert feed_pieces([wire]) == expected
    for cut in range(1, len(wire)):
        assert feed_pieces([wire[:cut], wire[cut:]]) == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(requests(), min_size=1, max_size=5), st.randoms(use_true_random=False))
def test_pipelined_requests_in_random_pieces(cases: list[tuple[bytes, list[object]]], rng: random.Random) -> None:
    wire = b"".join(data for data, _ in cases)
    expected = [event for _, events in cases for event in events]
    cuts = sorted(rng.sample(range(1, len(wire)), min(len(wire) - 1, rng.randint(0, 12))))
    pieces = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    assert feed_pieces(pieces) == expected
    assert feed_pieces([bytes([byte]) for byte in wire]) == expected


def run_to_end(pieces: list[bytes]) -> None:
    """Feed everything, pulling events; only HTTPError may come out, and it always ends."""
    parser = RequestParser(max_request_line=256, max_header_block=1024, max_headers=16, max_body_size=4096)
    try:
        for piece in pieces:
            parser.feed(piece)
            drain(parser)
    except HTTPError as exc:
        assert 400 <= exc.status <= 505
        # Dead for good.
        try:
            parser.next_event()
        except HTTPError as again:
            assert again is exc
        else:
            raise AssertionError("the parser came back to life after an error")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_random_bytes_raise_only_http_error(pieces: list[bytes]) -> None:
    run_to_end(pieces)


@settings(max_examples=150, deadline=None)
@given(st.lists(requests(), min_size=1, max_size=3), st.randoms(use_true_random=False))
def test_mutated_requests_raise_only_http_error(cases: list[tuple[bytes, list[object]]], rng: random.Random) -> None:
    wire = bytearray(b"".join(data for data, _ in cases))
    interesting = b"\r\n \t:;0123456789aAfF\x00\x7f\x80,-"
    for _ in range(rng.randint(1, 6)):
        position = rng.randrange(len(wire) + 1)
        operation = rng.randrange(3)
        if operation == 0 and position < len(wire):
            wire[position] ^= 1 << rng.randrange(8)
        elif operation == 1:
            wire[position:position] = bytes([rng.choice(interesting)])
        elif position < len(wire):
            del wire[position]
    data = bytes(wire)
    cuts = sorted(rng.sample(range(1, len(data)), min(max(len(data) - 1, 0), rng.randint(0, 6))))
    run_to_end([data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)])


def test_deterministic_fuzz_of_smuggling_shapes() -> None:
    """Mutations around the framing fields, where smuggling bugs live."""
    rng = random.Random(1234)
    seeds = [
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX: y\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x80abcd",
    ]
    for _ in range(1500):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(data))
            data[position] = rng.choice(b"\r\n \t:;,0fF\x00")
        split = rng.randrange(len(data) + 1)
        run_to_end([bytes(data[:split]), bytes(data[split:])])
