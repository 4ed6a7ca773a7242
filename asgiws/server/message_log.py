"""`MessageLog`: an ASGI middleware logging every scope and message between the server and the app, at TRACE.

`Config.load()` puts it around the app when the "asgiws.asgi" logger takes
TRACE records (``--log-level trace``), as uvicorn does with its own; when it
does not, the middleware is not there at all, so tracing costs nothing. Each
app call gets a number, so that the lines of concurrent connections can be
told apart. Bodies and WebSocket payloads are shown as their sizes, headers
as their count: a trace shows what flowed, never a password or a cookie.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

from ..types import ASGIApp, Message, Receive, Scope, Send
from .logs import TRACE_LOG_LEVEL

logger = logging.getLogger("asgiws.asgi")

#: Message keys whose content a trace replaces by its size, with the unit it is counted in.
SIZED = {"body": "bytes", "bytes": "bytes", "text": "chars"}


def summary(message: Scope | Message) -> dict[str, Any]:
    """`message` (or a scope) as a trace line shows it: payloads as sizes, headers as a count."""
    shown = dict(message)
    for key, unit in SIZED.items():
        value = shown.get(key)
        if value is not None:
            shown[key] = f"<{len(value)} {unit}>"
    headers = shown.get("headers")
    if headers is not None:
        shown["headers"] = f"<{len(headers)} headers>"
    return shown


def tracing() -> bool:
    """Whether "asgiws.asgi" takes TRACE records now: asked once, when the app is loaded."""
    return logger.isEnabledFor(TRACE_LOG_LEVEL)


class MessageLog:
    """Wraps an ASGI app; logs its scope, every message received and sent, and how the call ended."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.calls = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        call = next(self.calls)
        prefix = f"{client[0]}:{client[1]} - ASGI [{call}]" if client else f"ASGI [{call}]"
        logger.log(TRACE_LOG_LEVEL, "%s started %s", prefix, summary(scope))

        async def traced_receive() -> Message:
            message = await receive()
            logger.log(TRACE_LOG_LEVEL, "%s received %s", prefix, summary(message))
            return message

        async def traced_send(message: Message) -> None:
            logger.log(TRACE_LOG_LEVEL, "%s sent %s", prefix, summary(message))
            await send(message)

        try:
            await self.app(scope, traced_receive, traced_send)
        except BaseException as exc:
            logger.log(TRACE_LOG_LEVEL, "%s raised %s", prefix, type(exc).__name__)
            raise
        logger.log(TRACE_LOG_LEVEL, "%s completed", prefix)


__all__ = ["MessageLog", "summary", "tracing"]
