#!/usr/bin/env python
"""The browser example: one process serves the page and its WebSocket.

    python examples/time.py [PORT]

then open the URL it prints. The page connects back to the host and port it
was loaded from, and shows the server's clock as it ticks. Only pages of
that origin may open the WebSocket (`ws_origins`): a page of another site,
open in the same browser, gets 403.
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
    # The page and its WebSocket share one origin; a browser sends it with every handshake.
    origins = [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
    asgiws.run(app, host="127.0.0.1", port=port, ws_origins=origins)
