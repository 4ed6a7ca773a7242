"""Events produced by `WebSocketConnection.receive_data` (and `receive_eof`).

Small `__slots__` classes rather than dataclasses: one is made per message on
the hot path. They compare by value, for tests.
"""

from __future__ import annotations

__all__ = ["Event", "TextMessage", "BinaryMessage", "Ping", "Pong", "CloseReceived", "ConnectionFailed"]


class Event:
    """Base class of WebSocket connection events."""

    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({args})"


class TextMessage(Event):
    """A complete text message, reassembled and decoded."""

    __slots__ = ("data",)

    def __init__(self, data: str) -> None:
        self.data = data


class BinaryMessage(Event):
    """A complete binary message, reassembled."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class Ping(Event):
    """A ping from the peer; the pong is already queued in `data_to_send()`."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload


class Pong(Event):
    """A pong from the peer."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload


class CloseReceived(Event):
    """The peer closed: its close frame (code 1005 if it had no payload), or 1006 on EOF without one."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str = "") -> None:
        self.code = code
        self.reason = reason


class ConnectionFailed(Event):
    """The peer broke the protocol; our close frame with `code` is in `data_to_send()`.

    `error` is the exception describing what went wrong, for logs only.
    """

    __slots__ = ("code", "error")

    def __init__(self, code: int, error: Exception) -> None:
        self.code = code
        self.error = error
