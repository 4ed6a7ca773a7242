#!/usr/bin/env python
"""Chat rooms, across processes and machines: a page and its WebSocket, messages through PubSub.

    python examples/chat.py [--host H] [--port P] [--redis URL]
    ASGIWS_REDIS_URL=redis://127.0.0.1:6379/0 asgiws examples.chat:app --workers 2

then open the URL it prints. The page is served at ``/`` and at
``/rooms/{room}``; it connects to the WebSocket ``/rooms/{room}?name=...``
of the host and port it came from. Whatever a member of a room sends
reaches every member of that room, in the same order for all, whichever
process serves them.

Without a Redis URL (``--redis`` or the ``ASGIWS_REDIS_URL`` environment
variable) the rooms live in this process: with ``--workers 2`` each worker
would have rooms of its own. With one, every process on that Redis, on this
machine or another, shares them.

On a public host, set ``ws_origins`` (``--ws-origins https://chat.example``)
to the site that serves the page: a browser sends the user's cookies with a
WebSocket handshake from any site, and the Origin check refuses the other
sites' pages with 403 before this app runs.
"""

import argparse
import json
import os
import pathlib
from typing import Any

import asgiws
from asgiws import App, HTMLResponse, PubSub, Request, WebSocket

PAGE = pathlib.Path(__file__).with_name("chat.html")


def open_pubsub(state: dict[str, Any]) -> None:
    """At startup: one PubSub per process, kept in the lifespan state that every connection sees."""
    state["pubsub"] = PubSub(os.environ.get("ASGIWS_REDIS_URL"))  # in-process without a URL


async def close_pubsub(state: dict[str, Any]) -> None:
    await state["pubsub"].close()


app = App(on_startup=[open_pubsub], on_shutdown=[close_pubsub])


@app.route("/")
@app.route("/rooms/{room}")
async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE.read_text())


@app.websocket("/rooms/{room}")
async def chat(websocket: WebSocket) -> None:
    pubsub = websocket.state["pubsub"]
    room = websocket.path_params["room"]
    name = websocket.query_params.get("name") or "anonymous"
    # From here on, every message published on `room`, by any process, is sent to this member.
    async with pubsub.join(room, websocket):
        await pubsub.publish(room, json.dumps({"type": "join", "name": name}))
        async for text in websocket:
            if not isinstance(text, str):
                await websocket.close(1003, "text messages only")
                break
            await pubsub.publish(room, json.dumps({"type": "message", "name": name, "text": text}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Chat rooms; with --redis, shared by every process on that Redis.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--redis", metavar="URL", help="e.g. redis://127.0.0.1:6379/0 (default: $ASGIWS_REDIS_URL)")
    args = parser.parse_args()
    if args.redis:
        os.environ["ASGIWS_REDIS_URL"] = args.redis  # where open_pubsub() looks
    rooms = "shared through Redis" if os.environ.get("ASGIWS_REDIS_URL") else "in this process"
    print(f"Open http://{args.host}:{args.port}/ in a browser (rooms {rooms})", flush=True)
    asgiws.run(app, host=args.host, port=args.port)
