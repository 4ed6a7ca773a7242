"""`TestClient`: an `httpx.AsyncClient` whose requests go to an ASGI app in process, plus WebSockets.

    async with TestClient(app) as client:          # lifespan startup ... shutdown
        response = await client.get("/")            # an httpx.Response
        async with client.websocket_connect("/ws") as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"

Any ASGI app: an `asgiws.App`, Starlette or FastAPI, a raw ASGI 3 callable,
an ASGI 2 one, or a "module:attr" string, resolved as the server resolves
them. The app runs in the test's own event loop, without a socket; HTTP goes
through `ASGITransport` (streaming responses as they are sent, see
transport.py), WebSockets through `InProcessWebSocket` (websocket.py). The
lifespan runs with the server's own `Lifespan`, so the state an app stores
at startup reaches every request's scope (the ASGI "state" extension) as it
does when served.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from ..protocol import limits
from ..server.config import Config
from ..server.errors import StartupFailed
from ..server.lifespan import Lifespan
from ..server.settings import LifespanMode
from .scope import request_scope
from .transport import ASGITransport
from .websocket import InProcessWebSocket

__all__ = ["TestClient"]

#: The WebSocket scheme of each HTTP scheme, and back.
_HTTP_SCHEME = {"ws": "http", "wss": "https"}


class TestClient(httpx.AsyncClient):
    """An httpx.AsyncClient for `app`, in process; ``async with`` it to run the app's lifespan.

    `lifespan`: "auto" (run it if the app supports it), "on" (a failure is
    an error), "off". `raise_server_exceptions`: an exception the app raises
    is raised in the test (True), or answered as the server answers it, a
    500 or a 1011 close, and logged (False). `root_path`, `client`: the
    scope's root_path and client address. `close_timeout`: how long leaving
    a `websocket_connect` block waits for the app to return before
    cancelling it. Every other keyword is httpx.AsyncClient's (headers,
    cookies, follow_redirects, timeout, ...); a request without `async
    with` works too, without the lifespan.
    """

    __test__ = False  # a helper, not a pytest test class, whatever its name

    def __init__(
        self,
        app: Any,
        base_url: str = "http://testserver",
        *,
        lifespan: LifespanMode = "auto",
        raise_server_exceptions: bool = True,
        root_path: str = "",
        client: tuple[str, int] = ("127.0.0.1", 50000),
        close_timeout: float | None = limits.CLOSE_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        self.config = Config(app, lifespan=lifespan, proxy_headers=False, log_config=None)
        self.config.load()
        self.app = self.config.loaded_app
        self.raise_server_exceptions = raise_server_exceptions
        self.close_timeout = close_timeout
        self._transport_for_app = ASGITransport(
            self.app, root_path=root_path, client=client, raise_app_exceptions=raise_server_exceptions
        )
        self._lifespan: Lifespan | None = None
        super().__init__(base_url=base_url, transport=self._transport_for_app, **kwargs)

    @property
    def app_state(self) -> dict[str, Any]:
        """The lifespan state: what the app stored at startup; each request's scope gets a copy."""
        return self._transport_for_app.app_state

    async def __aenter__(self) -> TestClient:
        await super().__aenter__()
        if self.config.lifespan != "off":
            lifespan = Lifespan(self.config)
            await lifespan.startup()
            if lifespan.should_exit:
                await super().__aexit__(None, None, None)
                raise StartupFailed("Application startup failed.")
            self._lifespan = lifespan
            self._transport_for_app.app_state = lifespan.state
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        lifespan, self._lifespan = self._lifespan, None
        try:
            if lifespan is not None:
                await lifespan.shutdown()
        finally:
            await super().__aexit__(*exc_info)

    def websocket_connect(
        self,
        url: str,
        subprotocols: Iterable[str] | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> InProcessWebSocket:
        """A WebSocket to `url` (a path, or a ws://, wss://, http:// URL); ``async with`` or ``await`` it.

        Offers `subprotocols`, sends `headers` with the client's own (and its
        cookies); other keywords (params, cookies) are `build_request`'s.
        Connecting raises `asgiws.InvalidStatus` (`.status`, `.headers`,
        `.body`) when the app refuses the handshake.
        """
        scheme, separator, rest = str(url).partition("://")
        if separator and scheme in _HTTP_SCHEME:
            url = f"{_HTTP_SCHEME[scheme]}://{rest}"
        offered = list(subprotocols or ())
        handshake = [
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-key", base64.b64encode(os.urandom(16)).decode("ascii")),
            ("sec-websocket-version", "13"),
        ]
        if offered:
            handshake.append(("sec-websocket-protocol", ", ".join(offered)))
        if headers is not None:
            handshake += list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        request = self.build_request("GET", url, headers=handshake, **kwargs)
        scope = request_scope(
            "websocket",
            request,
            root_path=self._transport_for_app.root_path,
            client=self._transport_for_app.client,
            app_state=self.app_state,
        )
        scope["subprotocols"] = offered
        return InProcessWebSocket(
            self.app, scope, raise_app_exceptions=self.raise_server_exceptions, close_timeout=self.close_timeout
        )
