#!/usr/bin/env python
"""Chat rooms: `/rooms/{room}`; every message goes to everyone in the same room.

    python examples/chat.py [PORT]
"""

import collections
import sys

import asgiws
from asgiws import App

app = App()
rooms = collections.defaultdict(set)


@app.websocket("/rooms/{room}")
async def chat(websocket):
    room = websocket.path_params["room"]
    members = rooms[room]
    members.add(websocket)
    try:
        async for message in websocket:
            asgiws.broadcast(members, message)
    finally:
        members.discard(websocket)
        if not members:
            del rooms[room]


if __name__ == "__main__":
    asgiws.run(app, host="localhost", port=int(sys.argv[1]) if len(sys.argv) > 1 else 8765)
