"""`broadcast()`: one message to many WebSocket connections, never waiting on the slowest.

Policy for slow clients: the call returns at once; each connection has its
own small outbox, drained by its own task, so one client that does not read
never delays the others. A connection may have up to `max_pending` broadcast
messages waiting (default 32: a burst of messages reaches a healthy client
whole and in order); beyond that, further messages are *skipped* for that
connection -- dropped, not queued -- so a stuck client costs a bounded amount
of memory (the waiting messages are shared by all outboxes, not copied).
Closed connections are skipped. Use ``await ws.send()`` when every message
must arrive, and close clients that fall behind if your application needs it.

It is a plain function, like websockets' ``broadcast``: call it from async
code or from a callback, in the thread running the event loop.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import weakref
from collections.abc import Iterable
from typing import Any, Protocol

from ..protocol.errors import ConnectionClosed

__all__ = ["broadcast"]

logger = logging.getLogger("asgiws.app")


class Connection(Protocol):
    """What broadcast needs: the framework's `WebSocket`, or any connection like it."""

    @property
    def open(self) -> bool: ...

    async def send(self, message: str | bytes) -> None: ...


MAX_PENDING = 32


class _Outbox:
    """Broadcast messages waiting for one connection, and the task sending them."""

    __slots__ = ("messages", "task")

    def __init__(self) -> None:
        self.messages: collections.deque[str | bytes] = collections.deque()
        self.task: asyncio.Task[None] | None = None


# One outbox per connection; entries vanish with their connections.
_outboxes: weakref.WeakKeyDictionary[Any, _Outbox] = weakref.WeakKeyDictionary()


async def _drain(connection: Connection, outbox: _Outbox) -> None:
    messages = outbox.messages
    try:
        while messages:
            await connection.send(messages.popleft())
    except ConnectionClosed:
        messages.clear()
    except Exception:
        messages.clear()
        logger.exception("broadcast send failed")


def broadcast(connections: Iterable[Connection], message: str | bytes, max_pending: int = MAX_PENDING) -> int:
    """Send `message` to every open connection in `connections`, without waiting.

    Returns how many connections the message was queued for; the others were
    closed or already had `max_pending` messages waiting (see the policy above).
    """
    if not isinstance(message, (str, bytes)):
        raise TypeError(f"broadcast messages are str or bytes, not {type(message).__name__}")
    loop = asyncio.get_running_loop()
    outboxes = _outboxes
    sent = 0
    for connection in connections:
        if not connection.open:
            continue
        outbox = outboxes.get(connection)
        if outbox is None:
            outbox = outboxes[connection] = _Outbox()
        messages = outbox.messages
        if len(messages) >= max_pending:
            continue
        messages.append(message)
        task = outbox.task
        if task is None or task.done():
            # The task holds the connection, so its outbox lives while sending.
            outbox.task = loop.create_task(_drain(connection, outbox))
        sent += 1
    return sent
