"""Server processes: `serve_process()` runs one server as this process; `Worker` is one under a supervisor.

`serve_process` is where the server's errors become a log line and an exit
status (1: the app cannot be loaded or the address bound; 3: the lifespan
startup failed, as uvicorn's), for `asgiws.run()` and for each worker.

A `Worker` is the supervisor's handle on a server process started with the
spawn method on the shared listening sockets (`bind_socket`), and a pipe
between the two that carries short messages:

* worker to supervisor: READY once it listens; PONG for each PING;
  RETIRING when it reached `limit_max_requests` and exits, so that the
  supervisor starts its replacement at once;
* supervisor to worker: PING, the health check; RESTART, exit because a
  new worker takes over (open WebSockets close with 1012).

The worker answers from its event loop, not from a thread: a worker whose
loop is blocked (a hung worker) does not answer, and its supervisor kills
it. A worker whose pipe closes (its supervisor is gone) shuts down.
SIGTERM (and SIGINT) stop a worker gracefully, WebSockets closing with 1001.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import time
from multiprocessing.connection import Connection

from .config import Config
from .errors import ServerError, StartupFailed, exit_status
from .listener import bind_unix
from .logs import configure_logging
from .server import Server

logger = logging.getLogger("asgiws.error")

spawn = multiprocessing.get_context("spawn")

# The messages of the pipe between a worker and its supervisor.
READY = b"ready"
PING = b"ping"
PONG = b"pong"
RETIRING = b"retiring"
RESTART = b"restart"


def serve_process(config: Config, sockets: list[socket.socket] | None = None, server: Server | None = None) -> int:
    """Serve `config` (with `server`, a `Server` by default) in this process until asked to exit; the exit status."""
    if server is None:
        server = Server(config)
    try:
        server.run(sockets=sockets)
    except KeyboardInterrupt:
        if not server.started:  # interrupted before listening: a startup that did not happen, as uvicorn says
            return StartupFailed.exit_status
    except (ServerError, OSError) as exc:
        return exit_status(exc)
    return 0


class SupervisedServer(Server):
    """A `Server` that talks to its supervisor over `pipe` (see the module docstring)."""

    def __init__(self, config: Config, pipe: Connection) -> None:
        super().__init__(config)
        self.pipe = pipe

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        asyncio.get_running_loop().add_reader(self.pipe.fileno(), self._read_pipe)
        self._tell(READY)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)  # RESTART or EOF may still come while draining
        asyncio.get_running_loop().remove_reader(self.pipe.fileno())

    def max_requests_reached(self) -> None:
        """Tell the supervisor to start a replacement now, and exit as for a restart."""
        self._tell(RETIRING)
        self.exit_for_restart()

    def _read_pipe(self) -> None:
        try:
            while self.pipe.poll():
                message = self.pipe.recv_bytes()
                if message == PING:
                    self._tell(PONG)
                elif message == RESTART:
                    self.exit_for_restart()
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(self.pipe.fileno())
            if not self.should_exit:
                logger.warning("The supervisor is gone: shutting down.")
                self.should_exit = True

    def _tell(self, message: bytes) -> None:
        with contextlib.suppress(OSError):  # the supervisor is gone; _read_pipe sees it too
            self.pipe.send_bytes(message)


def worker_main(config: Config, sockets: list[socket.socket], pipe: Connection) -> None:
    """A worker process: serve `config` on `sockets` until stopped, then exit with `serve_process`'s status."""
    # Unpickling a Config does not run __post_init__, so logging is set up here.
    configure_logging(config.log_config, config.log_level, config.access_log, config.use_colors)
    raise SystemExit(serve_process(config, sockets, SupervisedServer(config, pipe)))


class Worker:
    """The supervisor's handle on one worker process: start it, talk to it, stop or kill it."""

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        self.pipe, child_end = spawn.Pipe()
        self._child_end = child_end
        self.process = spawn.Process(target=worker_main, args=(config, sockets, child_end), daemon=False)
        #: When it was started, became ready, was last sent a PING (None: no answer pending), last answered one.
        self.started_at = 0.0
        self.ready_at: float | None = None
        self.ping_sent_at: float | None = None
        self.pong_at = 0.0
        #: When it was asked to stop (or announced it would); None while it is meant to serve.
        self.stopping_since: float | None = None
        #: Killed by the supervisor because it stopped answering.
        self.killed_as_hung = False
        self.pipe_open = True

    def __repr__(self) -> str:
        return f"[{self.pid}]"

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def sentinel(self) -> int:
        """A handle that becomes ready when the process ends (for `multiprocessing.connection.wait`)."""
        return self.process.sentinel

    @property
    def exitcode(self) -> int | None:
        """The exit status (negative: killed by that signal); None while it runs."""
        return self.process.exitcode

    @property
    def ready(self) -> bool:
        return self.ready_at is not None

    def start(self) -> None:
        self.process.start()
        self._child_end.close()  # the parent's copy: once the child has gone, reading the pipe sees EOF
        self.started_at = self.pong_at = time.monotonic()

    def receive(self) -> list[bytes]:
        """The messages it sent since last time (none once its pipe has closed)."""
        messages: list[bytes] = []
        try:
            while self.pipe_open and self.pipe.poll():
                messages.append(self.pipe.recv_bytes())
        except (EOFError, OSError):
            self.pipe_open = False
        return messages

    def send(self, message: bytes) -> None:
        if self.pipe_open:
            try:
                self.pipe.send_bytes(message)
            except OSError:
                self.pipe_open = False

    def ping(self) -> None:
        self.ping_sent_at = time.monotonic()
        self.send(PING)

    def answered(self) -> None:
        self.ping_sent_at = None
        self.pong_at = time.monotonic()

    def stop(self, restart: bool = False) -> None:
        """Ask it to shut down gracefully: SIGTERM (WebSockets close with 1001), or RESTART (1012)."""
        if self.stopping_since is None:
            self.stopping_since = time.monotonic()
        if restart:
            self.send(RESTART)
        else:
            self.signal(signal.SIGTERM)

    def signal(self, sig: int) -> None:
        if self.exitcode is None and self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    def close(self) -> None:
        """Reap the ended process and close the pipe."""
        self.process.join()
        self.pipe.close()
        self.pipe_open = False


def bind_socket(config: Config) -> socket.socket:
    """A listening socket for `config` (TCP or unix), to share between worker processes."""
    if config.uds is not None:
        sock = bind_unix(config.uds)
    elif config.fd is not None:
        sock = socket.socket(fileno=config.fd)
    else:
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((config.host, config.port))
    sock.listen(config.backlog)
    sock.set_inheritable(True)
    return sock


__all__ = ["SupervisedServer", "Worker", "bind_socket", "serve_process", "worker_main"]
