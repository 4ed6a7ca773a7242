"""`MemoryBroker`: the broker inside one process ("memory://"), for tests and single-process apps.

It keeps the same history as the Redis broker (bounded by size, dropped
`history_age` seconds after a topic's last message, its numbering kept
`numbering_age`), so code written against one behaves the same on the other.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import time

from .broker import Broker, Follower, Page
from .message import Message, Position

__all__ = ["MemoryBroker"]


class _History:
    """One topic's numbering and its last messages, each with the monotonic time it ends."""

    __slots__ = ("epoch", "top", "expires", "messages", "messages_expire")

    def __init__(self, epoch: int, size: int | None, expires: float | None) -> None:
        self.epoch = epoch
        self.top = 0
        self.expires = expires
        self.messages: collections.deque[Message] = collections.deque(maxlen=size)
        self.messages_expire = expires


class MemoryBroker(Broker):
    """Messages stay in this process; see the module docstring."""

    def __init__(self, history_size: int | None, history_age: float | None, numbering_age: float | None) -> None:
        self.history_size = history_size
        self.history_age = history_age
        self.numbering_age = numbering_age
        self._histories: dict[str, _History] = {}
        self._followers: dict[str, Follower] = {}
        self._last_epoch = 0
        self._sweep_at = 64  # forget expired histories when there are this many

    def _history(self, topic: str) -> _History:
        now = time.monotonic()
        history = self._histories.get(topic)
        if history is None or (history.expires is not None and now >= history.expires):
            if len(self._histories) >= self._sweep_at:
                self._sweep(now)
            # Epochs from the clock, strictly increasing, like Redis's TIME in the Redis broker.
            self._last_epoch = max(time.time_ns() // 1000, self._last_epoch + 1)
            expires = None if self.numbering_age is None else now + self.numbering_age
            history = self._histories[topic] = _History(self._last_epoch, self.history_size, expires)
        elif history.messages_expire is not None and now >= history.messages_expire:
            history.messages.clear()
        return history

    def _sweep(self, now: float) -> None:
        for topic, history in list(self._histories.items()):
            if history.expires is not None and now >= history.expires:
                del self._histories[topic]
        self._sweep_at = max(64, 2 * len(self._histories))

    async def publish(self, topic: str, data: str | bytes) -> Message:
        history = self._history(topic)
        history.top += 1
        message = Message(topic, data, (history.epoch, history.top))
        if self.history_size != 0:
            history.messages.append(message)
        now = time.monotonic()
        if self.history_age is not None:
            history.messages_expire = now + self.history_age
        if self.numbering_age is not None:
            history.expires = now + self.numbering_age
        follower = self._followers.get(topic)
        if follower is not None:
            follower.receive(message)
        # Let the subscribers run, as a broker across the network would: a loop of
        # publishes that never suspends would leave them to fall behind.
        await asyncio.sleep(0)
        return message

    async def read(self, topic: str, after: Position | None, limit: int) -> Page:
        history = self._history(topic)
        stored = history.messages
        start = 0
        if after is not None and after[0] == history.epoch and stored:
            start = min(max(after[1] + 1 - stored[0].position[1], 0), len(stored))
        messages = list(itertools.islice(stored, start, start + limit)) if after is not None else []
        return Page.after(after, history.epoch, history.top, messages, limit)

    async def attach(self, follower: Follower) -> None:
        self._followers[follower.name] = follower
        follower.resumed()

    def detach(self, follower: Follower) -> None:
        if self._followers.get(follower.name) is follower:
            del self._followers[follower.name]

    async def close(self) -> None:
        self._followers.clear()
        self._histories.clear()
