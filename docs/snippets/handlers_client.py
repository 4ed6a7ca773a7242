import asyncio

import asgiws
from asgiws.testing import LiveServer

app = asgiws.App()


@app.websocket("/echo", subprotocols=["echo.v1"])
async def echo(websocket):
    async for message in websocket:
        await websocket.send(message)


@app.websocket("/bye")
async def bye(websocket):
    await websocket.close(4000, "see you")


@app.websocket("/members", accept=False)
async def members(websocket):
    await websocket.close()  # refused before accepting: HTTP 403


async def main(url):
    async with asgiws.connect(
        url + "/echo",
        subprotocols=["echo.v1"],
        additional_headers={"Authorization": "Bearer 123"},
        max_size=2**20,  # the client's own limits; None: no limit
    ) as websocket:
        assert websocket.subprotocol == "echo.v1"
        await websocket.send("text")  # str: a text message
        await websocket.send(b"bytes")  # bytes: a binary message
        assert await websocket.recv() == "text"
        assert await websocket.recv() == b"bytes"
        pong = await websocket.ping()
        round_trip = await pong  # seconds, when the pong arrives
        assert round_trip >= 0
    assert websocket.close_code == 1000  # leaving the block closed it

    async with asgiws.connect(url + "/bye") as websocket:
        assert await websocket.recv() is None  # the server closed the connection
        assert (websocket.close_code, websocket.close_reason) == (4000, "see you")
        try:
            await websocket.send("still there?")
        except asgiws.ConnectionClosed as closed:  # here a ConnectionClosedError: 4000 is not a normal close
            assert closed.code == 4000
        else:
            raise AssertionError("sent on a closed connection")

    try:
        await asgiws.connect(url + "/members")
    except asgiws.InvalidStatus as refused:
        assert refused.status == 403
    else:
        raise AssertionError("the handshake was accepted")


async def serve_and_run():
    async with LiveServer(app) as server:  # the app on a real server, at a free port
        await main(server.ws_url)


asyncio.run(serve_and_run())
