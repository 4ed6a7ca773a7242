import asyncio

import asgiws


async def handler(websocket):
    async for message in websocket:
        await websocket.send(f"{websocket.path}: {message}")


async def main():
    async with asgiws.serve(handler, "localhost", 0, ws_max_size=2**20) as server:
        port = server.sockets[0].getsockname()[1]
        async with asgiws.connect(f"ws://localhost:{port}/chat", max_size=2**20) as websocket:
            await websocket.send("hello")
            assert await websocket.recv() == "/chat: hello"
            await websocket.close()
            assert await websocket.recv() is None  # recv() returns None once the connection is closed


asyncio.run(main())
