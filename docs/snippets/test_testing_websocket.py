import pytest

import asgiws

pytestmark = pytest.mark.anyio


async def test_echo(client):
    async with client.websocket_connect("/echo", subprotocols=["echo.v1"]) as websocket:
        assert websocket.subprotocol == "echo.v1"
        await websocket.send("hello")
        assert await websocket.recv() == "hello"
        await websocket.send(b"\x00\x01")
        assert await websocket.recv() == b"\x00\x01"


async def test_admin_needs_a_token(client):
    with pytest.raises(asgiws.InvalidStatus) as refused:
        async with client.websocket_connect("/admin"):
            pass
    assert refused.value.status == 403

    headers = {"Authorization": "Bearer secret"}
    async with client.websocket_connect("/admin", headers=headers) as websocket:
        assert await websocket.recv() == "welcome"
        assert await websocket.recv() is None  # the handler returned
    assert websocket.close_code == 1000
