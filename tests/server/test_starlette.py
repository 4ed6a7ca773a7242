"""A Starlette application (HTTP routes and a WebSocket endpoint) served unchanged."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.conftest import running_server

websockets_client = pytest.importorskip("websockets.asyncio.client")


async def homepage(request):
    return PlainTextResponse("home")


async def item(request):
    body = await request.body()
    return JSONResponse({"id": request.path_params["item_id"], "q": request.query_params.get("q"), "len": len(body)})


async def stream(request):
    async def numbers():
        for i in range(3):
            yield f"{i}\n"

    return StreamingResponse(numbers(), media_type="text/plain")


async def echo(websocket: WebSocket):
    await websocket.accept(subprotocol="chat" if "chat" in websocket.scope["subprotocols"] else None)
    async for message in websocket.iter_text():
        await websocket.send_text(f"{websocket.path_params['name']}: {message}")


app = Starlette(
    routes=[
        Route("/", homepage),
        Route("/items/{item_id:int}", item, methods=["GET", "POST"]),
        Route("/stream", stream),
        WebSocketRoute("/ws/{name}", echo),
    ]
)


def test_starlette_http_routes(server_kind):
    with running_server(app, server_kind) as (host, port), httpx.Client(base_url=f"http://{host}:{port}") as client:
        assert client.get("/").text == "home"
        assert client.post("/items/7?q=x", content=b"abc").json() == {"id": 7, "q": "x", "len": 3}
        assert client.get("/stream").text == "0\n1\n2\n"
        assert client.get("/nowhere").status_code == 404
        assert client.delete("/items/7").status_code == 405


def test_starlette_websocket_endpoint(server_kind):
    async def talk(port: int) -> list[str]:
        uri = f"ws://127.0.0.1:{port}/ws/bob"
        async with websockets_client.connect(uri, subprotocols=["chat"], open_timeout=5) as ws:
            assert ws.subprotocol == "chat"
            replies = []
            for text in ("hi", "there"):
                await ws.send(text)
                replies.append(await asyncio.wait_for(ws.recv(), 5))
            return replies

    with running_server(app, server_kind) as (host, port):
        assert asyncio.run(talk(port)) == ["bob: hi", "bob: there"]
