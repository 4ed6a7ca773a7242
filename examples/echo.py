#!/usr/bin/env python
"""A raw ASGI 3 echo application, no framework: what Autobahn and the benchmarks run.

    asgiws examples.echo:app      or      python examples/echo.py [PORT]

HTTP: `GET` answers "Hello, world!"; `POST` (or any method with a body)
answers with the request body. WebSocket: every message comes back as it
came, text as text and bytes as bytes, until the client closes.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

HELLO = b"Hello, world!"


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Dispatch on the ASGI scope type."""
    if scope["type"] == "http":
        await http_echo(scope, receive, send)
    elif scope["type"] == "websocket":
        await websocket_echo(receive, send)
    elif scope["type"] == "lifespan":
        await lifespan(receive, send)


async def http_echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer "Hello, world!" to a GET, and the request body to anything else."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = HELLO if scope["method"] in ("GET", "HEAD") else b"".join(chunks)
    content_type = b"text/plain; charset=utf-8" if body is HELLO else b"application/octet-stream"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def websocket_echo(receive: Receive, send: Send) -> None:
    """Accept, then send every message back with its own type until the peer leaves."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return  # websocket.disconnect: nothing left to do
        text = message.get("text")
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})


async def lifespan(receive: Receive, send: Send) -> None:
    """Nothing to set up or tear down; just acknowledge."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


if __name__ == "__main__":
    import asgiws

    asgiws.run(app, host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
