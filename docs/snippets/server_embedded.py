import asyncio
import urllib.request

import asgiws

app = asgiws.App()


@app.route("/")
async def home(request):
    return "Hello"


async def main():
    config = asgiws.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = asgiws.Server(config)
    serving = asyncio.create_task(server.serve())  # Ctrl-C and SIGTERM stop it gracefully
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]

    # ... the rest of your program runs in the same event loop; here, one request:
    with await asyncio.to_thread(urllib.request.urlopen, f"http://127.0.0.1:{port}/") as response:
        assert response.read() == b"Hello"

    server.should_exit = True  # stop accepting, finish what is running, run the lifespan shutdown
    await serving


asyncio.run(main())
