"""`LocalFanout`: where one topic's messages go inside this process.

Its members are the `subscribe()` iterators and the connections `join()`
attached. A message reaches it decoded once, and is handed to every
member: iterators get the same `Message` object in their bounded buffers,
connections its data through `broadcast()`, framed once for all of them,
whose slow-client policy applies (a connection that stops taking messages
for longer than the stall timeout is closed with 1008; see
`asgiws.app.broadcast`). This is the one place that sends published
messages to connections.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

from ..app.broadcast import Connection, broadcast
from .errors import HistoryLost
from .message import Message


class Subscriber(Protocol):
    """What the fan-out needs of a local subscription (`Subscription` is one)."""

    def push(self, message: Message) -> None:
        """Take a live message, or note that it must be read from history."""

    def history_lost(self) -> None:
        """The topic's history no longer reaches back to what this subscriber missed."""

    def close(self) -> None:
        """End the subscription: its iterator stops."""

__all__ = ["LocalFanout"]


class LocalFanout:
    """The subscriptions and joined connections of one topic in this process."""

    def __init__(self) -> None:
        self.subscriptions: set[Subscriber] = set()
        self.connections: dict[Connection, int] = {}  # how many join() blocks hold each
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self.subscriptions) + len(self.connections)

    def join(self, connection: Connection) -> None:
        self.connections[connection] = self.connections.get(connection, 0) + 1

    def leave(self, connection: Connection) -> None:
        count = self.connections.pop(connection, 0) - 1
        if count > 0:
            self.connections[connection] = count

    def deliver(self, message: Message) -> None:
        """Hand `message` to every member, never waiting on any of them."""
        for subscription in self.subscriptions:
            subscription.push(message)
        if self.connections:
            broadcast(self.connections, message.data)

    def history_lost(self) -> None:
        """Messages were lost before the next one: subscriptions raise HistoryLost, connections are closed."""
        for subscription in self.subscriptions:
            subscription.history_lost()
        for connection in self.connections:
            if connection.open and hasattr(connection, "close"):
                task = asyncio.ensure_future(self._close(connection))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close(connection: Any) -> None:
        with contextlib.suppress(Exception):
            await connection.close(HistoryLost.close_code, "missed messages")

    def close(self) -> None:
        """End every subscription's iteration (the PubSub is closing); connections are left to their owners."""
        for subscription in self.subscriptions:
            subscription.close()
