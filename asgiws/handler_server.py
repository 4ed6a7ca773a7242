"""`serve()`: handlers as the `websockets` library's getting-started guide writes them, on `asgiws.Server`.

``async def hello(websocket, path)`` runs once per connection.

The handler becomes the framework's WebSocket app for every path
(`websocket_app`), served by the ASGI server: this module composes the two,
so it lives above both. `serve()` returns a `WebSocketServer`, which is

* awaitable: ``server = await serve(hello, "localhost", 8765)`` starts
  listening and returns the running server (`close()`, `wait_closed()`,
  `sockets`);
* an async context manager: ``async with serve(...)`` closes it on exit;
* usable the guide's way: ``loop.run_until_complete(serve(...));
  loop.run_forever()``.

Ctrl-C (SIGINT) and SIGTERM, while it serves in the main thread, close the
server gracefully (WebSockets close with 1001) and then end what is waiting
on it without a traceback: the body of ``async with serve(...)`` is
cancelled and the block exits normally, `wait_closed()` returns, and a
loop running forever is stopped. A second Ctrl-C forces the shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from typing import Any

from .app.websocket import websocket_app
from .server.config import Config
from .server.server import Server
from .server.signals import ShutdownSignals

__all__ = ["serve", "WebSocketServer"]


class WebSocketServer:
    """A server running one WebSocket handler for every path; see the module docstring."""

    def __init__(
        self, handler: Callable[..., Awaitable[Any]], host: str = "localhost", port: int = 8765, **settings: Any
    ) -> None:
        settings.setdefault("lifespan", "off")
        self.handler = handler
        self.config = Config(websocket_app(handler), host=host, port=port, **settings)
        #: The underlying ASGI server.
        self.server = Server(self.config)
        self._started = False
        self._serving: asyncio.Task[None] | None = None
        self._closed: asyncio.Future[None] | None = None
        self._owner: asyncio.Task[Any] | None = None  # the task inside `async with`, cancelled on Ctrl-C
        self._starter: asyncio.Task[Any] | None = None  # the task that awaited start()
        self._interrupted = False
        self._waiters = 0  # coroutines in wait_closed()
        self._signals: ShutdownSignals | None = None

    @property
    def sockets(self) -> list[Any]:
        """The listening sockets."""
        return [sock for listener in self.server.servers for sock in listener.sockets]

    async def start(self) -> WebSocketServer:
        """Start listening; raises as `Server.startup()` does (OSError when the address cannot be bound)."""
        if self._started:
            return self
        self._started = True
        loop = asyncio.get_running_loop()
        self._starter = asyncio.current_task()
        await self.server.startup()
        self._closed = loop.create_future()
        self._serving = loop.create_task(self._serve())
        self._signals = ShutdownSignals(self._interrupt, loop)
        self._signals.install()
        return self

    async def _serve(self) -> None:
        try:
            await self.server.main_loop()
            await self.server.shutdown()
        finally:
            if self._signals is not None:
                self._signals.restore()
            assert self._closed is not None
            if not self._closed.done():
                self._closed.set_result(None)

    def close(self) -> None:
        """Stop accepting and close every connection (1001), in the background; see `wait_closed()`."""
        self.server.should_exit = True

    async def wait_closed(self) -> None:
        """Return once the server is closed and its handlers are done."""
        if self._closed is None:
            return
        self._waiters += 1
        try:
            await asyncio.shield(self._closed)
        finally:
            self._waiters -= 1

    async def serve_forever(self) -> None:
        """Serve until the server is closed (by `close()`, Ctrl-C or SIGTERM)."""
        await self.start()
        await self.wait_closed()

    # -- awaitable and async context manager -----------------------------------

    def __await__(self) -> Generator[Any, None, WebSocketServer]:
        return self.start().__await__()

    async def __aenter__(self) -> WebSocketServer:
        await self.start()
        self._owner = asyncio.current_task()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        owner, self._owner = self._owner, None
        self.close()
        await self.wait_closed()
        if exc_type is asyncio.CancelledError and self._interrupted and owner is not None:
            # Our Ctrl-C cancelled the block: the block is over, not the program.
            return owner.uncancel() == 0
        return False

    # -- signals --------------------------------------------------------------

    def _interrupt(self, sig: int) -> None:
        """SIGINT/SIGTERM while serving: close gracefully, then release whoever waits on us."""
        server = self.server
        first = not server.should_exit
        server.handle_exit(sig)  # the first signal closes (see close()); a second Ctrl-C forces
        if not first:
            return
        self._interrupted = True
        owner = self._owner
        if owner is not None and not owner.done():
            owner.cancel()
        elif self._waiters:
            pass  # wait_closed() returns once closed
        elif self._starter is not None and not self._starter.done():
            # The task that started us waits on something else: let the
            # signal do what it did before we were started (asyncio.run's
            # handler cancels the main task and raises KeyboardInterrupt).
            previous = self._signals.previous.get(sig) if self._signals is not None else None
            if callable(previous):
                previous(sig, None)
            else:
                self._starter.cancel()
        else:
            # Nobody awaits us: the guide's `loop.run_forever()`; stop it once closed.
            assert self._closed is not None
            self._closed.add_done_callback(lambda _: asyncio.get_running_loop().stop())


def serve(
    handler: Callable[..., Awaitable[Any]], host: str = "localhost", port: int = 8765, **settings: Any
) -> WebSocketServer:
    """Serve ``handler(websocket)`` or ``handler(websocket, path)`` for every path on `host`:`port`.

    `settings` are `asgiws.Config` keywords (``ws_max_size``,
    ``ws_ping_interval``, ``ssl_certfile``, ``log_level`` ...); the lifespan
    protocol is off. `path` is the request target as the client sent it,
    query string included. Await the result, or use it with ``async with``.
    """
    return WebSocketServer(handler, host, port, **settings)
