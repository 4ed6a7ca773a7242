"""`Server`: listen, run the lifespan, serve connections, shut down gracefully.

The lifecycle, for whoever drives it (`serve()` below, `asgiws.serve()`,
the workers): `await startup(sockets=None)` loads the app, runs the lifespan
startup, starts the metrics (`metrics_port`) and listens, or raises
(`AppLoadError`, `StartupFailed`, `MetricsUnavailable`, the bind
`OSError`); `await main_loop()` runs until `should_exit` is set (by a
signal, `limit_max_requests`, or the caller); `await shutdown()` stops
accepting, asks every connection to `shutdown()` (idle HTTP closes now,
in-flight requests finish, WebSockets close with 1001, or 1012 after
`exit_for_restart()`), waits up to `timeout_graceful_shutdown`, cancels
what is left, then runs the lifespan shutdown. `force_exit` (a second
Ctrl-C) skips the wait. From the end of startup to the end of shutdown,
`callback_notify` is awaited every `timeout_notify` seconds. `await serve()`
is the three in a row, with SIGINT/SIGTERM handled; `run()` is `serve()` in
a new event loop. None of them exits the process: turning the errors into
an exit status and a log line is `asgiws.run()`'s job (server/runner.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import os
import random
import signal
import socket
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

from .config import Config
from .errors import MetricsUnavailable, StartupFailed
from .http import HTTPProtocol
from .lifespan import Lifespan
from .listener import (
    DescriptorShortage,
    Listener,
    bind_tcp,
    bind_unix,
    raise_open_file_limit,
)
from .signals import ShutdownSignals
from .state import SERVICE_RESTART, ServerState

logger = logging.getLogger("asgiws.error")

T = TypeVar("T")

#: How often the main loop wakes up to check `should_exit` and refresh the Date header.
TICK = 0.1
#: Seconds between `exit_for_restart()` closing the listeners and the shutdown: a connection accepted
#: just before has its first request read by then, so that it is answered instead of closed as idle.
RESTART_ACCEPT_GRACE = 0.25


class Server:
    """An ASGI server for `config`; see the module docstring."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.server_state = ServerState()
        self.started = False
        self.should_exit = False
        self.force_exit = False
        self.lifespan: Lifespan | None = None
        #: One `Listener` per listening socket (where uvicorn has its `asyncio.Server`s).
        self.servers: list[Listener] = []
        #: `limit_max_requests` plus this process's draw of `limit_max_requests_jitter` (None: no limit).
        self.max_requests: int | None = None
        if config.limit_max_requests is not None:
            self.max_requests = config.limit_max_requests + random.randint(0, config.limit_max_requests_jitter)
        self._notifier: asyncio.Task[None] | None = None

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve in a new event loop (uvloop when configured and installed) until exit; raises as `serve()`."""
        run_in_new_loop(lambda: self.serve(sockets=sockets), self.config.loop)

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """Start, serve until `should_exit`, shut down; signal handlers only when in the main thread.

        Raises what `startup()` raises, having listened on nothing.
        """
        with self.capture_signals():
            await self.startup(sockets)
            await self.main_loop()
            await self.shutdown(sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Load the app, run the lifespan startup, listen: on `sockets`, or `fd`, `uds`, or `host`:`port`.

        Raises `AppLoadError` when the app cannot be loaded, `StartupFailed`
        when its lifespan startup fails, and, after the lifespan shutdown,
        `MetricsUnavailable` (metrics without prometheus_client) and the
        `OSError` of a socket (or the metrics port) that cannot be bound.
        """
        config = self.config
        config.load()
        self.server_state.set_default_headers(default_headers(config))
        if config.lifespan != "off":
            self.lifespan = Lifespan(config)
            await self.lifespan.startup()
            if self.lifespan.should_exit:
                self.should_exit = True
                raise StartupFailed("Application startup failed.")
        raise_open_file_limit()
        try:
            if config.metrics_port is not None:
                from .metrics import ServerMetrics  # imports prometheus_client: only when asked for

                self.server_state.metrics = ServerMetrics.start(config.metrics_port, config.loaded_app)
            await self._listen(sockets, self.lifespan.state if self.lifespan else {})
        except (OSError, MetricsUnavailable):
            self._close_metrics()
            await self._lifespan_shutdown()
            raise
        self.started = True
        if config.callback_notify is not None:
            self._notifier = asyncio.create_task(self._notify_forever())

    async def _listen(self, sockets: list[socket.socket] | None, app_state: dict[str, Any]) -> None:
        """Accept on `sockets`, or on the socket of `fd`, `uds`, or `host`:`port` (see `listener`)."""
        config = self.config

        def protocol_factory() -> asyncio.Protocol:
            return HTTPProtocol(config, self.server_state, app_state)

        if sockets is not None:
            listening = list(sockets)
        elif config.fd is not None:
            listening = [socket.socket(fileno=config.fd)]
        elif config.uds is not None:
            listening = [bind_unix(config.uds)]
        else:
            listening = await bind_tcp(config.host, config.port)
        shortage = DescriptorShortage(self.server_state.connections)
        for sock in listening:
            listener = Listener(sock, protocol_factory, ssl=config.ssl, backlog=config.backlog, shortage=shortage)
            listener.start()
            self.servers.append(listener)

        if not listening:
            return
        first = listening[0]
        if sockets is None and config.fd is None and config.uds is None:
            self._log_started(f"{config.scheme}://{_url_host(config.host)}:{first.getsockname()[1]}")
        elif sockets is None and config.uds is not None:
            self._log_started(f"unix socket {config.uds}")
        elif sockets is not None and first.family in (socket.AF_INET, socket.AF_INET6):
            host, port = first.getsockname()[:2]
            self._log_started(f"{config.scheme}://{_url_host(host)}:{port}")
        else:
            self._log_started(f"socket {first.getsockname()!r}")

    def _log_started(self, where: str) -> None:
        logger.info("Started server process [%d]", os.getpid())
        logger.info("asgiws running on %s (Press CTRL+C to quit)", where)

    async def main_loop(self) -> None:
        """Tick until asked to exit, refreshing the cached Date header every second and the metrics every tick."""
        state = self.server_state
        limit = self.max_requests
        metrics = state.metrics
        ticks = 0
        while not self.should_exit:
            await asyncio.sleep(TICK)
            ticks += 1
            if metrics is not None:
                metrics.sync()
            if ticks % 10 == 0:
                state.set_default_headers(default_headers(self.config))
            if limit is not None and state.total_requests >= limit:
                logger.warning("Maximum request limit of %d exceeded. Terminating process.", limit)
                self.max_requests_reached()

    def max_requests_reached(self) -> None:
        """`limit_max_requests` was reached: exit. A worker that its supervisor replaces exits as for a restart."""
        self.should_exit = True

    def exit_for_restart(self) -> None:
        """Shut down because another server takes over: WebSockets close with 1012 (service restart).

        New connections go to the other server at once (the listeners close
        now); the shutdown starts RESTART_ACCEPT_GRACE later, so that a
        connection accepted just before, whose request is on its way, is
        answered. Call it from the server's event loop.
        """
        self.server_state.close_code = SERVICE_RESTART
        for server in self.servers:
            server.close()
        asyncio.get_running_loop().call_later(RESTART_ACCEPT_GRACE, setattr, self, "should_exit", True)

    async def _notify_forever(self) -> None:
        """Await `callback_notify` now and every `timeout_notify` seconds (a failure is logged, not fatal)."""
        callback = self.config.callback_notify
        assert callback is not None
        while True:
            try:
                await callback()
            except Exception:
                logger.exception("callback_notify failed")
            await asyncio.sleep(self.config.timeout_notify)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop accepting, close connections gracefully, then run the lifespan shutdown."""
        logger.info("Shutting down")
        for server in self.servers:
            server.close()
        for sock in sockets or ():
            sock.close()
        state = self.server_state
        state.shutting_down = True
        for connection in list(state.connections):
            connection.shutdown()
        await asyncio.sleep(0)

        timeout = self.config.timeout_graceful_shutdown
        try:
            await asyncio.wait_for(self._wait_connections_closed(), timeout)
        except TimeoutError:
            logger.error(
                "Cancel %d running task(s), timeout graceful shutdown exceeded", len(state.tasks)
            )
        for task in list(state.tasks):
            task.cancel()
        for connection in list(state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        if state.tasks:
            await asyncio.wait(list(state.tasks), timeout=1)

        for server in self.servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1)
        if self.config.uds and sockets is None and os.path.exists(self.config.uds):
            with contextlib.suppress(OSError):
                os.remove(self.config.uds)
        if not self.force_exit:
            await self._lifespan_shutdown()
        if self._notifier is not None:
            self._notifier.cancel()
            self._notifier = None
        self._close_metrics()

    def _close_metrics(self) -> None:
        metrics = self.server_state.metrics
        if metrics is not None:
            metrics.close()

    async def _wait_connections_closed(self) -> None:
        state = self.server_state
        if state.connections and not self.force_exit:
            logger.info("Waiting for connections to close. (CTRL+C to force quit)")
        while (state.connections or state.tasks) and not self.force_exit:
            await asyncio.sleep(TICK)

    async def _lifespan_shutdown(self) -> None:
        if self.lifespan is not None:
            await self.lifespan.shutdown()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Handle SIGINT/SIGTERM with `handle_exit` while serving; only possible in the main thread."""
        with ShutdownSignals(self.handle_exit):
            yield

    def handle_exit(self, sig: int, frame: Any = None) -> None:
        """First signal: graceful shutdown; a second SIGINT: force exit."""
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True


def default_headers(config: Config) -> list[tuple[bytes, bytes]]:
    """The Server, Date and configured headers every response starts with.

    A configured header named Server or Date replaces the built-in one, as
    with uvicorn; several of the same name are all sent.
    """
    configured = config.encoded_headers
    names = {name for name, _ in configured}
    headers: list[tuple[bytes, bytes]] = []
    if config.server_header and b"server" not in names:
        headers.append((b"server", b"asgiws"))
    if config.date_header and b"date" not in names:
        headers.append((b"date", email.utils.formatdate(usegmt=True).encode("latin-1")))
    return headers + configured


def run_in_new_loop(main: Callable[[], Coroutine[Any, Any, T]], loop: str) -> T:
    """Run `main()` to completion in a new event loop of kind `loop` ("auto", "asyncio", "uvloop"), then close it.

    `Server.run()` serves this way; so does `asgiws.testing.LiveServer`, in its own thread.
    """
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        return runner.run(main())


def loop_factory(loop: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop constructor for `loop` ("auto", "asyncio", "uvloop")."""
    if loop == "asyncio":
        return asyncio.SelectorEventLoop if sys.platform != "win32" else None
    if loop in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if loop == "uvloop":
                raise
            return None
        return uvloop.new_event_loop
    raise ValueError(f"Unknown loop {loop!r}: expected auto, asyncio or uvloop.")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
