"""Rooms in one process: what a member sends goes to every member of the room, with broadcast()."""

import collections

import asgiws
from asgiws import App

app = App()
rooms = collections.defaultdict(set)


@app.websocket("/rooms/{room}")
async def room(websocket):
    members = rooms[websocket.path_params["room"]]
    members.add(websocket)
    try:
        async for message in websocket:
            asgiws.broadcast(members, message)  # returns at once: each member is sent it in the background
    finally:
        members.discard(websocket)
