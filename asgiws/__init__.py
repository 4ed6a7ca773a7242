"""asgiws: a native asyncio WebSocket + HTTP/1.1 ASGI 3 server, and a small framework on it."""

from .protocol.errors import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    HandshakeError,
    InvalidStatus,
    ProtocolError,
)
from .server import Config, Server, run

__version__ = "0.1.0"

__all__ = [
    "Config",
    "Server",
    "run",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "HandshakeError",
    "InvalidStatus",
    "ProtocolError",
    "__version__",
]
