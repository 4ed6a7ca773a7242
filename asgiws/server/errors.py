"""Why a server cannot serve: errors `Server.startup()` raises, each carrying its process exit status.

Library code raises these; only `run()` (server/runner.py), the command line
and the workers' supervisor (server/workers.py) end the process, through
`exit_status()`. A bind failure is the `OSError` the event loop raised
(exit status 1, as uvicorn's).
"""

from __future__ import annotations

import logging

logger = logging.getLogger("asgiws.error")


class ServerError(Exception):
    """The server could not start; `exit_status` is the process's exit status for it."""

    exit_status = 1


class AppLoadError(ServerError):
    """The application could not be loaded: the `module:attr` string, the factory, not callable."""

    exit_status = 1


class StartupFailed(ServerError):
    """The application's lifespan startup failed (the lifespan logged why); exit status 3, as uvicorn's."""

    exit_status = 3


class MetricsUnavailable(ServerError):
    """Metrics were asked for (`metrics_port`) but prometheus_client is not installed."""

    exit_status = 1


def exit_status(error: ServerError | OSError) -> int:
    """Log why the server could not start (unless already logged); the process's exit status for it."""
    if isinstance(error, AppLoadError):
        logger.error("Error loading ASGI app. %s", error)
    elif isinstance(error, (OSError, MetricsUnavailable)):
        logger.error("%s", error)
    return error.exit_status if isinstance(error, ServerError) else ServerError.exit_status


__all__ = ["AppLoadError", "MetricsUnavailable", "ServerError", "StartupFailed", "exit_status"]
