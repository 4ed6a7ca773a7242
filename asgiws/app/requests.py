"""`Request`, and what it shares with `WebSocket`: the scope's URL, headers, query, cookies, client.

`HTTPConnection` reads an ASGI scope of either kind (as Starlette's does);
each derived value is built on first access and then cached.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

from ..types import Receive, Scope
from .datastructures import URL, FormData, Headers, QueryParams
from .exceptions import ClientDisconnect, HTTPException

__all__ = ["HTTPConnection", "Request"]


def parse_cookies(header: str) -> dict[str, str]:
    """Cookie header to a dict, leniently as browsers send it (RFC 6265 5.4)."""
    cookies: dict[str, str] = {}
    for chunk in header.split(";"):
        name, sep, value = chunk.partition("=")
        if not sep:
            name, value = "", name
        name, value = name.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if name or value:
            cookies[name] = value
    return cookies


class HTTPConnection:
    """The request an HTTP handler or a WebSocket handshake came with, read from its ASGI scope.

    Slots, not a ``__dict__``: `WebSocket` builds on it, and an idle
    WebSocket should cost as little memory as can be.
    """

    __slots__ = ("scope", "_url", "_headers", "_query", "_cookies")

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._url: URL | None = None
        self._headers: Headers | None = None
        self._query: QueryParams | None = None
        self._cookies: dict[str, str] | None = None

    @property
    def url(self) -> URL:
        """The URL the client asked for, rebuilt from the scope: scheme, Host header, path, query."""
        if self._url is None:
            self._url = URL.from_scope(self.scope)
        return self._url

    @property
    def path(self) -> str:
        """The path, percent-decoded (`WebSocket` overrides it: the request target as sent)."""
        path: str = self.scope["path"]
        return path

    @property
    def headers(self) -> Headers:
        """Case-insensitive `str` -> `str` headers; `get_all` for repeated ones."""
        if self._headers is None:
            self._headers = Headers(self.scope["headers"])
        return self._headers

    @property
    def query_params(self) -> QueryParams:
        """The query string's parameters: ``[name]`` is the last value, ``getlist(name)`` every one."""
        if self._query is None:
            self._query = QueryParams(self.scope.get("query_string", b""))
        return self._query

    @property
    def path_params(self) -> dict[str, Any]:
        """What the route's pattern matched in the path, converted (``{id:int}`` gives an int)."""
        params: dict[str, Any] = self.scope.get("path_params", {})
        return params

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies of the Cookie header, by name."""
        if self._cookies is None:
            header = self.headers.get("cookie")
            self._cookies = parse_cookies(header) if header else {}
        return self._cookies

    @property
    def client(self) -> tuple[str, int] | None:
        """The peer's (host, port), when the server knows it."""
        client = self.scope.get("client")
        return None if client is None else (client[0], client[1])

    @property
    def state(self) -> dict[str, Any]:
        """This connection's copy of the lifespan state (ASGI "state" extension)."""
        state: dict[str, Any] = self.scope.setdefault("state", {})
        return state

    @property
    def app(self) -> Any:
        """The scope's "app": the `App` that routed this connection, or None when none did."""
        return self.scope.get("app")


class Request(HTTPConnection):
    """An HTTP request: everything is computed on first access and then cached.

    The body can be read once as a stream (`stream()`) or whole (`body()`,
    `json()`, `form()`, which may be called any number of times).
    """

    __slots__ = ("_receive", "_body", "_streamed", "_form")

    def __init__(self, scope: Scope, receive: Receive | None = None) -> None:
        # HTTPConnection.__init__'s work, inline: one call less on every request.
        self.scope = scope
        self._url = self._headers = self._query = self._cookies = None
        self._receive = receive
        self._body: bytes | None = None
        self._streamed = False
        self._form: FormData | None = None

    @property
    def method(self) -> str:
        """The request method, upper-case: "GET"."""
        method: str = self.scope["method"]
        return method

    async def stream(self) -> AsyncIterator[bytes]:
        """The body in the chunks it arrives in, without keeping it in memory."""
        if self._body is not None:
            yield self._body
            return
        if self._streamed:
            raise RuntimeError("the request body was already streamed")
        if self._receive is None:
            raise RuntimeError("this request has no receive channel")
        self._streamed = True
        while True:
            message = await self._receive()
            kind = message["type"]
            if kind == "http.request":
                chunk = message.get("body", b"")
                if chunk:
                    yield chunk
                if not message.get("more_body", False):
                    return
            elif kind == "http.disconnect":
                raise ClientDisconnect()

    async def body(self) -> bytes:
        """The whole body."""
        if self._body is None:
            chunks = [chunk async for chunk in self.stream()]
            self._body = b"".join(chunks)
        return self._body

    async def json(self) -> Any:
        """The body decoded as JSON; invalid JSON is the client's fault: 400."""
        try:
            return json.loads(await self.body())
        except ValueError:
            raise HTTPException(400, "Invalid JSON") from None

    async def form(self) -> FormData:
        """Fields of an application/x-www-form-urlencoded body (415 for other types)."""
        if self._form is None:
            media_type = self.headers.get("content-type", "").partition(";")[0].strip().lower()
            if media_type not in ("application/x-www-form-urlencoded", ""):
                raise HTTPException(415)
            body = await self.body()
            self._form = FormData(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return self._form

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"
