#!/usr/bin/env python
"""The browser example: one process serves the page and its WebSocket.

    python examples/time.py [PORT]

then open the URL it prints. The page connects back to the host and port it
was loaded from, and shows the server's clock as it ticks.
"""

import asyncio
import datetime
import pathlib
import random
import sys

import asgiws
from asgiws import App, HTMLResponse

PAGE = pathlib.Path(__file__).with_name("time.html")

app = App()


@app.route("/")
async def page(request):
    return HTMLResponse(PAGE.read_text())


@app.websocket("/time")
async def time(websocket, path):
    while True:
        now = datetime.datetime.now(datetime.UTC).isoformat()
        if not websocket.open:
            return
        await websocket.send(now)
        await asyncio.sleep(random.random())


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 5678
    print(f"Open http://127.0.0.1:{port}/ in a browser", flush=True)
    asgiws.run(app, host="127.0.0.1", port=port)
