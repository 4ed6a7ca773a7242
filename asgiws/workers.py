"""`AsgiwsWorker`: asgiws as a gunicorn worker class, ``gunicorn -k asgiws.workers.AsgiwsWorker module:app``.

gunicorn binds the sockets, forks the workers, replaces dead ones and
restarts them (SIGHUP); each worker serves HTTP/1.1 and WebSocket with an
asgiws `Server` on gunicorn's sockets. From gunicorn's settings it takes
bind (the sockets), workers, timeout (the heartbeat is sent from the event
loop, so a worker whose loop is blocked is killed like a stuck sync worker),
graceful_timeout (`timeout_graceful_shutdown`), keepalive
(`timeout_keep_alive`), max_requests and its jitter (the worker then exits
and gunicorn starts another; its WebSockets close with 1012), backlog,
forwarded_allow_ips, the TLS files, and its loggers.

Signals are gunicorn's: SIGTERM stops gracefully (WebSockets close with
1001, requests finish within graceful_timeout), as asgiws itself does;
SIGINT and SIGQUIT stop at once; SIGUSR1 reopens the log files.

It imports gunicorn, an optional dependency (``pip install
'asgiws[gunicorn]'``), so it lives above the server layer, which never
imports it.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import ssl
import sys
from collections.abc import Iterator
from typing import Any

from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker

from .server.config import Config
from .server.server import Server
from .server.signals import ShutdownSignals
from .server.workers import serve_process

__all__ = ["AsgiwsWorker"]

#: The signals a worker's server handles while it serves: graceful (SIGTERM) and quick (SIGINT, SIGQUIT).
WORKER_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


class GunicornServer(Server):
    """A `Server` run by gunicorn's worker: gunicorn's meaning of each signal, and its heartbeat."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with ShutdownSignals(self.handle_exit, signals=WORKER_SIGNALS):
            yield

    def handle_exit(self, sig: int, frame: Any = None) -> None:
        """SIGTERM: graceful shutdown; SIGINT and SIGQUIT: quick exit, as gunicorn's workers."""
        self.should_exit = True
        if sig != signal.SIGTERM:
            self.force_exit = True

    def max_requests_reached(self) -> None:
        """gunicorn starts another worker: this one exits as for a restart."""
        self.exit_for_restart()


class AsgiwsWorker(Worker):
    """A gunicorn worker serving the ASGI app with asgiws; see the module docstring."""

    def init_signals(self) -> None:
        # gunicorn's defaults, except those the server handles while it serves (see GunicornServer).
        for sig in self.SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGUSR1, self.handle_usr1)
        signal.siginterrupt(signal.SIGUSR1, False)
        signal.signal(signal.SIGABRT, self.handle_abort)

    def run(self) -> None:
        self._use_gunicorn_loggers()
        config = self.asgiws_config()
        server = GunicornServer(config)
        status = serve_process(config, [listener.sock for listener in self.sockets], server)
        if status:
            sys.exit(status if server.started else Arbiter.WORKER_BOOT_ERROR)

    def asgiws_config(self) -> Config:
        """The `Config` of this worker's server, from gunicorn's settings."""
        cfg = self.cfg
        settings: dict[str, Any] = {
            "log_config": None,
            "timeout_graceful_shutdown": cfg.graceful_timeout,
            "timeout_keep_alive": cfg.keepalive,
            "limit_max_requests": self.max_requests if cfg.max_requests > 0 else None,
            "forwarded_allow_ips": cfg.forwarded_allow_ips,
            "backlog": cfg.backlog,
        }
        if self.timeout > 0:  # gunicorn hands its workers half its timeout: the heartbeat's period
            settings.update(callback_notify=self._notify, timeout_notify=self.timeout)
        if cfg.is_ssl:
            options = cfg.ssl_options
            version = options["ssl_version"]
            settings.update(
                ssl_keyfile=options["keyfile"],
                ssl_certfile=options["certfile"],
                ssl_version=ssl.PROTOCOL_TLS_SERVER if version == ssl.PROTOCOL_TLS else version,
                ssl_cert_reqs=options["cert_reqs"],
                ssl_ca_certs=options["ca_certs"],
                ssl_ciphers=options["ciphers"],
            )
        return Config(self.wsgi, **settings)

    async def _notify(self) -> None:
        self.notify()

    def _use_gunicorn_loggers(self) -> None:
        """asgiws's error and access logs go where gunicorn's go, at its level."""
        for name, source in (("asgiws.error", self.log.error_log), ("asgiws.access", self.log.access_log)):
            logger = logging.getLogger(name)
            logger.handlers = source.handlers
            logger.setLevel(source.level)
            logger.propagate = False
