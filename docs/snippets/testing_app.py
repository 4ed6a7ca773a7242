"""The app the testing snippets test: notes over HTTP, a countdown stream, two WebSockets."""

import asyncio

from asgiws import App, JSONResponse, StreamingResponse

app = App()


@app.on_startup
async def open_database(state):
    state["notes"] = []  # a stand-in for a database; requests see it as request.state["notes"]


@app.get("/")
async def home(request):
    return "Hello"


@app.post("/notes")
async def add_note(request):
    note = await request.json()
    request.state["notes"].append(note)
    return JSONResponse(note, status_code=201)


@app.get("/notes")
async def list_notes(request):
    return request.state["notes"]


@app.get("/countdown")
async def countdown(request):
    async def numbers():
        for n in range(3, 0, -1):
            yield f"{n}\n"
            await asyncio.sleep(0.01)
        yield "liftoff\n"

    return StreamingResponse(numbers(), media_type="text/plain")


@app.websocket("/echo", subprotocols=["echo.v1"])
async def echo(websocket):
    async for message in websocket:
        await websocket.send(message)


@app.websocket("/admin", accept=False)
async def admin(websocket):
    if websocket.request_headers.get("authorization") != "Bearer secret":
        await websocket.close()  # before accept: the client gets HTTP 403
        return
    await websocket.accept()
    await websocket.send("welcome")
