"""Errors raised by the protocol core.

Every error that bad input from the peer can cause is a `ProtocolError`: the
HTTP ones carry the status to answer with, the WebSocket ones the close code
to fail the connection with (RFC 6455 section 7.4.1). Their messages are for
logs; they are never sent to the peer.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """The peer broke the protocol; the connection must not be reused."""


class HTTPError(ProtocolError):
    """An HTTP/1.1 message the server must reject, with the status to send."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class HandshakeError(ProtocolError):
    """A WebSocket opening handshake that cannot succeed.

    On the server side `status` is the HTTP status to answer with; on the
    client side it is the status the server answered with (0 when the
    response itself was malformed).
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ForbiddenOrigin(HandshakeError):
    """A handshake from an Origin the server does not allow (cross-site WebSocket hijacking): 403.

    `origin` is the Origin value received, None when the request had none.
    """

    def __init__(self, origin: bytes | None, message: str | None = None) -> None:
        if message is None:
            message = "no Origin" if origin is None else f"Origin {origin.decode('latin-1')!r} is not allowed"
        super().__init__(message, 403)
        self.origin = origin


class InvalidStatus(HandshakeError):
    """The server answered the opening handshake with something other than 101."""

    def __init__(self, status: int, headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> None:
        super().__init__(f"server rejected WebSocket connection: HTTP {status}", status)
        self.headers = headers or []
        self.body = body


class WebSocketProtocolError(ProtocolError):
    """Frames that break RFC 6455; the connection is failed with `close_code`."""

    close_code = 1002


class InvalidPayloadData(WebSocketProtocolError):
    """A text message that is not UTF-8, or another payload inconsistent with its type."""

    close_code = 1007


class MessageTooBig(WebSocketProtocolError):
    """A frame or message larger than the configured maximum."""

    close_code = 1009


class ConnectionClosed(OSError):
    """Raised when sending on, or receiving from, a closed WebSocket connection.

    It subclasses OSError, as ASGI (spec 2.4) asks of a server's ``send``
    after the peer went away. ``code`` and ``reason`` are the close code and
    reason received from the peer (1006 and "" when none was received).
    """

    def __init__(self, code: int = 1006, reason: str = "") -> None:
        # A single argument: OSError would read two as (errno, strerror).
        super().__init__(f"WebSocket connection closed: code {code}" + (f", reason {reason!r}" if reason else ""))
        self.code = code
        self.reason = reason


class ConnectionClosedOK(ConnectionClosed):
    """The connection closed normally (1000 or 1001, or 1005: no code)."""


class ConnectionClosedError(ConnectionClosed):
    """The connection closed abnormally or with an error code."""


def connection_closed(code: int = 1006, reason: str = "") -> ConnectionClosed:
    """The ConnectionClosed subclass that fits close `code`."""
    if code in (1000, 1001, 1005):
        return ConnectionClosedOK(code, reason)
    return ConnectionClosedError(code, reason)
