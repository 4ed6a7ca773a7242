#!/usr/bin/env python
"""A Starlette application served by asgiws, unchanged (needs `pip install starlette`).

    asgiws examples.starlette_app:app      or      python examples/starlette_app.py [PORT]
"""

import sys

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute


async def homepage(request):
    return JSONResponse({"hello": "world"})


async def echo(websocket):
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(f"echo: {message}")


app = Starlette(routes=[Route("/", homepage), WebSocketRoute("/ws", echo)])


if __name__ == "__main__":
    import asgiws

    asgiws.run(app, host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
