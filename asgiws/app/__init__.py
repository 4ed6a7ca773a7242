"""The asgiws framework: routing, requests and responses, WebSocket handlers, static files.

It speaks only ASGI 3, so an `App` runs unchanged on asgiws or on uvicorn.
"""

from .application import App, Middleware, State
from .broadcast import broadcast
from .datastructures import URL, FormData, Headers, MutableHeaders, QueryParams
from .exceptions import ClientDisconnect, HTTPException
from .patterns import register_type
from .requests import Request
from .responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from .routing import Mount, Route, Router, WebSocketRoute
from .staticfiles import StaticFiles
from .websocket import WebSocket, WebSocketState, websocket_app

__all__ = [
    "App",
    "ClientDisconnect",
    "FileResponse",
    "FormData",
    "HTMLResponse",
    "HTTPException",
    "Headers",
    "JSONResponse",
    "Middleware",
    "Mount",
    "MutableHeaders",
    "PlainTextResponse",
    "QueryParams",
    "RedirectResponse",
    "Request",
    "Response",
    "Route",
    "Router",
    "State",
    "StaticFiles",
    "StreamingResponse",
    "URL",
    "WebSocket",
    "WebSocketRoute",
    "WebSocketState",
    "broadcast",
    "register_type",
    "websocket_app",
]
