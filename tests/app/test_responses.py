"""Every response type and handler shortcut, over a real server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from asgiws.app import (
    App,
    FileResponse,
    HTMLResponse,
    HTTPException,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Request,
    Response,
    StreamingResponse,
)
from asgiws.app.responses import parse_range
from tests.app.inprocess import call, http_scope
from tests.app.wire import captured_log
from tests.conftest import running_server

SECRET = "database password is hunter2"


def make_app(tmp_path: Any) -> App:
    app = App()
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 4096)  # 1 MiB

    @app.get("/response")
    async def response(request: Request) -> Response:
        r = Response(b"raw", status_code=201, headers={"X-Custom": "1"}, media_type="application/x-thing")
        r.set_cookie("sid", "42", httponly=True)
        return r

    @app.get("/text")
    async def text(request: Request) -> Response:
        return PlainTextResponse("héllo")

    @app.get("/html")
    async def html(request: Request) -> Response:
        return HTMLResponse("<p>hi</p>")

    @app.get("/json")
    async def json_(request: Request) -> Response:
        return JSONResponse({"ü": [1, None]}, status_code=202)

    @app.get("/redirect")
    async def redirect(request: Request) -> Response:
        return RedirectResponse("/text")

    @app.get("/redirect301")
    async def redirect301(request: Request) -> Response:
        return RedirectResponse("/text", status_code=301)

    @app.get("/stream-async")
    async def stream_async(request: Request) -> Response:
        async def gen():
            for i in range(5):
                await asyncio.sleep(0)
                yield f"part{i},"

        return StreamingResponse(gen(), media_type="text/plain")

    @app.get("/stream-sync")
    def stream_sync(request: Request) -> Response:
        def gen():
            for i in range(3):
                time.sleep(0)  # a blocking iterator: it runs in a worker thread
                yield b"blk%d," % i

        return StreamingResponse(gen())

    @app.get("/file")
    async def file(request: Request) -> Response:
        return FileResponse(big)

    @app.get("/download")
    async def download(request: Request) -> Response:
        return FileResponse(big, filename="data file.bin")

    @app.get("/short/str")
    async def short_str(request: Request) -> str:
        return "plain"

    @app.get("/short/bytes")
    async def short_bytes(request: Request) -> bytes:
        return b"\x00\x01"

    @app.get("/short/dict")
    async def short_dict(request: Request) -> dict:
        return {"a": 1}

    @app.get("/short/list")
    def short_list(request: Request) -> list:  # sync handler, run in a thread
        return [1, "two"]

    @app.get("/boom")
    async def boom(request: Request) -> str:
        raise RuntimeError(SECRET)

    @app.get("/teapot")
    async def teapot(request: Request) -> str:
        raise HTTPException(418, headers={"X-Why": "tea"})

    return app


def test_responses_over_the_wire(server_kind: str, tmp_path: Any) -> None:
    # After the server starts: its logging set-up resets the handlers of "asgiws.*" loggers.
    with running_server(make_app(tmp_path), server_kind) as (host, port), captured_log("asgiws.app") as records:
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=10) as client:
            r = client.get("/response")
            assert (r.status_code, r.content, r.headers["x-custom"]) == (201, b"raw", "1")
            assert r.headers["content-type"] == "application/x-thing"
            assert r.headers["set-cookie"] == "sid=42; Path=/; HttpOnly; SameSite=Lax"

            r = client.get("/text")
            assert r.headers["content-type"] == "text/plain; charset=utf-8" and r.text == "héllo"
            assert r.headers["content-length"] == str(len("héllo".encode()))
            assert client.get("/html").headers["content-type"] == "text/html; charset=utf-8"

            r = client.get("/json")
            assert r.status_code == 202 and r.headers["content-type"] == "application/json"
            assert r.content == '{"ü":[1,null]}'.encode()

            r = client.get("/redirect")
            assert (r.status_code, r.headers["location"]) == (307, "/text")
            assert client.get("/redirect", follow_redirects=True).text == "héllo"
            assert client.get("/redirect301").status_code == 301

            assert client.get("/stream-async").text == "part0,part1,part2,part3,part4,"
            assert client.get("/stream-sync").content == b"blk0,blk1,blk2,"

            expected = bytes(range(256)) * 4096
            r = client.get("/file")
            assert r.content == expected and r.headers["content-type"] == "application/octet-stream"
            assert r.headers["content-length"] == str(len(expected)) and "etag" in r.headers
            r = client.head("/file")
            assert r.content == b"" and r.headers["content-length"] == str(len(expected))
            r = client.get("/file", headers={"range": "bytes=10-19"})
            assert r.status_code == 206 and r.content == expected[10:20]
            assert r.headers["content-range"] == f"bytes 10-19/{len(expected)}"
            r = client.get("/download")
            assert r.headers["content-disposition"] == "attachment; filename*=utf-8''data%20file.bin"

            r = client.get("/short/str")
            assert (r.text, r.headers["content-type"]) == ("plain", "text/plain; charset=utf-8")
            r = client.get("/short/bytes")
            assert (r.content, r.headers["content-type"]) == (b"\x00\x01", "application/octet-stream")
            assert client.get("/short/dict").json() == {"a": 1}
            assert client.get("/short/list").json() == [1, "two"]

            r = client.get("/boom")
            assert r.status_code == 500 and r.text == "Internal Server Error"
            assert SECRET not in r.text
            r = client.get("/teapot")
            assert (r.status_code, r.text, r.headers["x-why"]) == (418, "I'm a Teapot", "tea")
    # The traceback went to the log, not to the client.
    assert any(record.exc_info and SECRET in str(record.exc_info[1]) for record in records)


def test_streaming_stops_when_client_disconnects() -> None:
    produced = []

    async def endless():
        i = 0
        while True:
            produced.append(i)
            yield b"x"
            i += 1
            await asyncio.sleep(0)

    sent: list[dict[str, Any]] = []

    async def main() -> None:
        disconnected = asyncio.Event()

        async def receive() -> dict[str, Any]:
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if len(sent) == 10:
                disconnected.set()

        await asyncio.wait_for(StreamingResponse(endless())(http_scope(), receive, send), 10)

    asyncio.run(main())
    assert 10 <= len(sent) < 1000


def test_no_body_statuses_have_no_content_length() -> None:
    assert all(name != b"content-length" for name, _ in Response(status_code=304).raw_headers)
    assert (b"content-length", b"0") in Response(status_code=200).raw_headers


def test_header_lists_are_built_per_response() -> None:
    """The Content-Length and Content-Type pairs are shared between responses, never their lists."""
    first, second = PlainTextResponse("héllo"), PlainTextResponse("héllo")
    first.set_cookie("a", "1")
    first.headers["x-extra"] = "yes"
    assert second.raw_headers == [(b"content-length", b"6"), (b"content-type", b"text/plain; charset=utf-8")]
    assert (b"content-length", b"100000") in Response(b"x" * 100_000).raw_headers
    given = PlainTextResponse("hi", headers={"Content-Type": "text/x-custom", "Content-Length": "2"})
    assert given.raw_headers == [(b"content-type", b"text/x-custom"), (b"content-length", b"2")]
    latin = HTMLResponse("hi", media_type="text/html; charset=latin-1")
    assert latin.raw_headers[-1] == (b"content-type", b"text/html; charset=latin-1")
    assert JSONResponse([]).raw_headers[-1] == (b"content-type", b"application/json")


@pytest.mark.parametrize(
    "header, expected",
    [
        ("bytes=0-9", (0, 9)),
        ("bytes=90-", (90, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes=50-500", (50, 99)),
        ("bytes=100-", False),
        ("bytes=100-200", False),
        ("bytes=-0", False),
        ("bytes=5-1", None),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("bytes=a-b", None),
        ("bytes=1", None),
    ],
)
def test_parse_range(header: str, expected: object) -> None:
    assert parse_range(header, 100) == expected


def test_handler_returning_unknown_type_is_a_500() -> None:
    app = App()

    @app.get("/")
    async def bad(request: Request) -> Any:
        return object()

    assert call(app, http_scope())[0] == 500
