import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute

from asgiws.testing import TestClient


async def hello(request):
    return PlainTextResponse(f"Hello {request.path_params['name']}")


async def shout(websocket):
    await websocket.accept()
    text = await websocket.receive_text()
    await websocket.send_text(text.upper())
    await websocket.close(code=4000)


app = Starlette(routes=[Route("/hello/{name}", hello), WebSocketRoute("/shout", shout)])


@pytest.mark.anyio
async def test_a_starlette_app():
    async with TestClient(app) as client:
        assert (await client.get("/hello/Ada")).text == "Hello Ada"
        async with client.websocket_connect("/shout") as websocket:
            await websocket.send("hi")
            assert await websocket.recv() == "HI"
            assert await websocket.recv() is None
        assert websocket.close_code == 4000
