"""Request: body, json, form, stream, cookies, query, headers, client -- over a real server."""

from __future__ import annotations

from typing import Any

import httpx

from asgiws.app import App, Request, WebSocket
from asgiws.app.datastructures import Headers, QueryParams
from asgiws.app.requests import parse_cookies
from tests.conftest import running_server


def make_app() -> App:
    app = App()

    @app.post("/body")
    async def body(request: Request) -> bytes:
        return await request.body()

    @app.post("/json")
    async def json_(request: Request) -> dict:
        return {"got": await request.json()}

    @app.post("/form")
    async def form(request: Request) -> dict:
        data = await request.form()
        return {"a": data["a"], "all_b": data.getlist("b"), "empty": data["empty"]}

    @app.post("/stream")
    async def stream(request: Request) -> dict:
        sizes = [len(chunk) async for chunk in request.stream()]
        return {"total": sum(sizes)}

    @app.get("/info")
    async def info(request: Request) -> dict:
        return {
            "method": request.method,
            "path": request.path,
            "url": str(request.url),
            "query": request.query_params.multi_items(),
            "q": request.query_params.get("q"),
            "cookies": request.cookies,
            "x": request.headers.get_all("x-multi"),
            "ua": request.headers["User-Agent"],
            "client_host": request.client[0] if request.client else None,
        }

    return app


def test_request_over_the_wire(server_kind: str) -> None:
    with running_server(make_app(), server_kind) as (host, port):
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=10) as client:
            assert client.post("/body", content=b"hello").content == b"hello"
            assert client.post("/json", json={"a": [1, 2]}).json() == {"got": {"a": [1, 2]}}
            assert client.post("/json", content=b"{not json").status_code == 400
            response = client.post(
                "/form",
                content=b"a=1+2&b=x&b=%C3%A9&empty=",
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert response.json() == {"a": "1 2", "all_b": ["x", "é"], "empty": ""}
            assert client.post("/form", content=b"{}", headers={"content-type": "application/json"}).status_code == 415

            def chunks():
                for _ in range(20):
                    yield b"x" * 10000

            assert client.post("/stream", content=chunks()).json() == {"total": 200000}
            response = client.get(
                "/info?q=a%20b&q=c&flag",
                headers=[
                    ("x-multi", "1"),
                    ("X-Multi", "2"),
                    ("user-agent", "tester"),
                    ("cookie", 'sid=abc; theme="dark"'),
                ],
            )
            info = response.json()
            assert info["method"] == "GET"
            assert info["path"] == "/info"
            assert info["url"] == f"http://{host}:{port}/info?q=a%20b&q=c&flag"
            assert info["query"] == [["q", "a b"], ["q", "c"], ["flag", ""]]
            assert info["q"] == "c"
            assert info["cookies"] == {"sid": "abc", "theme": "dark"}
            assert info["x"] == ["1", "2"]
            assert info["ua"] == "tester"
            assert info["client_host"] == "127.0.0.1"


def test_headers_mapping() -> None:
    headers = Headers([(b"content-type", b"text/plain"), (b"x-a", b"1"), (b"x-a", b"2")])
    assert headers["Content-Type"] == "text/plain"
    assert headers["X-A"] == "1"
    assert headers.get_all("x-a") == ["1", "2"]
    assert headers.get_all("missing") == []
    assert "CONTENT-TYPE" in headers and "nope" not in headers
    assert list(headers) == ["content-type", "x-a"]
    assert len(headers) == 2


def test_query_params_and_cookies() -> None:
    query = QueryParams(b"a=1&a=2&b=%2F")
    assert query["a"] == "2" and query.getlist("a") == ["1", "2"] and query["b"] == "/"
    assert parse_cookies("a=1; b = 2 ;c") == {"a": "1", "b": "2", "": "c"}


def test_request_and_websocket_read_the_scope_alike() -> None:
    """`HTTPConnection` is written once: both read a scope the same way, and cache what they build."""
    scope: dict[str, Any] = {
        "type": "websocket",
        "scheme": "ws",
        "server": ("127.0.0.1", 8000),
        "client": ["10.0.0.1", 5555],
        "path": "/rooms/caf\u00e9",
        "raw_path": b"/rooms/caf%C3%A9",
        "query_string": b"a=1&a=2",
        "headers": [(b"host", b"example.org"), (b"cookie", b"sid=abc"), (b"x-multi", b"1"), (b"x-multi", b"2")],
        "path_params": {"room": "caf\u00e9"},
    }

    async def receive() -> dict[str, Any]:
        raise AssertionError("not called")

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("not called")

    request = Request(dict(scope, type="http", scheme="http", method="GET"))
    websocket = WebSocket(scope, receive, send)
    for connection in (request, websocket):
        assert connection.headers.get_all("x-multi") == ["1", "2"]
        assert connection.query_params.getlist("a") == ["1", "2"]
        assert connection.cookies == {"sid": "abc"}
        assert connection.client == ("10.0.0.1", 5555)
        assert connection.path_params == {"room": "caf\u00e9"}
        assert connection.url.netloc == "example.org" and connection.url.path == "/rooms/caf\u00e9"
        assert connection.headers is connection.headers and connection.url is connection.url
        assert connection.query_params is connection.query_params and connection.cookies is connection.cookies
        connection.state["seen"] = True
        assert connection.scope["state"] == {"seen": True}
    assert str(request.url) == "http://example.org/rooms/caf\u00e9?a=1&a=2"
    assert request.path == "/rooms/caf\u00e9"
    # The handler style's names: the request target as sent, and the same cached objects.
    assert websocket.path == "/rooms/caf%C3%A9?a=1&a=2"
    assert websocket.request_headers is websocket.headers
    assert websocket.remote_address == websocket.client
    assert not hasattr(websocket, "__dict__") and not hasattr(request, "__dict__")
