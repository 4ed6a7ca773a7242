import asyncio

import httpx
from testing_app import app

import asgiws
from asgiws.testing import LiveServer

with LiveServer(app) as server:
    assert httpx.get(server.url + "/").text == "Hello"


async def main():
    async with LiveServer(app) as server:
        async with asgiws.connect(server.ws_url + "/echo") as websocket:
            await websocket.send("hello")
            assert await websocket.recv() == "hello"


asyncio.run(main())
