"""`Subscription`: the messages of one topic for one `subscribe()` block, as an async iterator.

Policy for slow subscribers: live messages wait in a buffer of at most
`max_pending` messages (shared `Message` objects, not copies). A
subscription whose buffer is full is never waited on and is not fed any
more: it falls behind, and once its reader has taken what was buffered it
reads the rest from the topic's history, page by page, until it has caught
up with the live messages again. So a slow reader costs bounded memory,
holds up nobody, and still gets every message, in order, once -- unless
it fell further behind than the history reaches, in which case the
iterator raises `HistoryLost` at the gap and goes on after it.
"""

from __future__ import annotations

import asyncio
import collections
from typing import TYPE_CHECKING

from .backoff import backoff
from .errors import BrokerUnavailable, HistoryLost
from .message import Message, Position, format_offset

if TYPE_CHECKING:
    from .topic import Topic

__all__ = ["Subscription"]


class Subscription:
    """Async iterator of `Message`; see the module docstring for what happens when it is read slowly."""

    def __init__(self, topic: Topic, position: Position, max_pending: int, behind: bool) -> None:
        self.topic = topic.name
        self._topic = topic
        self._position = position  # of the last message buffered (or given as `since`)
        self._max_pending = max_pending
        self._behind = behind  # reading from history instead of being fed live messages
        self._buffer: collections.deque[Message | HistoryLost] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    def push(self, message: Message) -> None:
        """A live message, in order (called by the topic's fan-out; never waits)."""
        if self._behind or message.position <= self._position:
            return
        if len(self._buffer) >= self._max_pending:
            self._behind = True
            return
        self._buffer.append(message)
        self._position = message.position
        self._wake()

    def history_lost(self) -> None:
        """The messages after the last one pushed are gone; raise HistoryLost at that point."""
        if not self._behind:  # one behind finds out by itself, from the history
            self._buffer.append(HistoryLost(self.topic, format_offset(self._position)))
            self._wake()

    def close(self) -> None:
        """End the iteration once what is buffered has been taken."""
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        delays = backoff()
        while True:
            if self._buffer:
                item = self._buffer.popleft()
                if isinstance(item, HistoryLost):
                    raise item
                return item
            if self._closed:
                raise StopAsyncIteration
            if self._behind:
                try:
                    await self._catch_up()
                except BrokerUnavailable:
                    await asyncio.sleep(next(delays))
                continue
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def _catch_up(self) -> None:
        """Buffer the next page of history; go live again once it reaches what the topic has delivered."""
        page = await self._topic.broker.read(self.topic, self._position, self._max_pending)
        if page.lost:
            self._buffer.append(HistoryLost(self.topic, format_offset(self._position)))
        self._buffer.extend(message for message in page.messages if message.position > self._position)
        self._position = max(self._position, page.position)
        topic_position = self._topic.position
        if page.complete and topic_position is not None and self._position >= topic_position:
            self._behind = False
