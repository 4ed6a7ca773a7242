"""Static files: types, validators and 304, ranges, index.html, traversal attempts, chunked sending."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from asgiws.app import App, StaticFiles
from tests.app.inprocess import http_scope
from tests.app.wire import raw_request
from tests.conftest import running_server

SECRET = b"top secret, outside the root"
BIG = 8 * 1024 * 1024 + 123


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "secret.txt").write_bytes(SECRET)
    root = tmp_path / "public"
    (root / "sub").mkdir(parents=True)
    (root / "nodir").mkdir()
    (root / "hello.txt").write_bytes(b"hello world\n")
    (root / "style.css").write_bytes(b"p { color: red }")
    (root / "data.json").write_bytes(b"{}")
    (root / "sub" / "index.html").write_bytes(b"<h1>index</h1>")
    (root / "sub" / "page.html").write_bytes(b"<p>page</p>")
    (root / "big.bin").write_bytes(os.urandom(1024) * (BIG // 1024) + b"x" * (BIG % 1024))
    os.symlink(tmp_path / "secret.txt", root / "link_out")
    os.symlink(tmp_path, root / "dir_out")
    os.symlink(root / "hello.txt", root / "link_in")
    return root


def make_app(root: Path) -> App:
    app = App()
    app.static("/static", root)

    @app.get("/")
    async def home(request: Any) -> str:
        return "home"

    return app


def test_content_and_types(server_kind: str, root: Path) -> None:
    with running_server(make_app(root), server_kind) as (host, port):
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=10) as client:
            r = client.get("/static/hello.txt")
            assert (r.status_code, r.content) == (200, b"hello world\n")
            assert r.headers["content-type"] == "text/plain; charset=utf-8"
            assert r.headers["content-length"] == "12"
            assert client.get("/static/style.css").headers["content-type"].startswith("text/css")
            assert client.get("/static/data.json").headers["content-type"] == "application/json"
            assert client.get("/static/big.bin").headers["content-type"] == "application/octet-stream"
            assert client.get("/static/link_in").content == b"hello world\n"  # a symlink inside the root is fine
            assert client.get("/static/missing.txt").status_code == 404
            r = client.head("/static/hello.txt")
            assert (r.status_code, r.content, r.headers["content-length"]) == (200, b"", "12")
            r = client.post("/static/hello.txt")
            assert (r.status_code, r.headers["allow"]) == (405, "GET, HEAD")
            assert client.get("/").text == "home"


def test_conditional_requests(server_kind: str, root: Path) -> None:
    with running_server(make_app(root), server_kind) as (host, port):
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=10) as client:
            first = client.get("/static/hello.txt")
            etag, modified = first.headers["etag"], first.headers["last-modified"]
            r = client.get("/static/hello.txt", headers={"if-none-match": etag})
            assert (r.status_code, r.content, r.headers["etag"]) == (304, b"", etag)
            assert client.get("/static/hello.txt", headers={"if-none-match": f'"other", W/{etag}'}).status_code == 304
            assert client.get("/static/hello.txt", headers={"if-none-match": "*"}).status_code == 304
            assert client.get("/static/hello.txt", headers={"if-none-match": '"other"'}).status_code == 200
            assert client.get("/static/hello.txt", headers={"if-modified-since": modified}).status_code == 304
            old = "Mon, 01 Jan 2001 00:00:00 GMT"
            assert client.get("/static/hello.txt", headers={"if-modified-since": old}).status_code == 200
            # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
            r = client.get("/static/hello.txt", headers={"if-none-match": '"other"', "if-modified-since": modified})
            assert r.status_code == 200
            assert client.get("/static/hello.txt", headers={"if-modified-since": "garbage"}).status_code == 200


def test_ranges(server_kind: str, root: Path) -> None:
    with running_server(make_app(root), server_kind) as (host, port):
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=10) as client:
            r = client.get("/static/hello.txt", headers={"range": "bytes=0-4"})
            assert (r.status_code, r.content, r.headers["content-range"]) == (206, b"hello", "bytes 0-4/12")
            assert r.headers["content-length"] == "5"
            r = client.get("/static/hello.txt", headers={"range": "bytes=-6"})
            assert (r.status_code, r.content) == (206, b"world\n")
            r = client.get("/static/hello.txt", headers={"range": "bytes=6-"})
            assert (r.status_code, r.content) == (206, b"world\n")
            r = client.get("/static/hello.txt", headers={"range": "bytes=12-"})
            assert (r.status_code, r.headers["content-range"]) == (416, "bytes */12")
            r = client.get("/static/hello.txt", headers={"range": "bytes=0-1,3-4"})
            assert (r.status_code, r.content) == (200, b"hello world\n")  # several ranges: whole file
            etag = r.headers["etag"]
            r = client.get("/static/hello.txt", headers={"range": "bytes=0-4", "if-range": etag})
            assert r.status_code == 206
            r = client.get("/static/hello.txt", headers={"range": "bytes=0-4", "if-range": '"stale"'})
            assert (r.status_code, r.content) == (200, b"hello world\n")
            big = (root / "big.bin").read_bytes()
            r = client.get("/static/big.bin", headers={"range": f"bytes={BIG - 70000}-"})
            assert r.status_code == 206 and r.content == big[-70000:]


def test_index_html_and_directory_redirects(server_kind: str, root: Path) -> None:
    with running_server(make_app(root), server_kind) as (host, port):
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=10) as client:
            r = client.get("/static/sub/")
            assert (r.status_code, r.content) == (200, b"<h1>index</h1>")
            assert r.headers["content-type"] == "text/html; charset=utf-8"
            r = client.get("/static/sub")
            assert (r.status_code, r.headers["location"]) == (307, "/static/sub/")
            assert client.get("/static/sub?x=1").headers["location"] == "/static/sub/?x=1"
            assert client.get("/static/sub", follow_redirects=True).content == b"<h1>index</h1>"
            assert client.get("/static/nodir/").status_code == 404
            assert client.get("/static/sub/page.html").content == b"<p>page</p>"


TRAVERSALS = [
    "/static/../secret.txt",
    "/static/sub/../../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/.%2e/secret.txt",
    "/static/..%2fsecret.txt",
    "/static/sub/..%2F..%2Fsecret.txt",
    "/static/..\\secret.txt",
    "/static/..%5csecret.txt",
    "/static/sub/%2e%2e/%2e%2e/secret.txt",
    "/static/link_out",
    "/static/dir_out/secret.txt",
    "/static/hello.txt%00.png",
    "/static/./hello.txt",
]


def test_traversal_attempts_are_404(server_kind: str, root: Path) -> None:
    with running_server(make_app(root), server_kind) as (host, port):
        for target in TRAVERSALS:
            status, _, body = raw_request(host, port, target)
            assert SECRET not in body, target
            assert status == 404, target
        # The same server still serves a legitimate file.
        assert raw_request(host, port, "/static/hello.txt")[0] == 200


def test_resolve_refuses_to_leave_the_root(root: Path) -> None:
    static = StaticFiles(root)
    assert static.resolve("/hello.txt") == str(root.resolve() / "hello.txt")
    for relative in ("/../secret.txt", "/a/../../x", "/..\\x", "/x\x00", "/link_out", "/dir_out/secret.txt", "/./x"):
        assert static.resolve(relative) is None, relative


def test_big_file_is_sent_in_chunks(root: Path) -> None:
    """Never the whole file in one message: each body message is at most one chunk."""
    sizes: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            sizes.append(len(message["body"]))

    app = StaticFiles(root)
    asyncio.run(asyncio.wait_for(app(http_scope("GET", "/big.bin"), receive, send), 10))
    assert sum(sizes) == BIG
    assert len(sizes) > 100 and max(sizes) <= 64 * 1024


def test_big_file_over_the_wire(server_kind: str, root: Path) -> None:
    with running_server(make_app(root), server_kind) as (host, port):
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=10) as client:
            with client.stream("GET", "/static/big.bin") as response:
                received = b"".join(response.iter_bytes())
    assert received == (root / "big.bin").read_bytes()


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        StaticFiles(tmp_path / "nope")
