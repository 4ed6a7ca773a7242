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
from typing import Iterable

from ..protocol.errors import ConnectionClosed
from .websocket import WebSocket

__all__ = ["broadcast"]

logger = logging.getLogger("asgiws.app")


def _finished(task: asyncio.Task[None], websocket: WebSocket) -> None:
    if websocket._broadcast_pending is task:
        websocket._broadcast_pending = None
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None and not isinstance(exc, ConnectionClosed):
        logger.error("broadcast send failed", exc_info=exc)


def broadcast(connections: Iterable[WebSocket], message: str | bytes) -> int:
    """Start sending `message` to every open connection in `connections`.

    Returns how many connections the message was handed to; the others were
    closed or still busy with a previous broadcast (see the module's policy).
    """
    if not isinstance(message, (str, bytes)):
        raise TypeError(f"broadcast messages are str or bytes, not {type(message).__name__}")
    loop = asyncio.get_running_loop()
    sent = 0
    for websocket in connections:
        if not websocket.open:
            continue
        pending = websocket._broadcast_pending
        if pending is not None and not pending.done():
            continue
        task = loop.create_task(websocket.send(message))
        websocket._broadcast_pending = task  # also keeps the task alive
        task.add_done_callback(lambda t, ws=websocket: _finished(t, ws))
        sent += 1
    return sent
