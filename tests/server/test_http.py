"""HTTP/1.1 behaviour of the server, run on asgiws and on uvicorn (the reference).

Real servers on 127.0.0.1, real clients: httpx where it will do, a raw socket
for pipelining, 100-continue, HEAD on a kept-alive connection and malformed
requests.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import socket
import threading

import httpx
import pytest

from tests.conftest import running_server

from .raw_client import RawResponse, connect, exchange, is_closed

TIMEOUT = 5


async def echo_app(scope, receive, send):
    """Answers with the request body, and the path in a header."""
    assert scope["type"] == "http"
    body = b""
    more_body = True
    while more_body:
        message = await receive()
        assert message["type"] == "http.request"
        body += message.get("body", b"")
        more_body = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode()), (b"x-path", scope["path"].encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def test_scope(server_kind):
    scopes = []

    async def app(scope, receive, send):
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with running_server(app, server_kind) as (host, port):
        response = httpx.get(f"http://{host}:{port}/caf%C3%A9/a%2Fb?x=1&y=%20", headers={"X-Test": "Yes"})
    assert response.status_code == 204
    (scope,) = scopes
    assert scope["type"] == "http"
    assert scope["asgi"]["version"] == "3.0"
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["server"] == (host, port)
    assert scope["client"][0] == "127.0.0.1" and isinstance(scope["client"][1], int)
    assert scope["root_path"] == ""
    assert scope["path"] == "/café/a/b"
    assert scope["raw_path"] == b"/caf%C3%A9/a%2Fb"
    assert scope["query_string"] == b"x=1&y=%20"
    assert (b"x-test", b"Yes") in scope["headers"]
    assert all(name == name.lower() and isinstance(value, bytes) for name, value in scope["headers"])


def test_scope_spec_version_is_2_4():
    scopes = []

    async def app(scope, receive, send):
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    with running_server(app, "asgiws") as (host, port):
        httpx.get(f"http://{host}:{port}/")
    assert scopes[0]["asgi"] == {"version": "3.0", "spec_version": "2.4"}


def test_root_path_prefixes_path(server_kind):
    scopes = []

    async def app(scope, receive, send):
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    with running_server(app, server_kind, root_path="/api") as (host, port):
        httpx.get(f"http://{host}:{port}/items")
    assert scopes[0]["root_path"] == "/api"
    assert scopes[0]["path"] == "/api/items"
    assert scopes[0]["raw_path"] == b"/api/items"


def test_streaming_request_body(server_kind):
    chunks = [b"a" * 1000, b"b" * 70000, b"c"]

    def body():
        yield from chunks

    with running_server(echo_app, server_kind) as (host, port):
        response = httpx.post(f"http://{host}:{port}/upload", content=body())
    assert response.status_code == 200
    assert response.content == b"".join(chunks)


def test_streaming_response_body_is_chunked(server_kind):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for part in (b"one ", b"two ", b"", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    with running_server(app, server_kind) as (host, port):
        responses, _ = exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    (response,) = responses
    assert response.header("transfer-encoding") == "chunked"
    assert response.body == b"one two three"


def test_head_has_no_body_and_keeps_connection(server_kind):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"hello" if scope["method"] == "GET" else b""})

    with running_server(app, server_kind) as (host, port), connect(port) as sock:
        reader = sock.makefile("rb")
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        head = RawResponse.read_from(reader, head_request=True)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        get = RawResponse.read_from(reader)
    assert head.status == 200 and head.header("content-length") == "5" and head.body == b""
    assert get.body == b"hello"


def test_keep_alive_and_pipelining_in_order(server_kind):
    requests = b"".join(
        b"POST /%d HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (i, len(body), body)
        for i, body in enumerate([b"first", b"", b"third" * 1000, b"4"])
    )
    with running_server(echo_app, server_kind) as (host, port):
        responses, closed = exchange(port, requests + b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert [r.header("x-path") for r in responses] == ["/0", "/1", "/2", "/3", "/last"]
    assert [r.body for r in responses] == [b"first", b"", b"third" * 1000, b"4", b""]
    assert closed


def test_expect_100_continue(server_kind):
    with running_server(echo_app, server_kind) as (host, port), connect(port) as sock:
        reader = sock.makefile("rb")
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        interim = RawResponse.read_from(reader)
        sock.sendall(b"body")
        final = RawResponse.read_from(reader)
    assert interim.status == 100
    assert final.status == 200 and final.body == b"body"


def test_no_100_continue_when_app_does_not_read(server_kind):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body"})

    with running_server(app, server_kind) as (host, port), connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        response = RawResponse.read_from(sock.makefile("rb"))
    assert response.status == 413


def test_exception_before_response_is_500(server_kind):
    async def app(scope, receive, send):
        raise ValueError("boom")

    with running_server(app, server_kind) as (host, port):
        response = httpx.get(f"http://{host}:{port}/")
    assert response.status_code == 500


def test_returning_without_response_is_500(server_kind):
    async def app(scope, receive, send):
        pass

    with running_server(app, server_kind) as (host, port):
        response = httpx.get(f"http://{host}:{port}/")
    assert response.status_code == 500


#: Response heads an app may ask for that must never reach the wire (response splitting), by path.
UNSENDABLE = {
    "/crlf-in-value": (200, [(b"x-a", b"1\r\nset-cookie: stolen=1")]),
    "/lf-in-value": (200, [(b"x-a", b"1\nset-cookie: stolen=1")]),
    "/cr-in-value": (200, [(b"x-a", b"1\rset-cookie: stolen=1")]),
    "/nul-in-value": (200, [(b"x-a", b"stolen\x00")]),
    "/crlf-in-name": (200, [(b"set-cookie: stolen=1\r\nx-a", b"1")]),
    "/name-not-a-token": (200, [(b"x stolen", b"1")]),
    "/empty-name": (200, [(b"", b"stolen")]),
    "/status-600": (600, [(b"x-a", b"stolen")]),
    "/status-999": (999, [(b"x-a", b"stolen")]),
    "/status-99": (99, [(b"x-a", b"stolen")]),
    "/status-text": ("200", [(b"x-a", b"stolen")]),
}


def test_a_response_head_that_cannot_be_sent_is_never_written():
    """The app's send() raises, the client gets the server's 500, and not a byte of the app's head."""
    errors = queue.Queue()

    async def app(scope, receive, send):
        status, headers = UNSENDABLE[scope["path"]]
        try:
            await send({"type": "http.response.start", "status": status, "headers": headers})
        except Exception as exc:
            errors.put((scope["path"], exc))
            raise
        await send({"type": "http.response.body", "body": b"stolen"})

    with running_server(app, "asgiws", log_level="critical") as (_, port):
        for path in UNSENDABLE:
            responses, closed = exchange(port, b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
            assert [(r.status, r.body) for r in responses] == [(500, b"Internal Server Error")], path
            assert closed and "stolen" not in repr(responses[0].headers), path
            seen, error = errors.get(timeout=TIMEOUT)
            assert seen == path and isinstance(error, RuntimeError), path


def test_exception_after_response_start_closes_connection(server_kind):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
        await send({"type": "http.response.body", "body": b"12345", "more_body": True})
        raise ValueError("boom")

    with running_server(app, server_kind) as (host, port), connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 ")
    assert data.endswith(b"\r\n\r\n12345")


MALFORMED = [
    pytest.param(b"GARBAGE\r\n\r\n", 400, id="bad-request-line"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400, id="space-in-header-name"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, id="obs-fold"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, id="bad-content-length"),
    pytest.param(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        id="cl-and-te",
    ),
    pytest.param(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, id="bad-chunk-size"),
    pytest.param(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, id="long-request-line"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431, id="big-header-block"),
    pytest.param(
        b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n",
        431,
        id="too-many-headers",
    ),
    # RFC 9112 section 3.2: an HTTP/1.1 request without Host MUST be answered 400.
    pytest.param(b"GET / HTTP/1.1\r\n\r\n", 400, id="no-host"),
    pytest.param(b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nok", 400, id="no-host-with-body"),
    # RFC 9112 sections 3 and 3.2, RFC 3986: the request-target is US-ASCII; raw UTF-8 is an invalid request line.
    pytest.param(b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", 400, id="raw-utf8-in-path"),
    pytest.param(b"GET /?q=\xe2\x82\xac HTTP/1.1\r\nHost: x\r\n\r\n", 400, id="raw-utf8-in-query"),
]

#: Rows of MALFORMED that uvicorn (httptools) serves (README: "Where asgiws differs from uvicorn, on purpose").
#: Raw UTF-8 in the target it refuses with 400 too (llhttp: "Invalid char in url path").
UVICORN_SERVES = {b"GET / HTTP/1.1\r\n\r\n", b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nok"}


@pytest.mark.parametrize(("request_bytes", "status"), MALFORMED)
def test_malformed_request_is_answered_then_closed(server_kind, request_bytes, status, request):
    uvicorn_differs = server_kind == "uvicorn" and (status != 400 or request_bytes in UVICORN_SERVES)
    if uvicorn_differs:
        if status != 400:
            reason = "uvicorn (httptools) has no request line / header count limits, or answers them with 400"
        else:
            reason = "uvicorn (httptools) serves an HTTP/1.1 request without Host"
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
    timeout = 1 if uvicorn_differs else 5  # it would keep the connection open
    with running_server(echo_app, server_kind) as (host, port):
        responses, closed = exchange(port, request_bytes, timeout)
    assert [r.status for r in responses] == [status]
    assert closed


def test_body_over_limit_is_413():
    with running_server(echo_app, "asgiws", limit_request_body=10) as (host, port):
        responses, closed = exchange(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")
    assert [r.status for r in responses] == [413]
    assert closed


def test_http_disconnect_when_client_goes_away(server_kind):
    received = queue.Queue()
    started = threading.Event()

    async def app(scope, receive, send):
        received.put(await receive())
        started.set()
        received.put(await receive())

    with running_server(app, server_kind) as (host, port):
        with connect(port) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert started.wait(TIMEOUT)
        first = received.get(timeout=TIMEOUT)
        second = received.get(timeout=TIMEOUT)
    assert first == {"type": "http.request", "body": b"", "more_body": False}
    assert second == {"type": "http.disconnect"}


def test_send_after_disconnect_raises_oserror(server_kind, request):
    if server_kind == "uvicorn":
        request.applymarker(
            pytest.mark.xfail(strict=True, reason="uvicorn's send() silently drops messages after a disconnect")
        )
    outcome = queue.Queue()

    async def app(scope, receive, send):
        await receive()
        message = await receive()
        assert message["type"] == "http.disconnect"
        try:
            await send({"type": "http.response.start", "status": 200})
        except OSError as exc:
            outcome.put(exc)
        else:
            outcome.put(None)

    with running_server(app, server_kind) as (host, port):
        with connect(port) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        result = outcome.get(timeout=TIMEOUT)
    assert isinstance(result, OSError)


def test_http_10_closes_after_response(server_kind):
    with running_server(echo_app, server_kind) as (host, port):
        responses, closed = exchange(port, b"GET / HTTP/1.0\r\n\r\n")  # no Host: HTTP/1.0 may omit it
    assert [r.status for r in responses] == [200]
    assert closed


def test_percent_encoded_utf8_target_is_served(server_kind):
    # What a client sends instead of raw UTF-8 (refused above): served, the path decoded.
    with running_server(echo_app, server_kind) as (host, port):
        request = b"GET /caf%C3%A9?q=%E2%82%AC HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        responses, closed = exchange(port, request)
    assert [(r.status, r.header("x-path")) for r in responses] == [(200, "/caf\xc3\xa9")]  # UTF-8 read as latin-1
    assert closed


def test_default_headers(server_kind):
    with running_server(echo_app, server_kind, headers=[("X-Extra", "1")]) as (host, port):
        response = httpx.get(f"http://{host}:{port}/")
        assert response.headers["server"] in ("asgiws", "uvicorn")
        assert response.headers["date"].endswith("GMT")
        assert response.headers["x-extra"] == "1"
    with running_server(echo_app, server_kind, server_header=False, date_header=False) as (host, port):
        response = httpx.get(f"http://{host}:{port}/")
        assert "server" not in response.headers and "date" not in response.headers


def test_proxy_headers_from_trusted_proxy(server_kind):
    scopes = []

    async def app(scope, receive, send):
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    headers = {"X-Forwarded-For": "1.2.3.4, 10.0.0.1", "X-Forwarded-Proto": "https"}
    with running_server(app, server_kind, forwarded_allow_ips="127.0.0.1,10.0.0.0/8") as (host, port):
        httpx.get(f"http://{host}:{port}/", headers=headers)
    with running_server(app, server_kind, forwarded_allow_ips="10.0.0.1") as (host, port):
        httpx.get(f"http://{host}:{port}/", headers=headers)
    assert scopes[0]["client"][0] == "1.2.3.4" and scopes[0]["scheme"] == "https"
    assert scopes[1]["client"][0] == "127.0.0.1" and scopes[1]["scheme"] == "http"


def test_json_roundtrip_with_httpx_keep_alive(server_kind):
    async def app(scope, receive, send):
        message = await receive()
        body = json.dumps({"got": json.loads(message["body"])}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    with running_server(app, server_kind) as (host, port), httpx.Client() as client:
        for i in range(20):
            assert client.post(f"http://{host}:{port}/", json=i).json() == {"got": i}


def test_server_closes_idle_connections_on_exit(server_kind):
    with running_server(echo_app, server_kind) as (host, port):
        sock = connect(port)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        RawResponse.read_from(sock.makefile("rb"))
    with sock:
        assert is_closed(sock)


def test_response_sent_after_client_half_close(server_kind, request):
    if server_kind == "uvicorn":
        request.applymarker(pytest.mark.xfail(strict=True, reason="uvicorn closes on EOF, dropping the response"))

    async def slow_echo(scope, receive, send):
        await asyncio.sleep(0.2)  # the EOF arrives while the app works
        await echo_app(scope, receive, send)

    with running_server(slow_echo, server_kind) as (host, port), connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        sock.shutdown(socket.SHUT_WR)
        responses = []
        reader = sock.makefile("rb")
        try:
            while True:
                responses.append(RawResponse.read_from(reader))
        except EOFError:
            pass
    assert [r.body for r in responses] == [b"hi"]


def test_upgrade_is_plain_http_when_ws_is_none(server_kind):
    scopes = []

    async def app(scope, receive, send):
        scopes.append(scope["type"])
        await send({"type": "http.response.start", "status": 426, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body"})

    handshake = (
        b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with running_server(app, server_kind, ws="none") as (host, port), connect(port) as sock:
        sock.sendall(handshake)
        response = RawResponse.read_from(sock.makefile("rb"))
    assert response.status == 426
    assert scopes == ["http"]


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_access_log_and_error_traceback():
    async def app(scope, receive, send):
        if scope["path"] == "/boom":
            raise ZeroDivisionError("boom")
        await echo_app(scope, receive, send)

    access, errors = Collect(), Collect()
    with running_server(app, "asgiws", log_level="info") as (host, port):
        logging.getLogger("asgiws.access").addHandler(access)
        logging.getLogger("asgiws.error").addHandler(errors)
        try:
            httpx.get(f"http://{host}:{port}/path?q=1")
            httpx.get(f"http://{host}:{port}/boom")
        finally:
            logging.getLogger("asgiws.access").removeHandler(access)
            logging.getLogger("asgiws.error").removeHandler(errors)
    lines = [record.getMessage() for record in access.records]
    assert lines[0].startswith("127.0.0.1:") and lines[0].endswith(' - "GET /path?q=1 HTTP/1.1" 200')
    (failure,) = [record for record in errors.records if "Exception in ASGI application" in record.getMessage()]
    assert failure.exc_info is not None and failure.exc_info[0] is ZeroDivisionError


async def unread_body_app(scope, receive, send):
    """Answers a POST with 415 without reading its body (as `Request.form()` does), anything else with 200."""
    status = 415 if scope["method"] == "POST" else 200
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body"})


def test_unread_small_body_is_discarded_and_connection_kept(server_kind):
    """RFC 9112 section 9.6: a response sent before its request's body keeps the connection usable.

    The body arrives after the response (as httpx sends it, in a write of its
    own); the next request on the same connection is answered.
    """
    head = b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n"
    with running_server(unread_body_app, server_kind) as (host, port), connect(port) as sock:
        reader = sock.makefile("rb")
        sock.sendall(head)
        first = RawResponse.read_from(reader)
        sock.sendall(b"{}" + b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        second = RawResponse.read_from(reader)
        sock.sendall(head + b"{}")  # and again, the body right behind the head
        third = RawResponse.read_from(reader)
        sock.sendall(b"GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
        fourth = RawResponse.read_from(reader)
    assert first.status == 415 and first.header("connection") is None
    assert [second.status, third.status, fourth.status] == [200, 415, 200]


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"Content-Length: 10000000\r\n", id="large-body"),
        pytest.param(b"Transfer-Encoding: chunked\r\n", id="chunked-body"),
        pytest.param(b"Content-Length: 4\r\nExpect: 100-continue\r\n", id="body-waiting-for-100-continue"),
    ],
)
def test_unread_body_that_may_not_come_or_is_large_closes_with_notice(head):
    """A body the server will not read after its response: the response says `connection: close`.

    Without it the client would send its next request on a connection the
    server is closing ("Server disconnected"), and a client that got a final
    answer to `Expect: 100-continue` may never send the body at all.
    """
    with running_server(unread_body_app, "asgiws") as (host, port), connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n")
        response = RawResponse.read_from(sock.makefile("rb"))
        assert is_closed(sock)
    assert response.status == 415
    assert response.header("connection") == "close"
