"""Logging set-up for the server: the "asgiws.error" and "asgiws.access" loggers.

Like uvicorn: server events and app tracebacks go to "asgiws.error" on
stderr, one line per request to "asgiws.access" on stdout, each prefixed
with the level name ("INFO:     ...").
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any

#: Below DEBUG, for per-message tracing (`--log-level trace`).
TRACE_LOG_LEVEL = 5
logging.addLevelName(TRACE_LOG_LEVEL, "TRACE")

LOG_LEVELS: dict[str, int] = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE_LOG_LEVEL,
}


class LevelPrefixFormatter(logging.Formatter):
    """Prefixes each record with its padded level name, as uvicorn does."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.__dict__["levelprefix"] = (record.levelname + ":").ljust(10)
        return super().formatMessage(record)


DEFAULT_LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "default": {"()": LevelPrefixFormatter, "fmt": "%(levelprefix)s%(message)s"},
        "access": {"()": LevelPrefixFormatter, "fmt": "%(levelprefix)s%(message)s"},
    },
    "handlers": {
        "default": {"formatter": "default", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        "access": {"formatter": "access", "class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
    },
    "loggers": {
        "asgiws": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "asgiws.error": {"level": "INFO"},
        "asgiws.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}


def configure_logging(log_config: dict[str, Any] | str | None, log_level: str | int | None, access_log: bool) -> None:
    """Apply `log_config` ("default", a dictConfig dict, a .ini/.json path, or None), then the level."""
    if log_config == "default":
        logging.config.dictConfig(DEFAULT_LOG_CONFIG)
    elif isinstance(log_config, dict):
        logging.config.dictConfig(log_config)
    elif isinstance(log_config, str):
        if log_config.endswith(".json"):
            import json

            with open(log_config) as file:
                logging.config.dictConfig(json.load(file))
        else:
            logging.config.fileConfig(log_config, disable_existing_loggers=False)
    if log_level is not None:
        level = LOG_LEVELS[log_level.lower()] if isinstance(log_level, str) else log_level
        for name in ("asgiws", "asgiws.error", "asgiws.access"):
            logging.getLogger(name).setLevel(level)
    if not access_log:
        access = logging.getLogger("asgiws.access")
        access.handlers = []
        access.propagate = False
