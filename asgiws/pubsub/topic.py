"""`Topic`: this process's one subscription to a broker topic, whatever the number of local members.

It follows the broker's live feed and keeps the position of the last
message it delivered. Every live message must be the next one: a duplicate
is dropped, and a gap -- or a live feed that was interrupted and is back --
makes it read what it missed from the topic's history before it takes
live messages again, so its members get every message once, in the order
the broker received it. When the history no longer reaches back that far,
its members are told (`LocalFanout.history_lost`).
"""

from __future__ import annotations

import asyncio
import logging

from .backoff import backoff
from .broker import Broker, Page
from .errors import BrokerUnavailable, PubSubError
from .fanout import LocalFanout
from .message import Message, Position

__all__ = ["Topic"]

logger = logging.getLogger("asgiws.pubsub")

#: Messages per history read while a topic catches up.
PAGE_SIZE = 1000


class Topic:
    """Follows one topic of `broker` for its `fanout`; see the module docstring."""

    def __init__(self, name: str, broker: Broker) -> None:
        self.name = name
        self.broker = broker
        self.fanout = LocalFanout()
        self.members = 0  # subscribe() and join() blocks using it
        self.position: Position | None = None  # of the last message delivered
        self._live = False  # delivering live messages as they come
        self._feed = False  # the broker's live feed is up
        self._newest: Position | None = None  # newest live message seen while not live
        self._ready = asyncio.get_running_loop().create_future()  # set once `position` is known
        self._starting: asyncio.Task[None] | None = None
        self._syncing: asyncio.Task[None] | None = None
        self._sync_again = False

    async def start(self) -> None:
        """Return once live messages are followed and `position` is set (every caller shares one start)."""
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
            # Its error reaches every caller; this keeps asyncio quiet when they all gave up.
            self._starting.add_done_callback(lambda task: task.cancelled() or task.exception())
        try:
            await asyncio.shield(self._starting)
        except asyncio.CancelledError:
            if self._starting.cancelled():  # stop() ended it, not our caller
                raise BrokerUnavailable("the topic was stopped while it started") from None
            raise

    async def _start(self) -> None:
        await self.broker.attach(self)
        await self._ready

    def stop(self) -> None:
        """Stop following: the last member left, or the PubSub is closing."""
        for task in (self._starting, self._syncing):
            if task is not None:
                task.cancel()
        self.broker.detach(self)
        self.fanout.close()

    # The broker's live feed (see broker.Follower).

    def receive(self, message: Message) -> None:
        new = message.position
        if not self._live:
            if self._newest is None or new > self._newest:
                self._newest = new
            return
        position = self.position
        assert position is not None  # live implies a first sync
        if new <= position:
            return  # already delivered from the history
        # The next number, or the first of a new epoch: live on a feed that was up
        # before `position` was read, nothing can have come in between.
        if (new[0] == position[0] and new[1] == position[1] + 1) or (new[0] > position[0] and new[1] == 1):
            self._deliver(message)
        else:
            self._newest = new
            self._sync()

    def interrupted(self) -> None:
        self._feed = False
        self._live = False

    def resumed(self) -> None:
        self._feed = True
        self._sync()

    def _deliver(self, message: Message) -> None:
        self.position = message.position
        self.fanout.deliver(message)

    def _sync(self) -> None:
        """Catch up from the history, then go live; at most one catch-up runs at a time."""
        self._live = False
        if self._syncing is None or self._syncing.done():
            self._syncing = asyncio.ensure_future(self._catch_up())
            self._syncing.add_done_callback(self._caught_up)
        else:
            self._sync_again = True

    def _caught_up(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("PubSub: topic %r stopped catching up", self.name, exc_info=task.exception())

    async def _catch_up(self) -> None:
        delays = backoff()
        while True:
            self._sync_again = False
            try:
                page = await self.broker.read(self.name, self.position, PAGE_SIZE if self.position else 0)
            except PubSubError as exc:
                if not isinstance(exc, BrokerUnavailable):
                    logger.error("PubSub: cannot read the history of topic %r: %s", self.name, exc)
                elif not self._feed:
                    return  # resumed() starts again once the broker is back
                await asyncio.sleep(next(delays))
                continue
            self._take(page)
            if not self._ready.done():
                self._ready.set_result(None)
            if not self._feed:
                return
            newest = self._newest
            if page.complete and not self._sync_again and (newest is None or newest <= page.position):
                self._newest = None
                self._live = True
                return

    def _take(self, page: Page) -> None:
        if page.lost:
            self.fanout.history_lost()
        for message in page.messages:
            if self.position is None or message.position > self.position:
                self._deliver(message)
        if self.position is None or page.position > self.position:
            self.position = page.position
