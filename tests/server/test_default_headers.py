"""Default response headers (`headers=`, `server_header`, `date_header`) on every kind of response.

A configured Server or Date header replaces the built-in one, on HTTP
responses and WebSocket handshake responses alike (101 and denials), as
uvicorn does; several configured headers of one name are all sent.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.conftest import running_server

from .raw_client import RawResponse
from .raw_client import connect as raw_connect

TIMEOUT = 10  # seconds: a bound on every wait, never an assertion


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """HTTP: 200 "ok". WebSocket: accepted on /, refused with 403 on /deny."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})
    elif scope["type"] == "websocket":
        await receive()
        if scope["path"] == "/deny":
            await send({"type": "websocket.close"})
            return
        await send({"type": "websocket.accept"})
        await receive()


async def websocket_headers(host: str, port: int, path: str) -> Any:
    """The headers of the handshake response: the 101's, or the denial's."""
    try:
        async with connect(f"ws://{host}:{port}{path}") as ws:
            return ws.response.headers
    except InvalidStatus as exc:
        assert exc.response.status_code == 403
        return exc.response.headers


def headers_of_every_response(host: str, port: int, name: str) -> dict[str, list[str]]:
    """Every value of header `name` in an HTTP response, a 101 and a WebSocket denial."""

    async def both() -> tuple[Any, Any]:
        return await websocket_headers(host, port, "/"), await websocket_headers(host, port, "/deny")

    http = httpx.get(f"http://{host}:{port}/", timeout=TIMEOUT).headers.get_list(name)
    accepted, denied = asyncio.run(asyncio.wait_for(both(), TIMEOUT))
    return {"http": http, "101": accepted.get_all(name), "403": denied.get_all(name)}


@pytest.mark.parametrize(
    "configured, expected",
    [
        ([("server", "over-ridden")], ["over-ridden"]),
        ([("Server", "over-ridden"), ("server", "another-value")], ["over-ridden", "another-value"]),
    ],
    ids=["one", "two"],
)
def test_configured_server_header_replaces_the_default(
    server_kind: str, configured: list[tuple[str, str]], expected: list[str]
) -> None:
    with running_server(app, server_kind, headers=configured) as (host, port):
        seen = headers_of_every_response(host, port, "server")
    denial = expected if server_kind == "asgiws" else []  # uvicorn's 403 has no default headers at all
    assert seen == {"http": expected, "101": expected, "403": denial}


def test_configured_date_header_replaces_the_default() -> None:
    with running_server(app, "asgiws", headers=[("date", "Thu, 01 Jan 1970 00:00:00 GMT")]) as (host, port):
        seen = headers_of_every_response(host, port, "date")
    expected = ["Thu, 01 Jan 1970 00:00:00 GMT"]
    assert seen == {"http": expected, "101": expected, "403": expected}


def test_built_in_server_header_without_configured_ones() -> None:
    with running_server(app, "asgiws", headers=[("x-extra", "1")]) as (host, port):
        seen = headers_of_every_response(host, port, "server")
        extra = headers_of_every_response(host, port, "x-extra")
    assert seen == {"http": ["asgiws"], "101": ["asgiws"], "403": ["asgiws"]}
    assert extra == {"http": ["1"], "101": ["1"], "403": ["1"]}


async def failing_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """/fail raises before responding; /body waits for a body that never comes."""
    if scope["type"] == "http":
        if scope["path"] == "/fail":
            raise RuntimeError("the app failed")
        while (await receive())["more_body"]:
            pass
    await app(scope, receive, send)


def raw_answer(port: int, request: bytes) -> RawResponse:
    with raw_connect(port) as sock:
        sock.sendall(request)
        return RawResponse.read_from(sock.makefile("rb"))


def test_the_servers_own_responses_carry_the_default_headers() -> None:
    """400 (bad request), 500 (the app failed), 408 (the body stopped coming), 503 (upgrade over the limit)."""
    headers = [("x-extra", "1")]
    answers = {}
    with running_server(failing_app, "asgiws", headers=headers, timeout_request_body=0.3) as (host, port):
        answers[400] = raw_answer(port, b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        answers[500] = raw_answer(port, b"GET /fail HTTP/1.1\r\nHost: x\r\n\r\n")
        answers[408] = raw_answer(port, b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    with running_server(failing_app, "asgiws", headers=headers, limit_concurrency=1) as (host, port):
        upgrade = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        upgrade += b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        answers[503] = raw_answer(port, upgrade)
    for status, response in answers.items():
        assert response.status == status
        assert response.header("x-extra") == "1", status
        assert response.header("server") == "asgiws", status
        assert response.header("date") is not None, status
        assert response.header("connection") == "close", status
