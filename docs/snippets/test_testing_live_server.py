import httpx
import pytest
from testing_app import app
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

import asgiws


def test_home_over_a_socket(live_server):
    server = live_server(app)  # a real asgiws server on 127.0.0.1, stopped after the test
    response = httpx.get(server.url + "/")
    assert response.text == "Hello"
    assert response.headers["server"] == "asgiws"


@pytest.mark.anyio
async def test_echo_with_real_clients(live_server):
    server = live_server(app, ws_max_size=1024)  # any server setting
    async with asgiws.connect(server.ws_url + "/echo") as websocket:
        await websocket.send("hello")
        assert await websocket.recv() == "hello"
    async with connect(server.ws_url + "/echo") as websocket:  # the websockets library
        await websocket.send("x" * 2000)  # more than ws_max_size
        with pytest.raises(ConnectionClosedError):
            await websocket.recv()
    assert websocket.close_code == 1009
