"""`LiveServer`: a real asgiws `Server` on a free port of 127.0.0.1, in a thread with its own event loop.

    with LiveServer(app) as server:                  # or: async with LiveServer(app) as server:
        httpx.get(server.url + "/")
        ... asgiws.connect(server.ws_url + "/ws") ...

For what an in-process `TestClient` cannot show: real sockets, real clients
(a browser, `websockets`, `curl`), the server's own limits, timeouts, TLS and
logs. The socket is bound in the caller before the thread starts, so the
port is known and free; the thread drives the server's public lifecycle
(`startup()`, `main_loop()`, `shutdown()`), and whatever `startup()` raises
(`AppLoadError`, `StartupFailed`) is raised by `start()` in the caller.
`stop()` sets `should_exit` and waits for the graceful shutdown; an error the
server raised while serving is raised there.

Settings are `Config`'s keywords, with the server's defaults (the lifespan
runs: "auto"), except `log_config`, None by default: the server's log records
then go to the logging module's root as any library's do, where pytest's
`caplog` and its report see them (pass "default" for the server's own console
format). The async form starts and stops the server in a worker thread, so
that the caller's event loop keeps running the clients it holds while the
server waits for them to close.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

from ..server.config import Config
from ..server.server import Server, run_in_new_loop

__all__ = ["LiveServer"]

HOST = "127.0.0.1"

#: Past the graceful shutdown timeout, how long `stop()` still waits for the thread.
STOP_MARGIN = 15.0


class LiveServer:
    """Serve `app` with asgiws on 127.0.0.1 at a free port; a context manager, sync or async."""

    def __init__(self, app: Any, **config: Any) -> None:
        chosen = sorted({"host", "port", "uds", "fd"} & config.keys())
        if chosen:
            raise TypeError(f"LiveServer chooses where it listens itself; remove {', '.join(chosen)}")
        config.setdefault("log_config", None)
        self.config = Config(app, host=HOST, port=0, **config)
        self.server = Server(self.config)
        self.host = HOST
        self.port = 0
        self.thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._started = threading.Event()
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT (https:// with TLS settings)."""
        return f"{self.config.scheme}://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """ws://127.0.0.1:PORT (wss:// with TLS settings)."""
        return f"{'wss' if self.config.is_ssl else 'ws'}://{self.host}:{self.port}"

    def start(self) -> LiveServer:
        """Listen and serve; returns once the server accepts connections, or raises why it cannot."""
        if self.thread is not None:
            raise RuntimeError("this LiveServer is already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, 0))
        self._socket = sock
        self.port = sock.getsockname()[1]
        self.server = Server(self.config)  # a stopped Server does not start again
        self._started.clear()
        self._failure = None
        name = f"asgiws-live-server-{self.port}"
        self.thread = threading.Thread(target=self._run, args=(sock,), name=name, daemon=True)
        self.thread.start()
        self._started.wait()
        if self._failure is not None:
            failure, self._failure = self._failure, None
            self.thread.join()
            self.thread = None
            sock.close()
            raise failure
        return self

    def stop(self) -> None:
        """Shut the server down gracefully and wait for its thread; raises what the server raised."""
        thread = self.thread
        if thread is None:
            return
        self.server.should_exit = True
        graceful = self.config.timeout_graceful_shutdown
        thread.join(None if graceful is None else graceful + STOP_MARGIN)
        if thread.is_alive():
            raise RuntimeError(f"the server on port {self.port} did not stop")
        self.thread = None
        if self._socket is not None:
            self._socket.close()
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _run(self, sock: socket.socket) -> None:
        try:
            run_in_new_loop(lambda: self._serve(sock), self.config.loop)
        except BaseException as exc:  # raised in the caller, by start() or stop()
            self._failure = exc
        finally:
            self._started.set()

    async def _serve(self, sock: socket.socket) -> None:
        server = self.server
        await server.startup(sockets=[sock])
        self._started.set()
        await server.main_loop()
        await server.shutdown(sockets=[sock])

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    async def __aenter__(self) -> LiveServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc_info: Any) -> None:
        await asyncio.to_thread(self.stop)

    def __repr__(self) -> str:
        return f"<LiveServer {self.url} {'running' if self.thread is not None else 'stopped'}>"
