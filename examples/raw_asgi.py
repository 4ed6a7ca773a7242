#!/usr/bin/env python
"""A raw ASGI 3 application, no framework: asgiws serves it as uvicorn would.

    asgiws examples.raw_asgi:app      or      python examples/raw_asgi.py [PORT]

HTTP: `GET /` answers with the request's method and path. WebSocket: every
text message comes back upper-cased.
"""

import sys


async def app(scope, receive, send):
    if scope["type"] == "http":
        body = f"{scope['method']} {scope['path']}\n".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
    elif scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            event = await receive()
            if event["type"] == "websocket.disconnect":
                break
            if event.get("text") is not None:
                await send({"type": "websocket.send", "text": event["text"].upper()})
    elif scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


if __name__ == "__main__":
    import asgiws

    asgiws.run(app, host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
