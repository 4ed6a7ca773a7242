"""`broadcast()`: one message to many WebSocket connections, never waiting on the slowest.

The call returns at once, having sent (or queued) the message for every
open connection. A client is judged by whether it takes what it is sent,
never by how many messages a burst holds: a healthy client gets every
message of any burst, in order, whole.

Slow-client policy. A client is *stalled* when what was sent to it has not
left the server for more than `stall_timeout` seconds (5 by default):

* on asgiws's server, its transport's write buffer has stayed over the
  high-water mark (64 KiB), not having drained below the low-water mark
  since, for longer than that;
* on another ASGI server (or for a connection that is not the framework's
  `WebSocket`), the oldest message queued for it has waited longer than
  that for the server's ``send()`` to take it.

A broadcast that finds a connection stalled does not send it that message
or any later one: it closes it with code 1008 (policy violation, reason
"too slow"), and drops what was still queued for it here. Its client, if
it reads on, gets what was sent before, in order, then the close frame, so
it knows that it missed what followed (with `PubSub`, it can reconnect and
catch up with ``since=offset``); one that never reads is dropped when the
server's close handshake times out (asgiws: ``ws_close_timeout``, 10 s).
A connection without ``close()`` is skipped instead, its queue dropped,
until it takes messages again. Memory is bounded by what is broadcast during
`stall_timeout`. Connections that are not open are skipped. Use
``await ws.send()`` to make the sender wait for each client instead.

How messages travel:

* on asgiws's server, the framework's `WebSocket` offers a fast path (the
  ``asgiws.connection`` scope extension's ``"send_frame"``): the message is
  framed once per broadcast and that frame is written to every transport,
  with no task and nothing allocated per connection (so no garbage
  collection either): the first message of an event loop turn at once, the
  rest of a burst at the end of the turn, in one write per connection. A
  connection that negotiated permessage-deflate compresses the message
  itself, with its own context (compressed frames differ per connection);
* anywhere else, through plain ASGI ``send``: each connection has an
  outbox, drained in order by one task that exists only while the outbox
  holds messages (one task per connection per backlog, never one per
  message); the messages are shared by all outboxes, not copied. A
  ``send()`` of the handler's own may then overtake broadcast messages
  still queued for its connection (on asgiws's server, everything leaves
  in the order it was made).

It is a plain function, like websockets' ``broadcast``: call it from async
code or from a callback, in the thread running the event loop.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import weakref
from collections.abc import Iterable
from typing import Any, Protocol

from ..protocol.errors import ConnectionClosed
from ..protocol.frames import Frame, Opcode, serialize_frame
from .websocket import WebSocket

__all__ = ["broadcast", "STALL_TIMEOUT", "STALLED_CLOSE_CODE"]

logger = logging.getLogger("asgiws.app")

#: Seconds a client may go without taking what it was sent before broadcast() closes it.
STALL_TIMEOUT = 5.0
#: The close code of a stalled client: 1008, policy violation.
STALLED_CLOSE_CODE = 1008
STALLED_CLOSE_REASON = "too slow"


class Connection(Protocol):
    """What broadcast needs: the framework's `WebSocket`, or any connection like it."""

    @property
    def open(self) -> bool: ...

    async def send(self, message: str | bytes) -> None: ...


class _Outbox:
    """Broadcast messages waiting for one connection (ASGI path), and the task sending them."""

    __slots__ = ("messages", "queued_at", "sending_since", "task", "closing")

    def __init__(self) -> None:
        self.messages: collections.deque[str | bytes] = collections.deque()
        self.queued_at: collections.deque[float] = collections.deque()  # loop time each message was queued
        self.sending_since: float | None = None  # when the message being sent now was queued
        self.task: asyncio.Task[None] | None = None
        self.closing = False  # stalled, and being closed: nothing more is queued

    def stalled(self, deadline: float) -> bool:
        """Whether the oldest message not yet taken by ``send()`` was queued before `deadline`."""
        since = self.sending_since
        if since is None:
            queued_at = self.queued_at
            if not queued_at:
                return False
            since = queued_at[0]
        return since < deadline

    def drop(self) -> None:
        """Forget what is queued, and stop sending (the message in flight is abandoned)."""
        self.messages.clear()
        self.queued_at.clear()
        self.sending_since = None
        task = self.task
        if task is not None:
            self.task = None
            task.cancel()


# One outbox per connection on the ASGI path; entries vanish with their connections.
_outboxes: weakref.WeakKeyDictionary[Any, _Outbox] = weakref.WeakKeyDictionary()
# Stalled connections being closed, and the tasks closing them.
_closing: weakref.WeakSet[Any] = weakref.WeakSet()
_close_tasks: set[asyncio.Task[None]] = set()


async def _drain(connection: Connection, outbox: _Outbox) -> None:
    messages = outbox.messages
    queued_at = outbox.queued_at
    try:
        while messages:
            outbox.sending_since = queued_at.popleft()
            await connection.send(messages.popleft())
            outbox.sending_since = None
    except (ConnectionClosed, OSError):
        messages.clear()
        queued_at.clear()
    except Exception:
        messages.clear()
        queued_at.clear()
        logger.exception("broadcast send failed")
    finally:
        if outbox.task is asyncio.current_task():
            outbox.task = None
            outbox.sending_since = None


def _stalled(connection: Any, loop: asyncio.AbstractEventLoop) -> bool:
    """Close a connection that stopped taking messages (see the policy), once; False if it has no close()."""
    if connection in _closing:
        return True
    close = getattr(connection, "close", None)
    if close is None:
        return False
    _closing.add(connection)
    logger.info("broadcast: closing %r, stalled for more than its stall_timeout", connection)
    task = loop.create_task(_close(close))
    _close_tasks.add(task)
    task.add_done_callback(_close_tasks.discard)
    return True


async def _close(close: Any) -> None:
    # Already closed, or the server's own error: nothing is left to do here either way.
    with contextlib.suppress(Exception):
        await close(STALLED_CLOSE_CODE, STALLED_CLOSE_REASON)


def broadcast(
    connections: Iterable[Connection], message: str | bytes, *, stall_timeout: float | None = STALL_TIMEOUT
) -> int:
    """Send `message` (str: text, bytes: binary) to every open connection in `connections`, without waiting.

    Returns how many connections it was sent or queued for: the others
    were not open, or were stalled and are being closed (see the policy
    above). ``stall_timeout=None`` never judges a client stalled: what it
    does not read then grows without bound.
    """
    if isinstance(message, str):
        opcode = Opcode.TEXT
        payload = message.encode()
    elif isinstance(message, (bytes, bytearray, memoryview)):
        opcode = Opcode.BINARY
        payload = message = bytes(message)
    else:
        raise TypeError(f"broadcast messages are str or bytes, not {type(message).__name__}")
    loop = asyncio.get_running_loop()
    now = loop.time()
    deadline = now - stall_timeout if stall_timeout is not None else -math.inf
    frame: bytes | None = None
    sent = 0
    for connection in connections:
        if isinstance(connection, WebSocket):
            extension = connection._connection
            send_frame = extension.get("send_frame") if extension is not None else None
            if send_frame is not None:
                if not connection.open:
                    continue
                paused_since = extension["write_paused_since"]  # type: ignore[index]  # not None: send_frame was found in it
                if paused_since is not None and paused_since < deadline:
                    _stalled(connection, loop)
                    continue
                if frame is None:
                    frame = serialize_frame(Frame(opcode, payload), False)
                if send_frame(message, frame):
                    sent += 1
                continue
        if not connection.open:
            continue
        outbox = _outboxes.get(connection)
        if outbox is None:
            outbox = _outboxes[connection] = _Outbox()
        elif outbox.closing:
            continue
        elif outbox.stalled(deadline):
            outbox.drop()
            outbox.closing = _stalled(connection, loop)
            continue
        outbox.messages.append(message)
        outbox.queued_at.append(now)
        if outbox.task is None:
            # The task holds the connection, so its outbox lives while sending.
            outbox.task = loop.create_task(_drain(connection, outbox))
        sent += 1
    return sent
