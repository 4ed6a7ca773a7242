"""The applications the benchmark serves besides `examples.echo:app`, one per way of writing it.

- `raw_app`: raw ASGI 3, for the scenarios `examples.echo:app` has no
  route for: ``GET /json`` (a 4 KiB JSON document, serialized once) and
  ``POST /upload`` (reads the whole body, answers its length). Everything
  else goes to `examples.echo:app`.
- `framework_app`: the same hello route as `examples.echo:app`'s ``GET /``,
  written with asgiws's `App`, in a table of a few routes like a real app's.
- `starlette_app`: that route and table written with Starlette.

aiohttp's native server has no ASGI: `aiohttp_server.py` serves the same
routes its own way.
"""

from __future__ import annotations

import json
from typing import Any

from examples.echo import HELLO
from examples.echo import app as echo_app

__all__ = ["JSON_BODY", "raw_app"]  # and framework_app, starlette_app (built on first use)


def _json_document(size: int = 4096) -> bytes:
    """A JSON list of user-like records, padded to exactly `size` bytes."""
    records: list[dict[str, Any]] = []
    while True:
        n = len(records)
        record = {"id": n, "name": f"user{n:04d}", "email": f"user{n:04d}@example.org",
                  "active": n % 3 != 0, "score": round(n * 1.37, 2), "tags": ["alpha", "beta"][: 1 + n % 2]}
        body = json.dumps([*records, record], separators=(",", ":")).encode()
        if len(body) > size - 16:
            break
        records.append(record)
    body = json.dumps(records, separators=(",", ":")).encode()
    padding = size - len(body) - len(',{"pad":""}')
    records.append({"pad": "x" * padding})
    body = json.dumps(records, separators=(",", ":")).encode()
    assert len(body) == size, len(body)
    return body


#: The 4 KiB response of ``GET /json``.
JSON_BODY = _json_document()

_JSON_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(JSON_BODY))]


async def raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Raw ASGI: ``GET /json``, ``POST /upload``, and `examples.echo:app` for everything else."""
    if scope["type"] == "http":
        path = scope["path"]
        if path == "/json":
            await send({"type": "http.response.start", "status": 200, "headers": _JSON_HEADERS})
            await send({"type": "http.response.body", "body": JSON_BODY})
            return
        if path == "/upload":
            received = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                received += len(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            body = b'{"received":%d}' % received
            headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
    await echo_app(scope, receive, send)


def _framework_app() -> Any:
    from asgiws.app import App, JSONResponse, PlainTextResponse, Request

    app = App()

    @app.get("/")
    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse(HELLO)

    @app.get("/users/{user_id:int}")
    async def user(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["user_id"]})

    @app.post("/upload")
    async def upload(request: Request) -> JSONResponse:
        return JSONResponse({"received": len(await request.body())})

    @app.get("/health")
    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.websocket("/ws")
    async def echo(websocket: Any) -> None:
        async for message in websocket:
            await websocket.send(message)

    return app


def _starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse(HELLO)

    async def user(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["user_id"]})

    async def upload(request: Request) -> JSONResponse:
        return JSONResponse({"received": len(await request.body())})

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        async for message in websocket.iter_text():
            await websocket.send_text(message)

    return Starlette(routes=[
        Route("/", hello),
        Route("/users/{user_id:int}", user),
        Route("/upload", upload, methods=["POST"]),
        Route("/health", health),
        WebSocketRoute("/ws", echo),
    ])


def __getattr__(name: str) -> Any:
    """`framework_app` and `starlette_app` are built on first use: loading one server's app imports no other."""
    builders = {"framework_app": _framework_app, "starlette_app": _starlette_app}
    if name in builders:
        value = builders[name]()
        globals()[name] = value
        return value
    raise AttributeError(name)
