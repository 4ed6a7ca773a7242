"""Server processes: `serve_process()` runs one server as this process; `Multiprocess` supervises several.

`serve_process` is where the server's errors become a log line and an exit
status (1: the app cannot be loaded or the address bound; 3: the lifespan
startup failed, as uvicorn's), for `asgiws.run()` and for each worker.

`Multiprocess` runs `workers` server processes on one shared listening
socket: the parent binds it once (`bind_socket`) and starts each worker
with the spawn method, handing it the socket; the kernel spreads accepted
connections over the processes. SIGINT/SIGTERM in the parent are forwarded
to the workers as SIGTERM, which shut down gracefully; the parent waits for
them and exits.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
from typing import Any

from .config import Config
from .errors import ServerError, StartupFailed, exit_status
from .logs import configure_logging
from .metrics import WorkersMetrics
from .server import Server
from .signals import ShutdownSignals

logger = logging.getLogger("asgiws.error")

spawn = multiprocessing.get_context("spawn")

#: How often the supervisor checks whether its workers are still alive, in seconds.
SUPERVISE_INTERVAL = 0.5


def serve_process(config: Config, sockets: list[socket.socket] | None = None) -> int:
    """Serve `config` in this process until asked to exit; the process's exit status, its errors logged."""
    server = Server(config)
    try:
        server.run(sockets=sockets)
    except KeyboardInterrupt:
        if not server.started:  # interrupted before listening: a startup that did not happen, as uvicorn says
            return StartupFailed.exit_status
    except (ServerError, OSError) as exc:
        return exit_status(exc)
    return 0


def _worker(config: Config, sock: socket.socket) -> None:
    # Unpickling a Config does not run __init__, so logging is set up here.
    configure_logging(config.log_config, config.log_level, config.access_log, config.use_colors)
    raise SystemExit(serve_process(config, sockets=[sock]))


class Multiprocess:
    """Supervises `config.workers` worker processes serving `sock`."""

    def __init__(self, config: Config, sock: socket.socket) -> None:
        self.config = config
        self.sock = sock
        self.processes: list[Any] = []
        self.should_exit = threading.Event()

    def run(self) -> int:
        """Start the workers, wait for a signal (or for all of them to end), stop them; the exit status.

        0 when stopped by a signal; when every worker ended by itself, the
        first non-zero exit status among them (e.g. 3: their startup failed).
        """
        logger.info("Started parent process [%d]", os.getpid())
        try:
            metrics = WorkersMetrics(self.config)  # before the first worker: they inherit its environment
        except (ServerError, OSError) as exc:
            self.sock.close()
            return exit_status(exc)
        with ShutdownSignals(lambda sig: self.should_exit.set()):
            try:
                for _ in range(self.config.workers):
                    process = spawn.Process(target=_worker, args=(self.config, self.sock))
                    process.start()
                    self.processes.append(process)
                while not self.should_exit.wait(SUPERVISE_INTERVAL):
                    if not any(process.is_alive() for process in self.processes):
                        break
            finally:
                for process in self.processes:
                    if process.is_alive() and process.pid is not None:
                        os.kill(process.pid, signal.SIGTERM)
                for process in self.processes:
                    process.join()
                    metrics.worker_ended(process.pid)
                metrics.close()
                self.sock.close()
                logger.info("Stopping parent process [%d]", os.getpid())
        if self.should_exit.is_set():
            return 0
        return next((process.exitcode for process in self.processes if process.exitcode), 0)


def bind_socket(config: Config) -> socket.socket:
    """A listening socket for `config` (TCP or unix), to share between worker processes."""
    if config.uds is not None:
        if os.path.exists(config.uds):
            os.remove(config.uds)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(config.uds)
        os.chmod(config.uds, 0o666)
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


__all__ = ["Multiprocess", "bind_socket", "serve_process"]
