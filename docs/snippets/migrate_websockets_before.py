import asyncio

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


async def handler(websocket):
    async for message in websocket:
        await websocket.send(f"{websocket.request.path}: {message}")


async def main():
    async with serve(handler, "localhost", 0, max_size=2**20) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://localhost:{port}/chat", max_size=2**20) as websocket:
            await websocket.send("hello")
            assert await websocket.recv() == "/chat: hello"
            await websocket.close()
            try:
                await websocket.recv()
            except ConnectionClosed:
                pass  # recv() raises once the connection is closed
            else:
                raise AssertionError("recv() returned on a closed connection")


asyncio.run(main())
