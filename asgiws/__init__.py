"""asgiws: a native asyncio WebSocket + HTTP/1.1 ASGI 3 server, and a small framework on it."""

from .app import (
    App,
    FileResponse,
    HTMLResponse,
    HTTPException,
    JSONResponse,
    Middleware,
    Mount,
    PlainTextResponse,
    RedirectResponse,
    Request,
    Response,
    Route,
    StaticFiles,
    StreamingResponse,
    WebSocket,
    WebSocketRoute,
    broadcast,
    websocket_app,
)
from .client import ClientConnection, connect
from .handler_server import WebSocketServer, serve
from .protocol.errors import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    HandshakeError,
    InvalidStatus,
    ProtocolError,
)
from .pubsub import BrokerUnavailable, HistoryLost, PubSub, PubSubError
from .server import Config, Server, run

__version__ = "0.1.0"

__all__ = [
    "App",
    "FileResponse",
    "HTMLResponse",
    "HTTPException",
    "JSONResponse",
    "Middleware",
    "Mount",
    "PlainTextResponse",
    "RedirectResponse",
    "Request",
    "Response",
    "Route",
    "StaticFiles",
    "StreamingResponse",
    "WebSocket",
    "WebSocketRoute",
    "broadcast",
    "websocket_app",
    "Config",
    "Server",
    "run",
    "connect",
    "ClientConnection",
    "serve",
    "WebSocketServer",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "HandshakeError",
    "InvalidStatus",
    "ProtocolError",
    "PubSub",
    "PubSubError",
    "BrokerUnavailable",
    "HistoryLost",
    "__version__",
]
