"""Middleware: any ASGI middleware class, wrapped around the app."""

from asgiws import App, Middleware


class ServedBy:
    """Adds a header to every HTTP response."""

    def __init__(self, app, name="asgiws"):
        self.app = app
        self.value = name.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_header(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], (b"x-served-by", self.value)]}
            await send(message)

        await self.app(scope, receive, send_with_header)


app = App(middleware=[Middleware(ServedBy, name="docs")])  # the first in the list is the outermost


@app.get("/")
async def home(request):
    return "Hello"
