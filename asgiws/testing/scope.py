"""The ASGI scope of a request made in process: what asgiws's server would hand the app for it.

The scope has the server's shape (spec version 2.4, `path` starting with
`root_path`, a copy of the lifespan state under "state"), so an app tested
in process sees what it sees when served.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..types import Scope

if TYPE_CHECKING:
    import httpx

ASGI = {"version": "3.0", "spec_version": "2.4"}
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def request_scope(
    kind: str,
    request: httpx.Request,
    *,
    root_path: str,
    client: tuple[str, int],
    app_state: dict[str, Any],
) -> Scope:
    """The "http" or "websocket" scope for `request` (for a WebSocket, the handshake's GET)."""
    url = request.url
    scheme = url.scheme
    if kind == "websocket":
        scheme = "wss" if scheme in ("https", "wss") else "ws"
    raw_path = url.raw_path.partition(b"?")[0]
    scope = {
        "type": kind,
        "asgi": dict(ASGI),
        "http_version": "1.1",
        "scheme": scheme,
        "server": (url.host, url.port or DEFAULT_PORTS.get(url.scheme, 80)),
        "client": client,
        "root_path": root_path,
        "path": root_path + url.path,
        "raw_path": root_path.encode() + raw_path,
        "query_string": url.query,
        "headers": [(name.lower(), value) for name, value in request.headers.raw],
        "state": app_state.copy(),
    }
    if kind == "http":
        scope["method"] = request.method
    return scope
