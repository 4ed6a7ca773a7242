"""`App`: the framework's ASGI 3 application.

Declarative underneath -- ``App(routes=[Route(...), WebSocketRoute(...),
Mount(...)])`` -- with decorators as sugar that append to the same list.
It answers lifespan events (running the startup and shutdown hooks) and is
wrapped by its ASGI middleware, outermost first, built on the first call.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any

from ..types import ASGIApp, Receive, Scope, Send
from .routing import AnyRoute, Mount, Route, Router, WebSocketRoute
from .staticfiles import StaticFiles

__all__ = ["App", "Middleware", "State"]

logger = logging.getLogger("asgiws.app")

#: A startup or shutdown hook: called with no argument, or with the lifespan state
#: when its signature takes one (`_call_hook` asks), so its type cannot say which.
Hook = Callable[..., Any]

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")


class Middleware:
    """An ASGI middleware class and its options: ``cls(app, *args, **kwargs)`` wraps `app`."""

    def __init__(self, cls: Callable[..., ASGIApp], *args: Any, **kwargs: Any) -> None:
        self.cls = cls
        self.args = args
        self.kwargs = kwargs

    def __iter__(self) -> Iterator[Any]:
        return iter((self.cls, self.args, self.kwargs))


class State:
    """Attribute bag for values shared by the whole app (``app.state.db = ...``)."""

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        self.__dict__.update(values or {})


async def _call_hook(hook: Hook, state: dict[str, Any]) -> None:
    """Run a startup/shutdown hook; one taking an argument gets the lifespan state."""
    try:
        inspect.signature(hook).bind(state)
    except TypeError:
        result = hook()
    except ValueError:  # no signature to inspect (some builtins)
        result = hook()
    else:
        result = hook(state)
    if inspect.isawaitable(result):
        await result


class App:
    """An ASGI 3 app routing HTTP and WebSocket requests to handlers.

    ```python
    app = App()

    @app.websocket("/echo")
    async def echo(websocket):
        async for message in websocket:
            await websocket.send(message)
    ```
    """

    def __init__(
        self,
        routes: Iterable[AnyRoute] | None = None,
        middleware: Sequence[Middleware | tuple[Any, ...] | type] | None = None,
        on_startup: Iterable[Hook] | None = None,
        on_shutdown: Iterable[Hook] | None = None,
    ) -> None:
        self.router = Router(routes)
        self.user_middleware: list[Middleware] = [self._as_middleware(m) for m in (middleware or [])]
        self.startup_handlers: list[Hook] = list(on_startup or [])
        self.shutdown_handlers: list[Hook] = list(on_shutdown or [])
        self.state = State()
        self._stack: ASGIApp | None = None

    @property
    def routes(self) -> list[AnyRoute]:
        """The route table, in the order routes are tried; the decorators append to it."""
        return self.router.routes

    # -- ASGI ----------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stack = self._stack or self._build_stack()
        await stack(scope, receive, send)

    def _build_stack(self) -> ASGIApp:
        app: ASGIApp = self._dispatch
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        self._stack = app
        return app

    def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """The innermost app: the awaitable serving `scope` (a plain function, so no coroutine of its own)."""
        if scope["type"] == "lifespan":
            return self._lifespan(scope, receive, send)
        scope["app"] = self
        return self.router.dispatch(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI lifespan: hooks run in order; a failing one fails startup (its error is logged).

        Hooks taking one argument get the lifespan state dict: what they put
        in it, the server copies into every request's ``request.state``
        (ASGI "state" extension; a private dict on servers without it).
        """
        state = scope.get("state")
        if state is None:
            state = {}
        started = False
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for hook in self.startup_handlers:
                        await _call_hook(hook, state)
                except BaseException as exc:
                    logger.exception("application startup failed")
                    await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__} during startup"})
                    if not isinstance(exc, Exception):
                        raise
                    return
                started = True
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    if started:
                        for hook in self.shutdown_handlers:
                            await _call_hook(hook, state)
                except Exception as exc:
                    logger.exception("application shutdown failed")
                    await send({"type": "lifespan.shutdown.failed", "message": f"{type(exc).__name__} during shutdown"})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- middleware and hooks ------------------------------------------------

    @staticmethod
    def _as_middleware(entry: Middleware | tuple[Any, ...] | type) -> Middleware:
        if isinstance(entry, Middleware):
            return entry
        if isinstance(entry, tuple):
            cls, *rest = entry
            kwargs = rest[-1] if rest and isinstance(rest[-1], dict) else {}
            return Middleware(cls, **kwargs)
        return Middleware(entry)

    def add_middleware(self, cls: Callable[..., ASGIApp], *args: Any, **kwargs: Any) -> None:
        """Wrap the app in ``cls(app, *args, **kwargs)``; the last added is the outermost."""
        if self._stack is not None:
            raise RuntimeError("cannot add middleware after the application has started")
        self.user_middleware.insert(0, Middleware(cls, *args, **kwargs))

    def add_event_handler(self, event: str, handler: Hook) -> None:
        """Run `handler` (sync or async; no argument, or the lifespan state) on "startup" or "shutdown"."""
        if event == "startup":
            self.startup_handlers.append(handler)
        elif event == "shutdown":
            self.shutdown_handlers.append(handler)
        else:
            raise ValueError(f"unknown event {event!r}: use 'startup' or 'shutdown'")

    def on_startup(self, handler: Hook) -> Hook:
        """Decorator: run `handler` at startup."""
        self.add_event_handler("startup", handler)
        return handler

    def on_shutdown(self, handler: Hook) -> Hook:
        """Decorator: run `handler` at shutdown."""
        self.add_event_handler("shutdown", handler)
        return handler

    # -- routes --------------------------------------------------------------

    def add_route(self, route: AnyRoute) -> None:
        """Append a `Route`, `WebSocketRoute` or `Mount` to the table."""
        self.router.add(route)

    def route(
        self, path: str, methods: Iterable[str] | None = None, name: str | None = None
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: `handler(request)` serves `methods` (default GET, HEAD) on `path`."""

        def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
            self.add_route(Route(path, handler, methods=methods, name=name))
            return handler

        return decorator

    def get(self, path: str, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: `handler(request)` serves GET (and HEAD) on `path`."""
        return self.route(path, ["GET"], name)

    def post(self, path: str, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: `handler(request)` serves POST on `path`."""
        return self.route(path, ["POST"], name)

    def put(self, path: str, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: `handler(request)` serves PUT on `path`."""
        return self.route(path, ["PUT"], name)

    def patch(self, path: str, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: `handler(request)` serves PATCH on `path`."""
        return self.route(path, ["PATCH"], name)

    def delete(self, path: str, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: `handler(request)` serves DELETE on `path`."""
        return self.route(path, ["DELETE"], name)

    def options(self, path: str, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: `handler(request)` serves OPTIONS on `path`."""
        return self.route(path, ["OPTIONS"], name)

    def websocket(
        self,
        path: str,
        name: str | None = None,
        accept: bool = True,
        subprotocols: Sequence[str] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: `handler(websocket)` or `handler(websocket, path)` serves WebSockets on `path`.

        The connection is accepted before the handler runs (choosing the first
        of `subprotocols` the client offered); pass ``accept=False`` to call
        ``websocket.accept(...)`` or ``websocket.close(...)`` yourself.
        """

        def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
            self.add_route(WebSocketRoute(path, handler, name=name, accept=accept, subprotocols=subprotocols))
            return handler

        return decorator

    def mount(self, path: str, app: ASGIApp, name: str | None = None) -> None:
        """Serve the ASGI `app` under the literal prefix `path` (root_path extended)."""
        self.add_route(Mount(path, app, name=name))

    def static(self, path: str, directory: str | os.PathLike[str], name: str | None = None) -> None:
        """Serve the files of `directory` under `path`."""
        self.mount(path, StaticFiles(directory), name=name)
