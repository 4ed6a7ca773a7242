"""`run()`: serve an app until interrupted, in this process or in `workers` processes, as `uvicorn.run`.

It stands above the server and its worker processes (it imports both, and
neither imports it) and, with the command line, is the only caller that
ends the process: a server that cannot start exits with a non-zero status
(1: the app cannot be loaded or the address bound; 3: the lifespan startup
failed), its reason logged.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from .config import Config
from .errors import ServerError, exit_status
from .workers import Multiprocess, bind_socket, serve_process

logger = logging.getLogger("asgiws.error")


def run(app: Any, **kwargs: Any) -> None:
    """Serve `app` (an ASGI app or "module:attr") with Config(**kwargs) until interrupted.

    Raises SystemExit with the exit status when the server cannot start or
    its workers fail; returns once stopped by a signal or `limit_max_requests`.
    """
    status = run_config(Config(app, **kwargs))
    if status:
        sys.exit(status)


def run_config(config: Config) -> int:
    """Serve `config` in one process or `config.workers` processes until it stops; the exit status."""
    if config.workers <= 1:
        return serve_process(config)
    if not isinstance(config.app, str):
        logger.warning("You must pass the application as an import string to use workers.")
        return ServerError.exit_status
    try:
        sock = bind_socket(config)
    except OSError as exc:
        return exit_status(exc)
    return Multiprocess(config, sock).run()


__all__ = ["run", "run_config"]
