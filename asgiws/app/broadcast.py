"""`broadcast()`: one message to many WebSocket connections, never waiting on the slowest.

Policy for slow clients: each connection gets its own send task, started at
once, so the call itself returns immediately. A connection whose send from
an earlier broadcast is still in flight (its client is not reading fast
enough) *skips* this message -- it is not queued -- so a slow client costs at
most one pending message of memory and never delays the others. Closed
connections are skipped too. Use ``ws.send()`` yourself when every message
must arrive, and close clients that fall behind if your application needs it.

It is a plain function, like websockets' ``broadcast``: call it from async
code or from a callback, in the thread running the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Iterable, Protocol

from ..protocol.errors import ConnectionClosed

__all__ = ["broadcast"]

logger = logging.getLogger("asgiws.app")


class Connection(Protocol):
    """What broadcast needs: the framework's `WebSocket`, or any connection like it."""

    @property
    def open(self) -> bool: ...

    async def send(self, message: str | bytes) -> None: ...


# The broadcast send in flight per connection; entries vanish with their connections.
_pending: weakref.WeakKeyDictionary[Any, asyncio.Task[None]] = weakref.WeakKeyDictionary()


def _finished(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None and not isinstance(exc, ConnectionClosed):
        logger.error("broadcast send failed", exc_info=exc)


def broadcast(connections: Iterable[Connection], message: str | bytes) -> int:
    """Start sending `message` to every open connection in `connections`.

    Returns how many connections the message was handed to; the others were
    closed or still busy with a previous broadcast (see the module's policy).
    """
    if not isinstance(message, (str, bytes)):
        raise TypeError(f"broadcast messages are str or bytes, not {type(message).__name__}")
    loop = asyncio.get_running_loop()
    pending = _pending
    sent = 0
    for connection in connections:
        if not connection.open:
            continue
        busy = pending.get(connection)
        if busy is not None and not busy.done():
            continue
        task = loop.create_task(connection.send(message))
        task.add_done_callback(_finished)
        pending[connection] = task  # also keeps the task alive until it is done
        sent += 1
    return sent
