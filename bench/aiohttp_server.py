"""aiohttp's own server (its `web.Application`, no ASGI), serving what the ASGI servers serve.

The same routes as `examples.echo:app` and `apps.raw_app`: ``GET /`` says
"Hello, world!", ``GET /json`` sends the same 4 KiB JSON document,
``POST /upload`` reads the body and answers its length, ``POST /`` echoes the
body; a WebSocket on any path echoes every message with its own type
(permessage-deflate accepted when offered, aiohttp's default). On uvloop, no
access log, as the other servers run.

    python bench/aiohttp_server.py --port 8000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

import uvloop
from aiohttp import WSMsgType, web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apps import JSON_BODY
from examples.echo import HELLO

MAX_MESSAGE = 64 << 20  # the 1 MiB ping-pong, with room to spare


async def websocket_echo(request: web.Request) -> web.WebSocketResponse:
    websocket = web.WebSocketResponse(max_msg_size=MAX_MESSAGE)
    await websocket.prepare(request)
    async for message in websocket:
        if message.type == WSMsgType.TEXT:
            await websocket.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await websocket.send_bytes(message.data)
    return websocket


async def root(request: web.Request) -> web.StreamResponse:
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return await websocket_echo(request)
    if request.method in ("GET", "HEAD"):
        return web.Response(body=HELLO, content_type="text/plain", charset="utf-8")
    return web.Response(body=await request.read(), content_type="application/octet-stream")


async def json_document(request: web.Request) -> web.Response:
    return web.Response(body=JSON_BODY, content_type="application/json")


async def upload(request: web.Request) -> web.Response:
    received = 0
    async for chunk in request.content.iter_any():
        received += len(chunk)
    return web.Response(body=b'{"received":%d}' % received, content_type="application/json")


async def serve(host: str, port: int) -> None:
    app = web.Application(client_max_size=MAX_MESSAGE)
    app.router.add_get("/json", json_document)
    app.router.add_post("/upload", upload)
    app.router.add_route("*", "/{tail:.*}", root)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
