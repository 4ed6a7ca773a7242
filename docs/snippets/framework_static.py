"""Static files and mounted ASGI apps."""

import pathlib

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from asgiws import App


async def starlette_home(request):
    return PlainTextResponse(f"Starlette, under {request.scope['root_path']}")


legacy = Starlette(routes=[Route("/", starlette_home)])

app = App()
app.static("/static", pathlib.Path(__file__).with_name("static"))  # GET /static/hello.txt
app.mount("/legacy", legacy)  # any ASGI app: it sees root_path "/legacy"
