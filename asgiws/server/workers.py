"""`Multiprocess`: run `workers` server processes on one shared listening socket.

The parent binds the socket once and starts each worker with the spawn
method, handing it the socket; the kernel spreads accepted connections over
the processes. SIGINT/SIGTERM in the parent are forwarded to the workers,
which shut down gracefully; the parent waits for them and exits.
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

logger = logging.getLogger("asgiws.error")

spawn = multiprocessing.get_context("spawn")


def _worker(config: Config, sock: socket.socket) -> None:
    from .logs import configure_logging
    from .server import Server

    # Unpickling a Config does not run __init__, so logging is set up here.
    configure_logging(config.log_config, config.log_level, config.access_log)
    Server(config).run(sockets=[sock])


class Multiprocess:
    """Supervises `config.workers` worker processes serving `sock`."""

    def __init__(self, config: Config, sock: socket.socket) -> None:
        self.config = config
        self.sock = sock
        self.processes: list[Any] = []
        self.should_exit = threading.Event()

    def run(self) -> None:
        """Start the workers, wait for a signal (or for all of them to end), stop them."""
        logger.info("Started parent process [%d]", os.getpid())
        previous = {sig: signal.signal(sig, self._handle_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for _ in range(self.config.workers):
                process = spawn.Process(target=_worker, args=(self.config, self.sock))
                process.start()
                self.processes.append(process)
            while not self.should_exit.wait(0.5):
                if not any(process.is_alive() for process in self.processes):
                    break
        finally:
            for process in self.processes:
                if process.is_alive() and process.pid is not None:
                    os.kill(process.pid, signal.SIGTERM)
            for process in self.processes:
                process.join()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.sock.close()
            logger.info("Stopping parent process [%d]", os.getpid())

    def _handle_signal(self, sig: int, frame: Any) -> None:
        self.should_exit.set()
