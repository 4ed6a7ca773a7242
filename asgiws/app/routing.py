"""The route table: `Route`, `WebSocketRoute`, `Mount`, and the `Router` that matches them.

Routes are tried in the order declared; the first whose path matches (and,
for HTTP, whose methods include the request's) wins. To stay fast with
thousands of routes, the router never tries them all: static paths are found
in a dict, and a pattern is only run on requests whose first path segment
equals the pattern's literal first segment (patterns that start with a field
are tried on every request). Order is preserved across those indexes.

No route: HTTP 404; a path that matches only with other methods: 405 with
``Allow`` (HEAD is allowed wherever GET is); a WebSocket to an unknown path
is closed before accept, which the server answers with 403.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from ..types import ASGIApp, Receive, Scope, Send
from .exceptions import HTTPException
from .patterns import PathPattern
from .requests import Request
from .responses import JSONResponse, PlainTextResponse, Response
from .websocket import WebSocket, run_handler, takes_path

__all__ = ["Route", "WebSocketRoute", "Mount", "Router", "route_path", "to_response"]

logger = logging.getLogger("asgiws.app")

def route_path(scope: Scope) -> str:
    """The path to route on: `path` without the `root_path` the app is mounted at.

    Servers disagree on whether `path` includes `root_path` (uvicorn's does);
    this accepts both, as Starlette does.
    """
    path: str = scope["path"]
    root_path = scope.get("root_path")
    if not root_path or not path.startswith(root_path):
        return path
    if len(path) == len(root_path):
        return ""
    if path[len(root_path)] == "/":
        return path[len(root_path) :]
    return path


def to_response(result: Any) -> Response:
    """A handler's return value as a Response: str -> text, bytes -> octet-stream, dict/list -> JSON."""
    if isinstance(result, Response):
        return result
    if isinstance(result, str):
        return PlainTextResponse(result)
    if isinstance(result, (bytes, bytearray, memoryview)):
        return Response(bytes(result), media_type="application/octet-stream")
    if isinstance(result, (dict, list)):
        return JSONResponse(result)
    if result is None:
        return Response(status_code=204)
    raise TypeError(f"a handler returned {type(result).__name__}; return a Response, str, bytes, dict or list")


_NOT_FOUND = PlainTextResponse("Not Found", status_code=404)
_SERVER_ERROR = PlainTextResponse("Internal Server Error", status_code=500)


class _PatternRoute:
    """What HTTP and WebSocket routes share: a path pattern compiled once, and an endpoint."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        name: str | None,
        extra_types: dict[str, Callable[[str], Any]] | None,
    ) -> None:
        self.path = path
        self.pattern = PathPattern(path, extra_types)
        #: match(path) -> typed params or None; the pattern's own, saving a call per candidate.
        self.match: Callable[[str], dict[str, Any] | None] = self.pattern.match
        self.slashes = self.pattern.slashes
        self.endpoint = endpoint
        self.name = name or getattr(endpoint, "__name__", None)


class Route(_PatternRoute):
    """An HTTP route: `endpoint(request)` for `methods` on `path`.

    `endpoint` may be async or a plain function (run in a worker thread).
    `methods` defaults to GET; HEAD comes with GET.
    """

    scope_types = ("http",)

    def __init__(
        self,
        path: str,
        endpoint: Callable[[Request], Any],
        methods: Iterable[str] | None = None,
        name: str | None = None,
        extra_types: dict[str, Callable[[str], Any]] | None = None,
    ) -> None:
        super().__init__(path, endpoint, name, extra_types)
        if isinstance(methods, str):
            methods = [methods]
        allowed = {m.upper() for m in (methods or ("GET",))}
        if "GET" in allowed:
            allowed.add("HEAD")
        self.methods = frozenset(allowed)
        self.is_async = inspect.iscoroutinefunction(endpoint) or inspect.iscoroutinefunction(
            getattr(endpoint, "__call__", None)
        )

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            if self.is_async:
                result = await self.endpoint(request)
            else:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(None, functools.partial(self.endpoint, request))
            response = result if isinstance(result, Response) else to_response(result)
        except HTTPException as exc:
            if exc.status_code in (204, 304):  # statuses without a body (RFC 9110 15.3.5, 15.4.5)
                response = Response(status_code=exc.status_code, headers=exc.headers)
            else:
                response = PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
        except Exception:
            # The traceback goes to the log; the client only learns it was our fault.
            logger.exception("error in HTTP handler for %s %s", scope.get("method"), scope.get("path"))
            response = _SERVER_ERROR
        await response(scope, receive, send)

    def __repr__(self) -> str:
        return f"Route({self.path!r}, methods={sorted(self.methods)})"


class WebSocketRoute(_PatternRoute):
    """A WebSocket route: `endpoint(websocket)` or `endpoint(websocket, path)` on `path`.

    The connection is accepted before the handler runs, choosing the first
    of `subprotocols` the client offered. With ``accept=False`` the handler
    decides: ``await websocket.accept(subprotocol=...)`` or
    ``await websocket.close()`` (a rejection, answered 403).
    """

    scope_types = ("websocket",)
    methods = None

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Awaitable[Any]],
        name: str | None = None,
        accept: bool = True,
        subprotocols: Sequence[str] | None = None,
        extra_types: dict[str, Callable[[str], Any]] | None = None,
    ) -> None:
        super().__init__(path, endpoint, name, extra_types)
        self.accept = accept
        self.subprotocols = list(subprotocols) if subprotocols else None
        self.pass_path = takes_path(endpoint)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await run_handler(self.endpoint, websocket, self.pass_path, self.accept, self.subprotocols)

    def __repr__(self) -> str:
        return f"WebSocketRoute({self.path!r})"


class Mount:
    """A sub-application under a literal path prefix, for every scope type.

    As in Starlette, the child sees `root_path` extended by the prefix and the
    same `path`; `route_path(scope)` gives it the part below the prefix.
    """

    scope_types = ("http", "websocket")
    methods = None
    slashes = -1  # a prefix matches paths of any depth

    def __init__(self, path: str, app: ASGIApp, name: str | None = None) -> None:
        path = path.rstrip("/")
        if path and not path.startswith("/"):
            raise ValueError(f"mount path must start with '/': {path!r}")
        if "{" in path:
            raise ValueError("mount paths are literal prefixes")
        self.path = path
        self.app = app
        self.name = name
        literal = path[1:]
        self.segment = literal.partition("/")[0] if path else None

    def match(self, path: str) -> dict[str, Any] | None:
        prefix = self.path
        if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
            return {}
        return None

    def handle(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """The child app's awaitable, its scope's root_path extended (no coroutine of the mount's own)."""
        scope["root_path"] = scope.get("root_path", "") + self.path
        return self.app(scope, receive, send)

    def __repr__(self) -> str:
        return f"Mount({self.path!r}, {self.app!r})"


AnyRoute = Route | WebSocketRoute | Mount


class _Table:
    """Routes of one scope type, indexed for matching (built once per route list).

    Candidates are looked up by (first segment, number of slashes): a pattern
    is only tried on paths with its literal first segment (or any, when it
    starts with a field) and its depth (or any, when a field may match "/").
    Every candidate list is in declaration order.
    """

    __slots__ = ("static", "direct", "keyed", "segment_any", "wild_by_depth", "wild_any")

    def __init__(self, routes: list[tuple[int, AnyRoute]]) -> None:
        self.static: dict[str, list[tuple[int, AnyRoute]]] = {}
        segmented: dict[str, list[tuple[int, AnyRoute]]] = {}
        wildcard: list[tuple[int, AnyRoute]] = []
        for entry in routes:
            route = entry[1]
            if isinstance(route, Mount):
                segment = route.segment
            elif route.pattern.static is not None:
                self.static.setdefault(route.pattern.static, []).append(entry)
                continue
            else:
                segment = route.pattern.segment
            if segment is None:
                wildcard.append(entry)
            else:
                segmented.setdefault(segment, []).append(entry)

        def at_depth(entries: list[tuple[int, AnyRoute]], depth: int | None) -> list[tuple[int, AnyRoute]]:
            return [e for e in entries if e[1].slashes < 0 or e[1].slashes == depth]

        wild_depths = {e[1].slashes for e in wildcard if e[1].slashes >= 0}
        self.wild_any = at_depth(wildcard, None)
        self.wild_by_depth = {depth: at_depth(wildcard, depth) for depth in wild_depths}
        self.segment_any: dict[str, list[tuple[int, AnyRoute]]] = {}
        self.keyed: dict[tuple[str, int], list[tuple[int, AnyRoute]]] = {}
        for segment, entries in segmented.items():
            merged = sorted(entries + wildcard, key=lambda e: e[0])
            self.segment_any[segment] = at_depth(merged, None)
            for depth in wild_depths | {e[1].slashes for e in entries if e[1].slashes >= 0}:
                self.keyed[(segment, depth)] = at_depth(merged, depth)
        # A static path's list is merged with the patterns that could also match it, once.
        for path, entries in self.static.items():
            self.static[path] = sorted(entries + self._patterns_for(path), key=lambda e: e[0])
        #: Static path -> (methods, route) when the first route tried on that path is
        #: static: for those methods (any, when None) it wins without matching anything.
        self.direct: dict[str, tuple[frozenset[str] | None, AnyRoute]] = {}
        for path, entries in self.static.items():
            first = entries[0][1]
            if not isinstance(first, Mount) and first.pattern.static == path:
                self.direct[path] = (first.methods, first)

    def _patterns_for(self, path: str) -> list[tuple[int, AnyRoute]]:
        end = path.find("/", 1)
        segment = path[1:end] if end > 0 else path[1:]
        depth = path.count("/")
        dynamic = self.keyed.get((segment, depth))
        if dynamic is None:
            dynamic = self.segment_any.get(segment)
            if dynamic is None:
                dynamic = self.wild_by_depth.get(depth, self.wild_any)
        return dynamic

    def candidates(self, path: str) -> list[tuple[int, AnyRoute]]:
        """The routes worth trying on `path`, in declaration order."""
        found = self.static.get(path)
        return found if found is not None else self._patterns_for(path)


_NONE: frozenset[str] = frozenset()


class Router:
    """Match a scope to a route and run it (also an ASGI app by itself)."""

    def __init__(self, routes: Iterable[AnyRoute] | None = None) -> None:
        self.routes: list[AnyRoute] = list(routes or [])
        self._tables: dict[str, _Table] | None = None

    def add(self, route: AnyRoute) -> None:
        self.routes.append(route)
        self._tables = None

    def _build(self) -> dict[str, _Table]:
        entries = list(enumerate(self.routes))
        self._tables = {
            kind: _Table([e for e in entries if kind in e[1].scope_types]) for kind in ("http", "websocket")
        }
        return self._tables

    def match(self, scope: Scope) -> tuple[AnyRoute | None, dict[str, Any] | None, frozenset[str]]:
        """(route, params, allowed): the route to run, or None with the methods the path allows."""
        tables = self._tables or self._build()
        path = route_path(scope) or "/"
        method = scope.get("method")
        allowed: set[str] | None = None
        for _, route in tables[scope["type"]].candidates(path):
            params = route.match(path)
            if params is None:
                continue
            methods = route.methods
            if methods is None or method in methods:
                return route, params, _NONE
            if allowed is None:
                allowed = set(methods)
            else:
                allowed |= methods
        return None, None, frozenset(allowed) if allowed else _NONE

    def dispatch(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """The awaitable that serves `scope`: its route's, or the 404, 405 or close that answers it.

        A plain function returning the route's coroutine, so that routing adds
        no coroutine of its own to every request (`App` calls it). A static
        path whose first candidate is a static route goes straight to it.
        """
        tables = self._tables or self._build()
        path = route_path(scope) if scope.get("root_path") else scope["path"]
        direct = tables[scope["type"]].direct.get(path)
        if direct is not None and (direct[0] is None or scope.get("method") in direct[0]):
            return direct[1].handle(scope, receive, send)
        route, params, allowed = self.match(scope)
        if route is not None:
            if params:
                existing = scope.get("path_params")
                scope["path_params"] = {**existing, **params} if existing else params
            return route.handle(scope, receive, send)
        if scope["type"] == "websocket":
            return send({"type": "websocket.close", "code": 1000, "reason": ""})
        if allowed:
            response = PlainTextResponse(
                "Method Not Allowed", status_code=405, headers={"Allow": ", ".join(sorted(allowed))}
            )
            return response(scope, receive, send)
        return _NOT_FOUND(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.dispatch(scope, receive, send)
