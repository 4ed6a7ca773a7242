"""`ASGITransport`: httpx requests answered by an ASGI app in process, streaming included.

httpx ships an `ASGITransport` too, but it runs the app to its end and
buffers the whole body before returning: an endless response (server-sent
events, a long download) never returns, and `client.stream()` gets the body
in one piece at the end. This one returns the response as soon as the app
sends `http.response.start`, hands the body over chunk by chunk (the app's
`send` waits while `BODY_QUEUE` chunks are unread, as it would on a slow
socket), and when the reader closes the response early it tells the app
(a pending `receive()` returns `http.disconnect`, `send` raises
`ClientDisconnected`) and, if it is still running a loop turn later,
cancels it.

A complete response ends only once the app has returned, so what the app
does after its last body message (background tasks) is done when
`await client.get(...)` returns, and an exception it raises is raised there
(unless `raise_app_exceptions=False`: then an app failing before its
response gets asgiws's 500, logged as the server logs it).

Timeouts: the request's httpx read timeout bounds the wait for the response
head and for each body chunk (`httpx.ReadTimeout`), as it would over a socket.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx

from ..types import ASGIApp, Message, Scope
from .scope import request_scope

__all__ = ["ASGITransport", "ClientDisconnected"]

logger = logging.getLogger("asgiws.error")

#: Response body chunks sent by the app and not yet read; its `send` waits beyond.
BODY_QUEUE = 16

_END = object()  # the app has returned: no more body


class ClientDisconnected(OSError):
    """The app sent a response body after the client closed the response (an OSError, as ASGI 2.4 asks)."""


class ASGITransport(httpx.AsyncBaseTransport):
    """Send each httpx request to `app` as an ASGI "http" scope; see the module docstring.

    `app_state` is copied into each scope's "state" (the lifespan state);
    `root_path` is the scope's root_path, which the scope's path starts with;
    `client` is the scope's client address.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        root_path: str = "",
        client: tuple[str, int] = ("127.0.0.1", 50000),
        raise_app_exceptions: bool = True,
    ) -> None:
        self.app = app
        self.root_path = root_path
        self.client = client
        self.raise_app_exceptions = raise_app_exceptions
        self.app_state: dict[str, Any] = {}
        self._exchanges: set[Exchange] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        scope = request_scope("http", request, root_path=self.root_path, client=self.client, app_state=self.app_state)
        exchange = Exchange(self.app, scope, request, self.raise_app_exceptions)
        self._exchanges.add(exchange)
        exchange.task.add_done_callback(lambda _: self._exchanges.discard(exchange))
        try:
            status, headers = await exchange.response_head()
        except BaseException:
            await exchange.disconnect()
            raise
        return httpx.Response(status, headers=headers, stream=ResponseStream(exchange), request=request)

    async def aclose(self) -> None:
        """Disconnect and cancel the apps still answering responses nobody closed."""
        for exchange in list(self._exchanges):
            await exchange.disconnect()


class Exchange:
    """One request and its response between the client and a running app."""

    def __init__(self, app: ASGIApp, scope: Scope, request: httpx.Request, raise_app_exceptions: bool) -> None:
        self.request = request
        self.raise_app_exceptions = raise_app_exceptions
        timeout = request.extensions.get("timeout", {})
        self.read_timeout: float | None = timeout.get("read")
        assert isinstance(request.stream, httpx.AsyncByteStream)  # an async transport's requests stream async
        self._body = aiter(request.stream)
        self._next_chunk: bytes | None = None
        self._request_complete = False
        self._head: asyncio.Future[tuple[int, list[tuple[bytes, bytes]]]] = asyncio.get_running_loop().create_future()
        self.chunks: asyncio.Queue[Any] = asyncio.Queue(BODY_QUEUE)
        self._response_complete = False
        self._done = asyncio.Event()  # the response is complete or the client went away
        self.disconnected = False
        self.error: BaseException | None = None
        self.task = asyncio.ensure_future(self._run(app, scope))

    # -- the app's side -------------------------------------------------------

    async def _run(self, app: ASGIApp, scope: Scope) -> None:
        try:
            await app(scope, self.receive, self.send)
        except BaseException as exc:
            if not self.disconnected:  # after a disconnect, what the app does is not the test's business
                self.error = exc
                if not self.raise_app_exceptions:
                    logger.error("Exception in ASGI application\n", exc_info=exc)
                if not isinstance(exc, Exception):
                    raise
        else:
            if not self._head.done():
                self.error = RuntimeError("ASGI callable returned without starting response.")
                if not self.raise_app_exceptions:
                    logger.error("%s", self.error)
        finally:
            if not self.disconnected:
                await self.chunks.put(_END)

    async def receive(self) -> Message:
        if not self._request_complete and not self.disconnected:
            return await self._request_body()
        await self._done.wait()
        return {"type": "http.disconnect"}

    async def _request_body(self) -> Message:
        """The next `http.request` message; a chunk is read ahead to know whether more follow."""
        if self._next_chunk is None:
            self._next_chunk = await self._pull()
        chunk = self._next_chunk
        following = await self._pull() if chunk else b""
        self._next_chunk = following
        more_body = bool(following)
        if not more_body:
            self._request_complete = True
        return {"type": "http.request", "body": chunk, "more_body": more_body}

    async def _pull(self) -> bytes:
        """The request body's next non-empty chunk, b"" at its end."""
        async for chunk in self._body:
            if chunk:
                return chunk
        return b""

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if self.disconnected:
            raise ClientDisconnected("the client closed the response")
        if not self._head.done():
            if kind != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{kind}'.")
            self._head.set_result((message["status"], list(message.get("headers") or [])))
            return
        if kind != "http.response.body":
            raise RuntimeError(f"Expected ASGI message 'http.response.body', but got '{kind}'.")
        if self._response_complete:
            raise RuntimeError("ASGI message 'http.response.body' sent after the response was complete.")
        body = message.get("body", b"")
        if body and self.request.method != "HEAD":
            await self.chunks.put(bytes(body))
        if not message.get("more_body", False):
            self._response_complete = True
            self._done.set()

    # -- the client's side ----------------------------------------------------

    async def response_head(self) -> tuple[int, list[tuple[bytes, bytes]]]:
        """The status and headers, once the app has sent them; raises what the app raised before."""
        waiting = asyncio.ensure_future(self._wait_head())
        try:
            await asyncio.wait_for(waiting, self.read_timeout)
        except TimeoutError:
            raise httpx.ReadTimeout("the app sent no response head in time", request=self.request) from None
        if self._head.done():
            return self._head.result()
        await self.task
        assert self.error is not None
        if self.raise_app_exceptions:
            raise self.error
        body = b"Internal Server Error"
        return 500, [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]

    async def _wait_head(self) -> None:
        waiting: set[asyncio.Future[Any]] = {self._head, self.task}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)

    async def body(self) -> AsyncIterator[bytes]:
        """The body chunks as the app sends them; then raises what the app raised, if anything."""
        if not self._head.done():  # the app failed before its response: the 500's body
            yield b"Internal Server Error"
            return
        while True:
            try:
                chunk = await asyncio.wait_for(self.chunks.get(), self.read_timeout)
            except TimeoutError:
                raise httpx.ReadTimeout("the app sent no more of the body in time", request=self.request) from None
            if chunk is _END:
                break
            yield chunk
        await self.task
        if self.error is not None and self.raise_app_exceptions:
            raise self.error

    async def disconnect(self) -> None:
        """The client is gone: a pending `receive()` returns `http.disconnect`; one loop turn later, cancel the app."""
        if self.task.done():
            return
        self.disconnected = True
        self._done.set()
        await asyncio.sleep(0)
        if not self.task.done():
            self.task.cancel()
            await asyncio.wait({self.task})


class ResponseStream(httpx.AsyncByteStream):
    """The body of one response, read from its `Exchange`."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.exchange.body():
            yield chunk

    async def aclose(self) -> None:
        await self.exchange.disconnect()
