"""The same kind of app, declared as a list: decorators append to this list."""

from asgiws import App, Mount, Route, WebSocketRoute


async def home(request):
    return "Hello"


async def echo(websocket):
    async for message in websocket:
        await websocket.send(message)


async def api(scope, receive, send):  # any ASGI app
    body = f"API at {scope['root_path']}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


app = App(
    routes=[
        Route("/", home),
        WebSocketRoute("/echo", echo),
        Mount("/api", api),
    ]
)
