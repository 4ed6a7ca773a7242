"""Responses: Starlette's classes and signatures."""

import asyncio
import pathlib

from asgiws import App, FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse

app = App()
HERE = pathlib.Path(__file__).parent


@app.get("/page")
async def page(request):
    return HTMLResponse("<h1>Hello</h1>")


@app.get("/old-page")
async def old_page(request):
    return RedirectResponse("/page")  # 307: the client repeats its method and body


@app.get("/login")
async def login(request):
    response = Response("welcome", media_type="text/plain", headers={"cache-control": "no-store"})
    response.set_cookie("session", "abc123", httponly=True, secure=True)  # SameSite=Lax by default
    return response


@app.get("/numbers")
async def numbers(request):
    async def count():
        for n in range(3):
            yield f"{n}\n"  # sent as soon as it is yielded
            await asyncio.sleep(0.01)

    return StreamingResponse(count(), media_type="text/plain")


@app.get("/download")
async def download(request):
    # Last-Modified, ETag and Range requests included; read in chunks, in a thread.
    return FileResponse(HERE / "static" / "hello.txt", filename="hello.txt")


@app.post("/nothing")
async def nothing(request):
    return None  # 204 No Content
