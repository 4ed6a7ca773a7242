"""`Request`: an HTTP request as a handler sees it, over the ASGI scope and `receive`."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qsl

from .datastructures import URL, FormData, Headers, QueryParams
from .exceptions import ClientDisconnect, HTTPException

__all__ = ["Request"]

Receive = Callable[[], Awaitable[dict[str, Any]]]


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


class Request:
    """An HTTP request: everything is computed on first access and then cached.

    The body can be read once as a stream (`stream()`) or whole (`body()`,
    `json()`, `form()`, which may be called any number of times).
    """

    __slots__ = ("scope", "_receive", "_headers", "_query", "_cookies", "_body", "_streamed", "_form", "_url")

    def __init__(self, scope: dict[str, Any], receive: Receive | None = None) -> None:
        self.scope = scope
        self._receive = receive
        self._headers: Headers | None = None
        self._query: QueryParams | None = None
        self._cookies: dict[str, str] | None = None
        self._body: bytes | None = None
        self._streamed = False
        self._form: FormData | None = None
        self._url: URL | None = None

    @property
    def method(self) -> str:
        return self.scope["method"]

    @property
    def path(self) -> str:
        return self.scope["path"]

    @property
    def url(self) -> URL:
        if self._url is None:
            self._url = URL.from_scope(self.scope)
        return self._url

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers(self.scope["headers"])
        return self._headers

    @property
    def query_params(self) -> QueryParams:
        if self._query is None:
            self._query = QueryParams(self.scope.get("query_string", b""))
        return self._query

    @property
    def path_params(self) -> dict[str, Any]:
        return self.scope.get("path_params", {})

    @property
    def cookies(self) -> dict[str, str]:
        if self._cookies is None:
            header = self.headers.get("cookie")
            self._cookies = parse_cookies(header) if header else {}
        return self._cookies

    @property
    def client(self) -> tuple[str, int] | None:
        client = self.scope.get("client")
        return tuple(client) if client is not None else None  # type: ignore[return-value]

    @property
    def state(self) -> dict[str, Any]:
        """Per-request copy of the lifespan state (ASGI "state" extension)."""
        return self.scope.setdefault("state", {})

    @property
    def app(self) -> Any:
        return self.scope.get("app")

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
