import asyncio

import asgiws


async def hello(websocket, path):
    name = await websocket.recv()  # None once the connection is closed
    await websocket.send(f"Hello {name}!")


async def main():
    async with asgiws.serve(hello, "localhost", 0) as server:  # port 0: any free port
        port = server.sockets[0].getsockname()[1]
        async with asgiws.connect(f"ws://localhost:{port}/") as websocket:
            await websocket.send("Ada")
            greeting = await websocket.recv()
    print(greeting)
    assert greeting == "Hello Ada!"


asyncio.run(main())
