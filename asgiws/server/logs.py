"""Logging set-up for the server: the "asgiws.error" and "asgiws.access" loggers, and their formats.

Like uvicorn: server events and app tracebacks go to "asgiws.error" on
stderr, one line per request to "asgiws.access" on stdout, each prefixed
with the level name ("INFO:     ..."). On a terminal (or with
``use_colors=True``) the level names are coloured, and so are the status
codes and close codes of the access lines; piped to a file or another
program, the lines are plain text.

Below INFO: DEBUG says what happens to each connection (opened, upgraded,
closed and why); TRACE (`TRACE_LOG_LEVEL`, as uvicorn's) also logs every
ASGI message, on "asgiws.asgi" (`server/message_log.py`). Both are decided
once per connection, or once per app load, never per message.
"""

from __future__ import annotations

import copy
import logging
import logging.config
import sys
from typing import Any, Literal, TextIO

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

# -- The access lines ------------------------------------------------------------------------
# Each is a format whose arguments the access formatter may colour; the
# position of its status (or close code) argument is in STATUS_ARGUMENT.

#: client, method, path and query, HTTP version, status.
HTTP_ACCESS = '%s - "%s %s HTTP/%s" %s'
#: client, path and query, "[accepted]" or the status of the refusal.
WEBSOCKET_HANDSHAKE = '%s - "WebSocket %s" %s'
#: client, path and query, close code, seconds since the upgrade request, messages received, messages sent.
WEBSOCKET_CLOSED = '%s - "WebSocket %s" [closed %s] %.3fs, messages in %d, out %d'

#: What the access line of an accepted WebSocket handshake shows in place of a status.
HANDSHAKE_ACCEPTED = "[accepted]"

STATUS_ARGUMENT: dict[str, int] = {HTTP_ACCESS: 4, WEBSOCKET_HANDSHAKE: 2, WEBSOCKET_CLOSED: 2}

# -- Colours ------------------------------------------------------------------------------

_SGR = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "cyan": "36", "bright red": "91"}

LEVEL_COLOURS: dict[int, str] = {
    TRACE_LOG_LEVEL: "blue",
    logging.DEBUG: "cyan",
    logging.INFO: "green",
    logging.WARNING: "yellow",
    logging.ERROR: "red",
    logging.CRITICAL: "bright red",
}


def coloured(text: str, colour: str | None) -> str:
    """`text` between the ANSI escapes of `colour` (a key of `_SGR`); unchanged for None."""
    return text if colour is None else f"\x1b[{_SGR[colour]}m{text}\x1b[0m"


def status_colour(status: object) -> str | None:
    """The colour of an access line's status: by HTTP status class, or by WebSocket close code."""
    if status == HANDSHAKE_ACCEPTED:
        return "green"
    if not isinstance(status, int):
        return None
    if status >= 1000:  # a close code: a normal end, a going-away, or something wrong
        return "green" if status in (1000, 1001) else "yellow" if status >= 3000 else "red"
    return {1: None, 2: "green", 3: "yellow", 4: "red", 5: "bright red"}.get(status // 100)


class LevelPrefixFormatter(logging.Formatter):
    """Prefixes each record with its padded level name, as uvicorn does, coloured when `use_colors`.

    `use_colors` None means: when `stream` ("stderr" or "stdout", where the
    default configuration sends this formatter's records) is a terminal.
    """

    stream: Literal["stderr", "stdout"] = "stderr"

    def __init__(
        self,
        fmt: str | None = None,
        datefmt: str | None = None,
        style: Literal["%", "{", "$"] = "%",
        use_colors: bool | None = None,
    ) -> None:
        super().__init__(fmt, datefmt, style)
        if use_colors is None:
            stream: TextIO | None = getattr(sys, self.stream)
            use_colors = stream is not None and stream.isatty()
        self.use_colors = use_colors

    def formatMessage(self, record: logging.LogRecord) -> str:
        padding = " " * max(0, 9 - len(record.levelname))
        name = record.levelname
        if self.use_colors:
            name = coloured(name, LEVEL_COLOURS.get(record.levelno))
        record.__dict__["levelprefix"] = f"{name}:{padding}"
        return super().formatMessage(record)


class AccessFormatter(LevelPrefixFormatter):
    """The access lines' formatter: also colours their status (or close code) when `use_colors`."""

    stream = "stdout"

    def formatMessage(self, record: logging.LogRecord) -> str:
        position = STATUS_ARGUMENT.get(record.msg) if self.use_colors and isinstance(record.msg, str) else None
        if position is not None and isinstance(record.args, tuple) and len(record.args) > position:
            args = list(record.args)
            args[position] = coloured(str(args[position]), status_colour(args[position]))
            record = copy.copy(record)  # other handlers still see the plain record
            record.args = tuple(args)
            record.message = record.getMessage()
        return super().formatMessage(record)


DEFAULT_LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "default": {"()": LevelPrefixFormatter, "fmt": "%(levelprefix)s%(message)s"},
        "access": {"()": AccessFormatter, "fmt": "%(levelprefix)s%(message)s"},
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


def configure_logging(
    log_config: dict[str, Any] | str | None,
    log_level: str | int | None,
    access_log: bool,
    use_colors: bool | None = None,
) -> None:
    """Apply `log_config` ("default", a dictConfig dict, a .ini/.json path, or None), then the level.

    `use_colors` True or False overrides the terminal detection of the
    "default" and "access" formatters of a dict configuration (asgiws's own
    included), as uvicorn's does.
    """
    if log_config == "default":
        log_config = DEFAULT_LOG_CONFIG
    if isinstance(log_config, dict):
        logging.config.dictConfig(_with_colors(log_config, use_colors))
    elif isinstance(log_config, str):
        if log_config.endswith(".json"):
            import json

            with open(log_config) as file:
                logging.config.dictConfig(_with_colors(json.load(file), use_colors))
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


def _with_colors(config: dict[str, Any], use_colors: bool | None) -> dict[str, Any]:
    """`config`, its "default" and "access" formatters given `use_colors` when it is True or False."""
    formatters = config.get("formatters", {})
    if use_colors is None or not any(name in formatters for name in ("default", "access")):
        return config
    config = copy.deepcopy(config)
    for name in ("default", "access"):
        if name in config["formatters"]:
            config["formatters"][name]["use_colors"] = use_colors
    return config
