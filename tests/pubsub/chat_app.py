"""The chat rooms the join() tests serve: every message a member sends reaches every member.

``chat_app:app`` reads its broker URL from ``PUBSUB_URL`` (the tests run it
as separate server processes on one Redis); `make_app()` builds the same
app on a given PubSub.
"""

from __future__ import annotations

import asyncio
import os

import asgiws
from asgiws import App, HTTPException, PubSub, Request, WebSocket


def make_app(pubsub: PubSub) -> App:
    app = App(on_shutdown=[pubsub.close])

    @app.websocket("/rooms/{room}")
    async def room(websocket: WebSocket) -> None:
        name = websocket.path_params["room"]
        async with pubsub.join(name, websocket):
            await websocket.send("joined")  # from here on, the member gets every message
            async for message in websocket:
                await pubsub.publish(name, message)

    @app.route("/rooms/{room}/publish")
    async def publish(request: Request) -> str:
        try:
            return await pubsub.publish(request.path_params["room"], request.query_params["message"])
        except asgiws.BrokerUnavailable as exc:
            raise HTTPException(exc.status) from exc

    @app.route("/rooms/{room}/burst")
    async def burst(request: Request) -> str:
        """Publish "0", "1", ... up to ``count``, ``lanes`` publishes at a time (default: all at once).

        All at once, the in-process broker delivers the whole burst in one
        loop turn; on Redis the publishes queue for the pool's connections.
        """
        room = request.path_params["room"]
        count = int(request.query_params["count"])
        lanes = int(request.query_params.get("lanes", count))

        async def lane(first: int) -> None:
            for i in range(first, count, lanes):
                await pubsub.publish(room, f"{i}")

        await asyncio.gather(*(lane(first) for first in range(lanes)))
        return "published"

    @app.route("/health")
    async def health(request: Request) -> str:
        return "ok"

    return app


app = make_app(PubSub(os.environ.get("PUBSUB_URL")))
