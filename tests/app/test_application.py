"""App as a whole: lifespan hooks, middleware, declarative routes."""

from __future__ import annotations

import asyncio
import queue
from typing import Any

import httpx
from starlette.middleware.gzip import GZipMiddleware
from websockets.asyncio.client import connect

from asgiws.app import App, Middleware, Request, Route, WebSocketRoute
from tests.app.inprocess import call, http_scope
from tests.app.wire import run
from tests.conftest import running_server


class TagMiddleware:
    """Adds its tag to an `x-tags` response header, and to scope["tags"] on the way in."""

    def __init__(self, app: Any, tag: str) -> None:
        self.app = app
        self.tag = tag

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        scope.setdefault("tags", []).append(self.tag)

        async def tagged_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"x-tags", self.tag.encode())]
            await send(message)

        await self.app(scope, receive, tagged_send)


def test_lifespan_hooks_run_on_the_server(server_kind: str) -> None:
    log: list[str] = []
    app = App(on_startup=[lambda: log.append("sync startup")])

    @app.on_startup
    async def connect_db() -> None:
        await asyncio.sleep(0)
        app.state.db = "connected"
        log.append("async startup")

    @app.on_shutdown
    async def close_db() -> None:
        log.append("shutdown")

    app.add_event_handler("shutdown", lambda: log.append("sync shutdown"))

    @app.get("/db")
    async def db(request: Request) -> str:
        return request.app.state.db

    with running_server(app, server_kind, lifespan="on") as (host, port):
        assert log == ["sync startup", "async startup"]
        assert httpx.get(f"http://{host}:{port}/db", timeout=10).text == "connected"
    assert log == ["sync startup", "async startup", "shutdown", "sync shutdown"]


def lifespan_messages(app: App, incoming: list[str]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    queued = [{"type": t} for t in reversed(incoming)]

    async def receive() -> dict[str, Any]:
        return queued.pop()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send), 10))
    return sent


def test_failing_startup_reports_failed_without_details() -> None:
    ran: list[str] = []

    def broken() -> None:
        raise ConnectionError("db at 10.0.0.1 refused password")

    app = App(on_startup=[broken], on_shutdown=[lambda: ran.append("shutdown")])
    sent = lifespan_messages(app, ["lifespan.startup"])
    assert [m["type"] for m in sent] == ["lifespan.startup.failed"]
    assert "password" not in sent[0]["message"]
    assert ran == []


def test_lifespan_in_process() -> None:
    ran: list[str] = []
    app = App(on_startup=[lambda: ran.append("up")], on_shutdown=[lambda: ran.append("down")])
    sent = lifespan_messages(app, ["lifespan.startup", "lifespan.shutdown"])
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert ran == ["up", "down"]


def test_middleware_order_and_websocket_scopes(server_kind: str) -> None:
    seen: queue.Queue[Any] = queue.Queue()

    async def tags(request: Request) -> dict:
        return {"tags": request.scope["tags"]}

    async def ws_tags(websocket: Any) -> None:
        await websocket.send(",".join(websocket.scope["tags"]))

    async def big(request: Request) -> str:
        return "z" * 5000

    app = App(
        routes=[Route("/tags", tags), WebSocketRoute("/ws", ws_tags), Route("/big", big)],
        middleware=[Middleware(TagMiddleware, tag="outer"), Middleware(TagMiddleware, tag="inner")],
    )
    app.add_middleware(GZipMiddleware, minimum_size=100)  # Starlette's own middleware: plain ASGI
    with running_server(app, server_kind) as (host, port):
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=10) as client:
            r = client.get("/tags")
            assert r.json() == {"tags": ["outer", "inner"]}
            # The inner middleware saw the response first, so its header comes first.
            assert r.headers.get_list("x-tags") == ["inner", "outer"]
            r = client.get("/big", headers={"accept-encoding": "gzip"})
            assert r.headers["content-encoding"] == "gzip" and r.text == "z" * 5000

        async def client() -> None:
            async with connect(f"ws://{host}:{port}/ws") as ws:
                seen.put(await ws.recv())

        run(client())
    assert seen.get(timeout=10) == "outer,inner"


def test_middleware_cannot_be_added_after_start() -> None:
    app = App()
    call(app, http_scope())
    try:
        app.add_middleware(TagMiddleware, tag="late")
    except RuntimeError:
        pass
    else:
        raise AssertionError("adding middleware to a running app must fail")


def test_decorators_fill_the_declarative_route_list() -> None:
    app = App()

    @app.route("/a", methods=["GET", "POST"])
    async def a(request: Request) -> str:
        return "a"

    @app.post("/b")
    async def b(request: Request) -> str:
        return "b"

    @app.websocket("/c")
    async def c(websocket: Any) -> None:
        pass

    app.mount("/d", App())
    kinds = [(type(r).__name__, r.path) for r in app.routes]
    assert kinds == [("Route", "/a"), ("Route", "/b"), ("WebSocketRoute", "/c"), ("Mount", "/d")]
    assert app.routes[0].methods == {"GET", "HEAD", "POST"}
    assert call(app, http_scope("POST", "/a"))[2] == b"a"


def test_lifespan_state_reaches_requests_and_websockets(server_kind: str) -> None:
    app = App()

    @app.on_startup
    async def open_pool(state: dict) -> None:
        state["pool"] = "pool-1"

    @app.get("/pool")
    async def pool(request: Request) -> str:
        return request.state["pool"]

    @app.websocket("/pool")
    async def ws_pool(websocket: Any) -> None:
        await websocket.send(websocket.state["pool"])

    with running_server(app, server_kind, lifespan="on") as (host, port):
        assert httpx.get(f"http://{host}:{port}/pool", timeout=10).text == "pool-1"

        async def client() -> str:
            async with connect(f"ws://{host}:{port}/pool") as ws:
                return await ws.recv()

        assert run(client()) == "pool-1"
