"""Calling an ASGI app directly, with hand-made scope, receive and send."""

from __future__ import annotations

import asyncio
from typing import Any


def http_scope(method: str = "GET", path: str = "/", query: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None, root_path: str = "") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": root_path + path,
        "raw_path": (root_path + path).encode(),
        "root_path": root_path,
        "query_string": query,
        "headers": headers or [(b"host", b"testserver")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


def call(app: Any, scope: dict[str, Any], body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Run one HTTP request through `app`: (status, headers, body)."""
    sent: list[dict[str, Any]] = []
    requests = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), 10))
    start = sent[0]
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


def websocket_closed_before_accept(app: Any, path: str) -> dict[str, Any]:
    """The first message `app` sends for a WebSocket to `path`."""
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop()
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": path, "raw_path": path.encode(), "query_string": b"", "headers": [], "root_path": ""}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 10))
    return sent[0]
