"""`ServerState`: what the server and all its connection protocols share."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .metrics import ServerMetrics

#: The close code of WebSockets when the server goes away (SIGINT/SIGTERM, `should_exit`).
GOING_AWAY = 1001
#: The close code of WebSockets when the server restarts (`--reload`, SIGHUP, a recycled worker):
#: the client may reconnect at once.
SERVICE_RESTART = 1012


class Connection(Protocol):
    """What the server needs of every connection protocol (HTTP and WebSocket)."""

    def shutdown(self) -> None:
        """Start a graceful close: finish in-flight work, then close (WebSocket: `ServerState.close_code`)."""


class ServerState:
    """Live connections and app tasks, for limits and graceful shutdown.

    `connections` holds every open protocol object (each adds itself in
    connection_made and removes itself in connection_lost); `tasks` holds the
    running ASGI app tasks; `total_requests` counts HTTP requests and
    WebSocket handshakes, for `limit_max_requests`; `default_headers` are the
    Server/Date/configured headers every response starts with, refreshed by
    the server once a second so no request formats a date; `close_code` is
    what WebSockets close with at shutdown (GOING_AWAY, or SERVICE_RESTART
    when the server is being replaced); `metrics` the server's Prometheus
    figures, None when metrics are off (the default).
    """

    __slots__ = (
        "connections",
        "tasks",
        "total_requests",
        "default_headers",
        "default_header_lines",
        "shutting_down",
        "close_code",
        "metrics",
    )

    def __init__(self) -> None:
        self.connections: set[Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.total_requests = 0
        self.default_headers: list[tuple[bytes, bytes]] = []
        self.default_header_lines = b""
        #: Set when graceful shutdown starts: late connections answer one request, then close.
        self.shutting_down = False
        self.close_code = GOING_AWAY
        self.metrics: ServerMetrics | None = None

    def set_default_headers(self, headers: list[tuple[bytes, bytes]]) -> None:
        """Replace the default headers, as pairs and as ready-to-send header lines."""
        self.default_headers = headers
        self.default_header_lines = b"".join(b"%s: %s\r\n" % (name, value) for name, value in headers)
