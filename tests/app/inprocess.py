"""Calling an ASGI app in process: `call()` through `asgiws.testing.TestClient`, and hand-made scopes.

`http_scope()` builds the scope asgiws's server would build (path starting
with root_path), for the tests that call an app or a router directly with
their own `receive` and `send`; `call()` sends the request that scope
describes through a TestClient.
"""

from __future__ import annotations

import asyncio
from typing import Any

from asgiws.testing import TestClient


def http_scope(
    method: str = "GET",
    path: str = "/",
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    root_path: str = "",
) -> dict[str, Any]:
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
    """Send the request `scope` describes, with `body`, to `app`: (status, headers, body the app sent).

    The body is what the app sent, before the client drops it for a HEAD request.
    """
    sent: list[bytes] = []

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        async def record(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                sent.append(message.get("body", b""))
            await send(message)

        await app(scope, receive, record)

    root_path = scope["root_path"]
    target = scope["path"][len(root_path) :]
    if scope["query_string"]:
        target += "?" + scope["query_string"].decode("latin-1")
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]

    async def request() -> tuple[int, dict[str, str]]:
        async with TestClient(recording, lifespan="off", root_path=root_path, timeout=10) as client:
            response = await client.request(scope["method"], target, headers=headers, content=body)
        return response.status_code, dict(response.headers)

    status, response_headers = asyncio.run(asyncio.wait_for(request(), 10))
    return status, response_headers, b"".join(sent)


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

    scope = {
        "type": "websocket",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [],
        "root_path": "",
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 10))
    return sent[0]
