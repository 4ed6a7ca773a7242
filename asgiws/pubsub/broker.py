"""What a broker backend gives `PubSub`: publish, read history, and a live feed per topic.

Two backends implement it: `MemoryBroker` (one process) and `RedisBroker`.
A backend is kept simple on purpose: it numbers and stores messages, reads
them back after a position, and feeds live messages to a `Follower` (a
`Topic`), telling it when its live feed was interrupted and when it is back.
Ordering, gaps, recovery and the local fan-out live above it, once, in
`Topic` and `Subscription`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Protocol

from .message import Message, Position

__all__ = ["Broker", "Follower", "Page"]


class Follower(Protocol):
    """The receiving end of one topic's live feed in this process."""

    name: str

    def receive(self, message: Message) -> None:
        """A live message, in the order the broker received it."""

    def interrupted(self) -> None:
        """The live feed stopped: messages may be missed until `resumed()`."""

    def resumed(self) -> None:
        """The live feed is back: every message published from now on will be received."""


@dataclass(slots=True)
class Page:
    """A read of a topic's history after a position.

    `messages` are the next ones, oldest first; `lost` says that some between
    the position and the first of them are gone; `complete` that the read
    reached the newest message; `position` is where the reader stands after
    taking `messages`.
    """

    messages: list[Message]
    position: Position
    lost: bool
    complete: bool

    @classmethod
    def after(cls, position: Position | None, epoch: int, top: int, messages: list[Message], limit: int) -> Page:
        """The page a backend read: `messages` follow `position` in `epoch`, whose newest is number `top`.

        Backends return the messages after `position` when it is of the
        current epoch and from the start of the history otherwise.
        """
        complete = len(messages) < limit or not messages
        if position is None:  # a new reader: it starts at the newest message
            return cls([], (epoch, top), False, True)
        if position[0] != epoch:  # the history was started again: what followed `position` is unknowable
            lost = True
        elif messages:
            lost = messages[0].position[1] > position[1] + 1
        else:
            lost = top > position[1]
        if messages:
            return cls(messages, messages[-1].position, lost, complete)
        return cls(messages, (epoch, top) if lost else max(position, (epoch, top)), lost, complete)


class Broker(abc.ABC):
    """A message broker as `PubSub` uses it."""

    @abc.abstractmethod
    async def publish(self, topic: str, data: str | bytes) -> Message:
        """Number `data`, store it in the topic's history and feed it live; return once the broker has it."""

    @abc.abstractmethod
    async def read(self, topic: str, after: Position | None, limit: int) -> Page:
        """At most `limit` messages of the topic's history after `after` (see `Page.after`)."""

    @abc.abstractmethod
    async def attach(self, follower: Follower) -> None:
        """Feed `follower` the topic's live messages; return once its feed is set up (`resumed()` was called)."""

    @abc.abstractmethod
    def detach(self, follower: Follower) -> None:
        """Stop feeding `follower`."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the broker's connections."""
