"""A raw ASGI WebSocket echo app: the testee that Autobahn's fuzzing client talks to.

It echoes text as text and bytes as bytes, and accepts every connection. It is
a fallback for `run.py` when `examples/echo.py` is not there, and it is what
`--server uvicorn` serves, so both servers are measured with the same app.
"""

from typing import Any, Awaitable, Callable

Scope = dict[str, Any]
Message = dict[str, Any]


async def app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Echo every WebSocket message back; answer plain HTTP with a short text."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"WebSocket echo server\n"})
        return
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif kind == "websocket.receive":
            text = message.get("text")
            if text is not None:
                await send({"type": "websocket.send", "text": text})
            else:
                await send({"type": "websocket.send", "bytes": message["bytes"]})
        else:  # websocket.disconnect
            return
