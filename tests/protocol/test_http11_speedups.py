"""The request-head parser in C (`_http11.c`) and in pure Python give identical results for the same bytes.

Both are run through a whole `RequestParser` (tests/fuzz/diff_http_head.py's
`both`): every event, every request's special fields, and every rejection's
status and message must be the same, for the malformed-request table, the
valid requests of the other tests, generated heads (valid, and built from
the bytes that break the grammar) and the fuzz corpus.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgiws.protocol import native, request_head
from asgiws.protocol.http11 import RequestParser
from asgiws.protocol.request_head import head_error
from tests.fuzz.diff_http_head import C_PARSE_REQUEST_HEAD, both
from tests.fuzz.fuzz_http_request import make_parser
from tests.fuzz.harnesses import corpus
from tests.fuzz.reader import chunks, options_seed_stream

from .test_http11 import MALFORMED
from .test_http11_properties import requests

pytestmark = pytest.mark.skipif(C_PARSE_REQUEST_HEAD is None, reason="the C accelerator is not built")

ROOT = Path(__file__).resolve().parents[2]


def assert_same(data: bytes, **limits: int | None) -> list[str]:
    """Both parsers agree on `data`, in one read and byte by byte; the outcome of the one read."""
    whole = both([data], lambda: RequestParser(**limits))  # type: ignore[arg-type]
    assert whole[0] == whole[1]
    trickle = both([data[i : i + 1] for i in range(len(data))], lambda: RequestParser(**limits))  # type: ignore[arg-type]
    assert trickle[0] == trickle[1]
    return whole[0]


@pytest.mark.parametrize("data, status", [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_requests_are_refused_alike(data: bytes, status: int) -> None:
    out = assert_same(data, max_body_size=1024)
    assert out[-1].startswith(f"error {status}:")


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",  # HTTP/1.0 may omit Host
        b"GET / HTTP/1.9\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost:\r\n\r\n",
        b"\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        b"BREW /pot?x=1 HTTP/1.1\r\nX-Empty:\r\nX-Spaces: \t \r\nX:  a \t b  \r\nhost: a\r\n\r\n",
        b"GET /caf%C3%A9?q=%E2%82%AC HTTP/1.1\r\nHost: a\r\n\r\n",  # UTF-8, percent-encoded
        b'GET /{"a"}|<b>^`\\ HTTP/1.1\r\nHost: a\r\n\r\n',
        b"GET /caf%C3%A9 HTTP/1.1\r\nX-Obs: \x80\xff\r\nHOST: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
        b"Sec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\nOrigin: null\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: v\r\n\r\n",
    ],
)
def test_valid_requests_are_parsed_alike(data: bytes) -> None:
    out = assert_same(data)
    assert not any(line.startswith("error") for line in out)


@pytest.mark.parametrize("byte", range(256), ids=lambda byte: f"{byte:#04x}")
def test_every_target_byte_alike(byte: int) -> None:
    # The target is VCHAR only (RFC 9112 section 3.2, RFC 3986): no control, no SP, nothing above 0x7F.
    out = assert_same(b"GET /" + bytes([byte]) + b" HTTP/1.1\r\nHost: a\r\n\r\n")
    assert out[-1].startswith("error 400:") is not (0x21 <= byte <= 0x7E)


@pytest.mark.parametrize(
    "data",
    [b"GET / HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\nX-Host: a\r\n\r\n", b"GET / HTTP/1.2\r\nAccept: */*\r\n\r\n"],
)
def test_no_host_in_http_1_1_refused_alike(data: bytes) -> None:
    assert assert_same(data) == ["error 400: no Host field"]


@pytest.mark.parametrize("count, max_headers", [(0, 0), (1, 0), (2, 2), (3, 2), (128, 128), (129, 128)])
def test_header_count_limit_alike(count: int, max_headers: int) -> None:
    # HTTP/1.0, which may omit Host: the count starts at 0.
    data = b"GET / HTTP/1.0\r\n" + b"".join(b"h%d: v\r\n" % i for i in range(count)) + b"\r\n"
    out = assert_same(data, max_headers=max_headers)
    assert out[-1].startswith("error 431:") == (count > max_headers)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_generated_valid_requests_alike(case: tuple[bytes, list[object]]) -> None:
    data, _ = case
    assert_same(data)


# Bytes that each break or stress one rule of the head's grammar, with the ones that build a valid head.
ALPHABET = 'aZ09-!~:/ \t\r\n\x00\x01\x7f\x80\xff()"@'
lines = st.text(ALPHABET, max_size=12).map(lambda text: text.encode("latin-1"))
request_lines = (
    st.sampled_from(
        [b"GET / HTTP/1.1", b"G(T / HTTP/1.1", b"GET  / HTTP/1.1", b"GET / HTTP/2.0", b"GET /\x80 HTTP/1.0", b"GET /"]
    )
    | lines
)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(request_lines, st.lists(st.one_of(lines, lines.map(lambda line: b"X-" + line)), max_size=5), st.integers(0, 3))
def test_generated_heads_alike(request_line: bytes, fields: list[bytes], max_headers: int) -> None:
    data = request_line + b"\r\n" + b"".join(field + b"\r\n" for field in fields) + b"\r\n"
    assert_same(data, max_headers=max_headers)


def corpus_files() -> list[Path]:
    return sorted(path for name in ("http_request", "diff_http_head") for path in corpus(name).iterdir())


@pytest.mark.parametrize("path", corpus_files(), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_fuzz_corpus_alike(path: Path) -> None:
    options, seed, stream = options_seed_stream(path.read_bytes())
    c, py = both(list(chunks(stream, seed)), lambda: make_parser(options))
    assert c == py


def test_diff_http_corpus_alike() -> None:
    # diff_http's inputs are raw streams (no option bytes).
    for path in sorted(corpus("diff_http").iterdir()):
        assert_same(path.read_bytes())


def test_unknown_code_is_a_bug() -> None:
    with pytest.raises(ValueError):
        head_error(99, b"", 0, 0)


def test_c_accelerator_is_used_when_built() -> None:
    expected = C_PARSE_REQUEST_HEAD if native.ENABLED else request_head.py_parse_request_head
    assert request_head.parse_request_head is expected


def test_no_extensions_switch_selects_pure_python() -> None:
    code = (
        "from asgiws.protocol import mask, request_head;"
        "print(request_head.parse_request_head is request_head.py_parse_request_head,"
        " mask.apply_mask is mask.py_apply_mask)"
    )
    env = dict(os.environ, ASGIWS_NO_EXTENSIONS="1", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True"]


def test_arguments_out_of_the_buffer_are_refused() -> None:
    assert C_PARSE_REQUEST_HEAD is not None
    with pytest.raises(ValueError):
        C_PARSE_REQUEST_HEAD(b"GET / HTTP/1.1\r\n", 14, 15, 10, frozenset())
    with pytest.raises(TypeError):
        C_PARSE_REQUEST_HEAD(b"GET / HTTP/1.1\r\n\r\n", 14, 14, 10, [])
