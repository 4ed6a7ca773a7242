"""`interface="auto"`: every shape of ASGI 3 and ASGI 2 application, over a real server, HTTP and WebSocket.

uvicorn's rule decides: a class is ASGI 3 when its instances are awaitable,
a coroutine function is ASGI 3, another callable is ASGI 3 when its
`__call__` is a coroutine function; anything else is ASGI 2.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Generator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.conftest import running_server

TIMEOUT = 10  # seconds: a bound on every wait, never an assertion


async def answer(shape: str, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Say which app answered: an HTTP body, or the WebSocket's first message."""
    if scope["type"] == "http":
        body = shape.encode()
        headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": shape})
        await send({"type": "websocket.close"})


class AwaitableClass:
    """ASGI 3 as a class: ``await AwaitableClass(scope, receive, send)``."""

    def __init__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scope, self.receive, self.send = scope, receive, send

    def __await__(self) -> Generator[Any, None, None]:
        return answer("awaitable class", self.scope, self.receive, self.send).__await__()


class CallableInstance:
    """ASGI 3 as an object whose `__call__` is a coroutine function."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await answer("callable instance", scope, receive, send)

    async def method(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await answer("bound method", scope, receive, send)


async def coroutine_function(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await answer("coroutine function", scope, receive, send)


class ASGI2Class:
    """ASGI 2: ``ASGI2Class(scope)``, then ``await instance(receive, send)``."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope

    async def __call__(self, receive: Any, send: Any) -> None:
        await answer("asgi2 class", self.scope, receive, send)


def asgi2_function(scope: dict[str, Any]) -> Any:
    return functools.partial(answer, "asgi2 function", scope)


APPS = {
    "awaitable class": AwaitableClass,
    "callable instance": CallableInstance(),
    "coroutine function": coroutine_function,
    "asgi2 class": ASGI2Class,
    "asgi2 function": asgi2_function,
    # Coroutine functions too, by inspect's account; uvicorn runs them as ASGI 2.
    "bound method": CallableInstance().method,
    "partial": functools.partial(answer, "partial"),
}
ASGIWS_ONLY = {"bound method", "partial"}


@pytest.mark.parametrize("shape", list(APPS))
def test_auto_interface_over_http_and_websocket(shape: str, server_kind: str) -> None:
    if server_kind == "uvicorn" and shape in ASGIWS_ONLY:
        pytest.skip("uvicorn runs methods and partials as ASGI 2")

    async def websocket_first_message(host: str, port: int) -> Any:
        async with connect(f"ws://{host}:{port}/") as ws:
            return await ws.recv()

    with running_server(APPS[shape], server_kind, interface="auto") as (host, port):
        response = httpx.get(f"http://{host}:{port}/", timeout=TIMEOUT)
        message = asyncio.run(asyncio.wait_for(websocket_first_message(host, port), TIMEOUT))
    assert (response.status_code, response.text) == (200, shape)
    assert message == shape
