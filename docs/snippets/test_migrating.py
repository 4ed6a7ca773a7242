"""The migration page's pairs behave the same: the uvicorn and asgiws servers, the Starlette and asgiws apps."""

import asyncio

import httpx
import migrate_starlette_after
import migrate_starlette_before
import migrate_uvicorn_after
import migrate_uvicorn_before
import pytest

import asgiws
from asgiws.testing import TestClient
from tests.examples.test_examples import free_port

pytestmark = pytest.mark.anyio


async def echo_app(scope, receive, send):
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"hi"})
    elif scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while (message := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message["text"]})


@pytest.mark.parametrize("module", [migrate_uvicorn_before, migrate_uvicorn_after], ids=["uvicorn", "asgiws"])
async def test_the_same_server_code_runs_on_both(module):
    port = free_port()
    server = module.make_server(echo_app, port=port)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/")).text == "hi"
        async with asgiws.connect(f"ws://127.0.0.1:{port}/") as websocket:
            await websocket.send("hello")
            assert await websocket.recv() == "hello"
    finally:
        server.should_exit = True
        await serving


@pytest.mark.parametrize("module", [migrate_starlette_before, migrate_starlette_after], ids=["starlette", "asgiws"])
async def test_the_two_apps_answer_alike(module):
    async with TestClient(module.app) as client:
        home = await client.get("/")
        assert (home.text, home.headers["content-type"]) == ("Hello", "text/plain; charset=utf-8")
        assert (await client.get("/items/1")).json() == {"id": 1, "name": "tea"}
        missing = await client.get("/items/2")
        assert (missing.status_code, missing.text) == (404, "no such item")
        assert (await client.get("/items/tea")).status_code == 404
        async with client.websocket_connect("/echo") as websocket:
            await websocket.send("hello")
            assert await websocket.recv() == "echo: hello"
