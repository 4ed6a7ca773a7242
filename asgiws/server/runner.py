"""`run()`: serve an app until interrupted, in this process or under a supervisor, as `uvicorn.run`.

One server runs in this process; `workers` > 1 or `reload` run a
`Supervisor` (server/supervisor.py) of worker processes instead. This
module stands above the server, the workers and the supervisor (it imports
them, none imports it) and, with the command line, is the only caller that
ends the process: a server that cannot start exits with a non-zero status
(1: the app cannot be loaded or the address bound; 3: the lifespan startup
failed; a supervisor that gives up on a crash loop: its worker's status),
its reason logged.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from .config import Config
from .errors import ServerError, exit_status
from .reload import ChangeWatcher
from .supervisor import Supervisor
from .workers import bind_socket, serve_process

logger = logging.getLogger("asgiws.error")


def run(app: Any, **kwargs: Any) -> None:
    """Serve `app` (an ASGI app or "module:attr") with Config(**kwargs) until interrupted.

    Raises SystemExit with the exit status when the server cannot start or
    its workers fail, InvalidSetting when `reload` lacks watchfiles; returns
    once stopped by a signal or `limit_max_requests`.
    """
    status = run_config(Config(app, **kwargs))
    if status:
        sys.exit(status)


def run_config(config: Config) -> int:
    """Serve `config` in this process, or supervise its workers, until it stops; the exit status."""
    if config.workers <= 1 and not config.reload:
        return serve_process(config)
    if not isinstance(config.app, str):
        logger.warning("You must pass the application as an import string to use workers or reload.")
        return ServerError.exit_status
    watcher = ChangeWatcher(config) if config.reload else None
    try:
        sock = bind_socket(config)
    except OSError as exc:
        return exit_status(exc)
    return Supervisor(config, [sock], watcher).run()


__all__ = ["run", "run_config"]
