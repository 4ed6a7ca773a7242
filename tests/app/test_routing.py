"""The route table: order, typed params, 404/405/Allow, HEAD, mounts and root_path, WebSocket 403."""

from __future__ import annotations

import inspect
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from asgiws.app import App, JSONResponse, Mount, PlainTextResponse, Route, WebSocketRoute
from asgiws.app.routing import Router, route_path
from tests.app.inprocess import call, http_scope, websocket_closed_before_accept
from tests.app.wire import run
from tests.conftest import running_server


def echo_params(request: Any) -> JSONResponse:
    return JSONResponse(
        {"params": request.path_params, "types": {k: type(v).__name__ for k, v in request.path_params.items()}}
    )


async def aecho_params(request: Any) -> JSONResponse:
    return echo_params(request)


def make_app() -> App:
    app = App()
    app.add_route(Route("/users/{id:int}", aecho_params))
    app.add_route(Route("/users/me", aecho_params))  # declared after: /users/{id:int} can't match "me"
    app.add_route(Route("/files/{rest:path}", aecho_params))
    app.add_route(Route("/items", aecho_params, methods=["POST"]))
    app.add_route(Route("/items", aecho_params, methods=["PUT"]))
    app.add_route(Route("/{lang}/about", aecho_params))
    app.add_route(Route("/first/{x}", aecho_params, name="first"))

    async def shadowed(request: Any) -> str:
        return "shadowed"

    app.add_route(Route("/first/fixed", shadowed))
    return app


def test_typed_params_in_process() -> None:
    app = make_app()
    status, _, body = call(app, http_scope("GET", "/users/12"))
    assert status == 200 and body == b'{"params":{"id":12},"types":{"id":"int"}}'
    status, _, body = call(app, http_scope("GET", "/files/a/b.txt"))
    assert body == b'{"params":{"rest":"a/b.txt"},"types":{"rest":"str"}}'
    status, _, body = call(app, http_scope("GET", "/fr/about"))
    assert body == b'{"params":{"lang":"fr"},"types":{"lang":"str"}}'
    assert call(app, http_scope("GET", "/users/me"))[0] == 200


def test_first_declared_route_wins() -> None:
    app = make_app()
    # "/first/{x}" is declared before the static "/first/fixed", so it wins.
    assert call(app, http_scope("GET", "/first/fixed"))[2] == b'{"params":{"x":"fixed"},"types":{"x":"str"}}'


def test_404_and_405_with_allow() -> None:
    app = make_app()
    status, headers, body = call(app, http_scope("GET", "/nowhere"))
    assert (status, body) == (404, b"Not Found")
    status, headers, _ = call(app, http_scope("GET", "/items"))
    assert status == 405 and headers["allow"] == "POST, PUT"
    status, headers, _ = call(app, http_scope("DELETE", "/users/3"))
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert call(app, http_scope("PUT", "/items"))[0] == 200


def test_head_is_allowed_where_get_is_and_has_no_body() -> None:
    status, headers, body = call(make_app(), http_scope("HEAD", "/users/5"))
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0


def test_websocket_to_unknown_path_is_closed_before_accept() -> None:
    assert websocket_closed_before_accept(make_app(), "/nope")["type"] == "websocket.close"


def test_route_path_strips_root_path() -> None:
    assert route_path({"path": "/api/x", "root_path": "/api"}) == "/x"
    assert route_path({"path": "/api", "root_path": "/api"}) == ""
    assert route_path({"path": "/apix", "root_path": "/api"}) == "/apix"
    assert route_path({"path": "/x", "root_path": "/api"}) == "/x"  # servers that strip it already


def test_mount_extends_root_path_and_keeps_path() -> None:
    seen: dict[str, Any] = {}

    async def raw_app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(path=scope["path"], root_path=scope["root_path"])
        await PlainTextResponse("raw")(scope, receive, send)

    inner = App()

    @inner.get("/hello/{name}")
    async def hello(request: Any) -> str:
        return f"hello {request.path_params['name']} at {request.scope['root_path']}"

    app = App(routes=[Mount("/raw", raw_app), Mount("/inner", inner)])
    assert call(app, http_scope("GET", "/raw/x/y"))[2] == b"raw"
    assert seen == {"path": "/raw/x/y", "root_path": "/raw"}
    assert call(app, http_scope("GET", "/inner/hello/bo"))[2] == b"hello bo at /inner"
    # With a root_path given by the server, the mount adds to it.
    assert call(app, http_scope("GET", "/inner/hello/bo", root_path="/base"))[2] == b"hello bo at /base/inner"
    assert call(app, http_scope("GET", "/inner/nothing"))[0] == 404
    assert call(app, http_scope("GET", "/rawx"))[0] == 404


def test_many_routes_each_found() -> None:
    router = Router(
        [Route(f"/r{i}/{{id:int}}", aecho_params) for i in range(300)]
        + [Route(f"/s{i}", aecho_params) for i in range(300)]
    )
    for i in (0, 150, 299):
        route, params, _ = router.match(http_scope("GET", f"/r{i}/{i}"))
        assert route is router.routes[i] and params == {"id": i}
        route, params, _ = router.match(http_scope("GET", f"/s{i}"))
        assert route is router.routes[300 + i] and params == {}
    assert router.match(http_scope("GET", "/r1/x"))[0] is None


def test_routes_added_after_first_request_are_found() -> None:
    app = make_app()
    assert call(app, http_scope("GET", "/late"))[0] == 404

    @app.get("/late")
    async def late(request: Any) -> str:
        return "late"

    assert call(app, http_scope("GET", "/late"))[2] == b"late"


def test_over_the_wire(server_kind: str) -> None:
    app = make_app()

    async def ws_handler(websocket: Any) -> None:
        await websocket.send(f"room {websocket.path_params['room']}")

    app.add_route(WebSocketRoute("/rooms/{room}", ws_handler))
    app.mount("/sub", make_app())
    with running_server(app, server_kind) as (host, port):
        base = f"http://{host}:{port}"
        with httpx.Client(base_url=base, timeout=10) as client:
            assert client.get("/users/7").json() == {"params": {"id": 7}, "types": {"id": "int"}}
            assert client.get("/users/x").status_code == 404
            response = client.get("/items")
            assert response.status_code == 405 and response.headers["allow"] == "POST, PUT"
            assert client.head("/users/1").status_code == 200
            assert client.get("/sub/users/8").json()["params"] == {"id": 8}

        async def websocket_checks() -> None:
            async with connect(f"ws://{host}:{port}/rooms/blue") as ws:
                assert await ws.recv() == "room blue"
            with pytest.raises(InvalidStatus) as info:
                async with connect(f"ws://{host}:{port}/unknown"):
                    pass
            assert info.value.response.status_code == 403

        run(websocket_checks())


def test_static_path_with_other_method_falls_through_to_a_later_pattern() -> None:
    async def post_only(request: Any) -> str:
        return "post"

    async def anything(request: Any) -> str:
        return f"anything {request.path_params['x']}"

    app = App(routes=[Route("/items", post_only, methods=["POST"]), Route("/{x}", anything)])
    assert call(app, http_scope("GET", "/items"))[2] == b"anything items"
    assert call(app, http_scope("POST", "/items"))[2] == b"post"
    status, headers, _ = call(app, http_scope("DELETE", "/items"))
    assert status == 405 and headers["allow"] == "GET, HEAD, POST"


def test_root_path_setting_and_mounts_over_the_wire(server_kind: str) -> None:
    """Behind a proxy serving the app at /base (the servers' root_path setting)."""
    inner = App()

    @inner.get("/where")
    async def where(request: Any) -> dict:
        return {"path": request.path, "root_path": request.scope["root_path"]}

    app = App()
    app.mount("/api", inner)

    @app.get("/top")
    async def top(request: Any) -> str:
        return "top"

    with running_server(app, server_kind, root_path="/base") as (host, port):
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=10) as client:
            assert client.get("/top").text == "top"
            assert client.get("/api/where").json() == {"path": "/base/api/where", "root_path": "/base/api"}
            assert client.get("/api/nowhere").status_code == 404


def _first_to_last(routes: list[Any], kind: str, method: str | None, path: str) -> str:
    """What the router must answer, found the slow way: every route tried in declaration order."""
    allowed: set[str] = set()
    for route in routes:
        if kind not in route.scope_types or route.match(path) is None:
            continue
        if route.methods is None or method in route.methods:
            return route.name
        allowed |= route.methods
    if kind == "websocket":
        return "closed"
    return f"405 {', '.join(sorted(allowed))}" if allowed else "404"


def _served(app: Any, kind: str, method: str | None, path: str, root_path: str = "") -> str:
    """What `app` answers: the name the chosen route's endpoint says, "405 <Allow>", "404" or "closed"."""
    scope = http_scope(method or "GET", path, root_path=root_path)
    scope["type"] = kind
    if method is None:
        del scope["method"]
    incoming = [{"type": "websocket.connect"} if kind == "websocket" else {"type": "http.request", "body": b""}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop() if incoming else {"type": f"{kind}.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    run(app(scope, receive, send))
    if kind == "websocket":
        texts = [m["text"] for m in sent if m["type"] == "websocket.send"]
        return texts[0] if texts else "closed"
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    if start["status"] == 405:
        return f"405 {dict(start['headers'])[b'allow'].decode()}"
    return body.decode() if start["status"] == 200 else str(start["status"])


def test_static_fast_path_and_index_agree_with_a_first_to_last_scan() -> None:
    """Static paths (served without matching), patterns, mounts and WebSocket routes, in a mixed order.

    Every route's endpoint answers its own name, so what the router runs is
    compared with what trying every route in order would run, 404/405 included.
    """

    def endpoint(name: str) -> Any:
        async def answer(request: Any) -> str:
            return name

        return answer

    def ws_endpoint(name: str) -> Any:
        async def answer(websocket: Any) -> None:
            await websocket.send(name)

        return answer

    mounted = App()
    mounted.add_route(Route("/x/y", endpoint("mounted /x/y")))
    mounted.add_route(Route("/{a}/{b}", endpoint("mounted /{a}/{b}")))
    mounted.add_route(Route("/static", endpoint("mounted /static")))
    declared: list[tuple[Any, ...]] = [
        (Route, "/", None), (Route, "/a", ["POST"]), (Route, "/{x}", None), (Route, "/a", ["PUT"]),
        (Route, "/b/{n:int}", None), (Route, "/b/7", ["DELETE"]), (Route, "/c/d", None), (Route, "/c/d", ["PATCH"]),
        (Route, "/{{literal}}", None), (WebSocketRoute, "/ws", None), (WebSocketRoute, "/c/d", None),
        (WebSocketRoute, "/{room}/ws", None), (Route, "/e/{rest:path}", None), (Route, "/e/f", None),
    ]
    routes: list[Any] = []
    for kind, path, methods in declared:
        name = f"{kind.__name__} {path} {methods or ''}".strip()
        if kind is Route:
            routes.append(Route(path, endpoint(name), methods=methods, name=name))
        else:
            routes.append(WebSocketRoute(path, ws_endpoint(name), name=name))
    routes.insert(6, Mount("/m", mounted, name="mount /m"))
    routes.insert(7, Route("/m/static", endpoint("shadowed by the mount"), name="Route /m/static"))
    router = Router(routes)
    paths = ["/", "/a", "/b", "/b/7", "/b/x", "/m/x/y", "/m/static", "/m/p/q", "/c/d", "/c/e",
             "/{literal}", "/ws", "/r/ws", "/e/f", "/e/f/g", "/nowhere/at/all"]
    for kind, methods in (("http", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]), ("websocket", [None])):
        for method in methods:
            for path in paths:
                expected = _first_to_last(routes, kind, method, path)
                if expected == "mount /m":
                    expected = _served(mounted, kind, method, path.removeprefix("/m"))
                if method == "HEAD" and not expected[:1].isdigit():
                    expected = ""  # the route's answer, without its body
                assert _served(router, kind, method, path) == expected, (kind, method, path)
                # The same table under a root_path the server gives.
                assert _served(router, kind, method, path, root_path="/base") == expected, (kind, path)


def test_app_and_router_stay_asgi3_coroutine_functions() -> None:
    """Servers tell ASGI 3 from ASGI 2 by `__call__` being a coroutine function."""
    assert inspect.iscoroutinefunction(App().__call__)
    assert inspect.iscoroutinefunction(Router().__call__)


def test_router_alone_serves_404_405_and_routes() -> None:
    async def hello(request: Any) -> str:
        return "hello"

    router = Router([Route("/hello", hello, methods=["POST"])])
    assert call(router, http_scope("POST", "/hello"))[2] == b"hello"
    status, headers, _ = call(router, http_scope("GET", "/hello"))
    assert status == 405 and headers["allow"] == "POST"
    assert call(router, http_scope("GET", "/other"))[0] == 404
