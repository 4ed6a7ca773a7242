from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute

items = {1: "tea"}


async def home(request):
    return PlainTextResponse("Hello")


async def item(request):
    item_id = request.path_params["item_id"]
    if item_id not in items:
        raise HTTPException(404, "no such item")
    return JSONResponse({"id": item_id, "name": items[item_id]})


async def echo(websocket):
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(f"echo: {message}")


app = Starlette(
    routes=[
        Route("/", home),
        Route("/items/{item_id:int}", item),
        WebSocketRoute("/echo", echo),
    ]
)
