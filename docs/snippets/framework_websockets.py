"""WebSocket routes: path fields, query and headers, choosing a subprotocol, refusing a client."""

from asgiws import App

app = App()


@app.websocket("/rooms/{room}")
async def room(websocket):  # accepted before the handler runs
    name = websocket.path_params["room"]
    async for message in websocket:  # ends cleanly when the client closes
        await websocket.send(f"{name}: {message}")


@app.websocket("/chat", subprotocols=["chat.v2", "chat.v1"])  # ours, best first
async def chat(websocket):
    await websocket.send(f"speaking {websocket.subprotocol}")  # the first of ours the client offered


@app.websocket("/private", accept=False)  # the handler accepts or refuses
async def private(websocket):
    if websocket.query_params.get("token") != "secret":
        await websocket.close()  # before accepting: the handshake is refused with 403
        return
    await websocket.accept()
    await websocket.send(f"welcome, {websocket.request_headers.get('user-agent', 'stranger')}")
