import asyncio

import asgiws


async def echo(websocket, path):  # or echo(websocket): asgiws looks at the signature
    async for message in websocket:
        await websocket.send(f"{path}: {message}")


async def fail(websocket):
    raise RuntimeError("a bug")  # logged with its traceback; the client sees 1011


async def main():
    # Awaiting serve() returns the running server; keywords are server settings.
    server = await asgiws.serve(echo, "localhost", 0, ws_max_size=2**20, ws_ping_interval=30, log_level="warning")
    port = server.sockets[0].getsockname()[1]
    async with asgiws.connect(f"ws://localhost:{port}/chat?lang=en") as websocket:
        await websocket.send("hello")
        assert await websocket.recv() == "/chat?lang=en: hello"  # path: the target the client asked for
    server.close()  # stop accepting; open connections close with 1001 (going away)
    await server.wait_closed()

    async with asgiws.serve(fail, "localhost", 0, log_level="critical") as server:
        port = server.sockets[0].getsockname()[1]
        async with asgiws.connect(f"ws://localhost:{port}/") as websocket:
            assert await websocket.recv() is None
            assert websocket.close_code == 1011


asyncio.run(main())
