"""Tests of the framework page's apps (framework_*.py), in process with TestClient."""

import framework_broadcast
import framework_declarative
import framework_lifespan
import framework_middleware
import framework_responses
import framework_routes
import framework_static
import framework_websockets
import pytest
from starlette.middleware.gzip import GZipMiddleware

from asgiws import App, InvalidStatus, Middleware
from asgiws.testing import TestClient

pytestmark = pytest.mark.anyio


async def test_routes():
    async with TestClient(framework_routes.app) as client:
        assert (await client.get("/")).text == "Hello"
        assert (await client.head("/")).status_code == 200
        assert (await client.get("/items/1")).json() == {"name": "tea"}
        missing = await client.get("/items/7")
        assert (missing.status_code, missing.text) == (404, "no such item")
        assert (await client.get("/items/tea")).status_code == 404  # not digits: no route matches
        created = await client.post("/items", json={"name": "milk"})
        assert (created.status_code, created.json()) == (201, {"id": 2, "name": "milk"})
        assert (await client.post("/items", content=b"{oops")).status_code == 400
        wrong_method = await client.delete("/items")
        assert (wrong_method.status_code, wrong_method.headers["allow"]) == (405, "POST")
        assert (await client.get("/files/a/b.txt")).text == "a/b.txt"
        found = await client.get("/search?q=a&q=b", headers={"User-Agent": "docs"})
        assert found.json() == {"words": ["a", "b"], "agent": "docs"}


async def test_declarative():
    async with TestClient(framework_declarative.app) as client:
        assert (await client.get("/")).text == "Hello"
        assert (await client.get("/api/anything")).text == "API at /api"
        async with client.websocket_connect("/echo") as websocket:
            await websocket.send("hi")
            assert await websocket.recv() == "hi"


async def test_responses():
    async with TestClient(framework_responses.app) as client:
        page = await client.get("/page")
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        redirect = await client.get("/old-page")
        assert (redirect.status_code, redirect.headers["location"]) == (307, "/page")
        login = await client.get("/login")
        assert login.headers["cache-control"] == "no-store"
        assert login.headers["set-cookie"] == "session=abc123; Path=/; Secure; HttpOnly; SameSite=Lax"
        assert (await client.get("/numbers")).text == "0\n1\n2\n"
        download = await client.get("/download")
        assert download.text == "Hello from a file\n"
        assert download.headers["content-disposition"] == "attachment; filename*=utf-8''hello.txt"
        assert "etag" in download.headers
        part = await client.get("/download", headers={"Range": "bytes=0-4"})
        assert (part.status_code, part.text) == (206, "Hello")
        assert (await client.post("/nothing")).status_code == 204


async def test_static_and_mounts():
    async with TestClient(framework_static.app) as client:
        assert (await client.get("/static/hello.txt")).text == "Hello from a file\n"
        assert (await client.get("/legacy/")).text == "Starlette, under /legacy"


async def test_middleware():
    async with TestClient(framework_middleware.app) as client:
        assert (await client.get("/")).headers["x-served-by"] == "docs"


async def test_starlette_middleware_wraps_an_app():
    app = App(middleware=[Middleware(GZipMiddleware, minimum_size=10)])
    app.get("/")(lambda request: "x" * 100)
    async with TestClient(app) as client:
        response = await client.get("/", headers={"Accept-Encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip"
        assert response.text == "x" * 100


async def test_lifespan_state():
    async with TestClient(framework_lifespan.app) as client:
        assert (await client.get("/visit")).json() == {"visits": 1}
        assert (await client.get("/visit")).json() == {"visits": 2}


async def test_websockets():
    async with TestClient(framework_websockets.app) as client:
        async with client.websocket_connect("/rooms/red") as websocket:
            await websocket.send("hi")
            assert await websocket.recv() == "red: hi"
        async with client.websocket_connect("/chat", subprotocols=["chat.v1", "chat.v2"]) as websocket:
            assert websocket.subprotocol == "chat.v2"
            assert await websocket.recv() == "speaking chat.v2"
        with pytest.raises(InvalidStatus) as refused:
            async with client.websocket_connect("/private"):
                pass
        assert refused.value.status == 403
        headers = {"User-Agent": "docs"}
        async with client.websocket_connect("/private?token=secret", headers=headers) as websocket:
            assert await websocket.recv() == "welcome, docs"
        with pytest.raises(InvalidStatus) as unknown:
            async with client.websocket_connect("/nowhere"):
                pass
        assert unknown.value.status == 403


async def test_broadcast_reaches_the_room_only():
    async with TestClient(framework_broadcast.app) as client:
        async with (
            client.websocket_connect("/rooms/red") as alice,
            client.websocket_connect("/rooms/red") as bob,
            client.websocket_connect("/rooms/blue") as carol,
        ):
            await bob.send("bob is here")  # once it comes back, bob is a member
            assert await bob.recv() == "bob is here"
            assert await alice.recv() == "bob is here"
            await alice.send("hi red")
            assert await bob.recv() == "hi red"
            assert await alice.recv() == "hi red"
            await carol.send("hi blue")  # a red message would have come first
            assert await carol.recv() == "hi blue"
