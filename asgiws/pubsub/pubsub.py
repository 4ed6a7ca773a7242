"""`PubSub`: publish/subscribe for WebSocket apps, in one process or across many on Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from ..app.broadcast import Connection
from .broker import Broker
from .errors import BrokerUnavailable
from .message import parse_offset
from .subscription import Subscription
from .topic import Topic

__all__ = ["PubSub"]

REDIS_SCHEMES = ("redis", "rediss", "unix")

HISTORY_SIZE = 1000
HISTORY_AGE = 300.0
#: How long a topic's numbering (its epoch and last offset) outlives its last message, at least.
NUMBERING_AGE = 24 * 3600.0
MAX_PENDING = 1024
TIMEOUT = 5.0


class PubSub:
    """Topics that every subscriber of this object -- or of any process on the same Redis -- shares.

    ``PubSub()`` or ``PubSub("memory://")`` keeps messages in this process;
    ``PubSub("redis://host:6379/0")`` (also ``rediss://`` and
    ``unix:///path?db=0``) goes through Redis, with redis-py (the `redis`
    extra). Nothing connects before the first use; `close()` (or ``async
    with``) releases the connections, and the object can be used again
    afterwards.

    Guarantees: the messages of a topic reach every subscriber in the order
    the broker received them, each once. Every topic keeps a history of its
    last `history_size` messages (on Redis a Stream trimmed with ``MAXLEN
    ~``: whole blocks at a time, so it may hold somewhat more), dropped
    `history_age` seconds after the topic's last message. A subscriber whose
    connection to the broker broke, or that fell behind, or that passes an
    `offset` to ``subscribe(since=...)``, gets what it missed from there;
    what is no longer there is reported with `HistoryLost`, never skipped in
    silence. `None` for either bound keeps history without that limit; a
    `history_size` of 0 keeps none. Both bounds are applied as messages are
    published, so give every process of an app the same ones. A topic's
    numbering outlives its history (a day after its last message, or
    `history_age` if longer), so a reader coming back to a quiet topic whose
    history expired is not told that it lost anything.

    `max_pending` bounds each `subscribe()` iterator's buffer (see
    `Subscription` for what a slow reader gets); `timeout` bounds every wait
    for the broker (connecting, publishing, reading history, and the
    keep-alive ping of a quiet connection); `prefix` starts every Redis name.
    A broken connection is tried again after 0.05 s, doubling up to 5 s,
    each attempt logged on the "asgiws.pubsub" logger.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        history_size: int | None = HISTORY_SIZE,
        history_age: float | None = HISTORY_AGE,
        max_pending: int = MAX_PENDING,
        timeout: float = TIMEOUT,
        prefix: str = "asgiws",
    ) -> None:
        self.url = url or "memory://"
        scheme = urlsplit(self.url).scheme
        if scheme not in ("memory", *REDIS_SCHEMES):
            raise ValueError(f"PubSub URL must start with memory:// or redis://, rediss://, unix://: {self.url!r}")
        if history_size is not None and history_size < 0:
            raise ValueError("history_size must be 0 or more, or None")
        if history_age is not None and history_age <= 0:
            raise ValueError("history_age must be positive, or None")
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.history_size = history_size
        self.history_age = history_age
        self.max_pending = max_pending
        self.timeout = timeout
        self.prefix = prefix
        self._numbering_age = None if history_age is None else max(history_age, NUMBERING_AGE)
        self._broker: Broker | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._topics: dict[str, Topic] = {}

    def __repr__(self) -> str:
        return f"PubSub({self.url!r})"

    def _get_broker(self) -> Broker:
        loop = asyncio.get_running_loop()
        if self._broker is not None and self._loop is not loop:
            if self._loop is not None and not self._loop.is_closed():
                raise RuntimeError("this PubSub is in use in another event loop; close() it there first")
            self._broker = None  # its loop is gone, and its connections with it
            self._topics.clear()
        if self._broker is None:
            if self.url.startswith("memory:"):
                from .memory import MemoryBroker

                self._broker = MemoryBroker(self.history_size, self.history_age, self._numbering_age)
            else:
                from .redis_broker import RedisBroker

                self._broker = RedisBroker(
                    self.url,
                    history_size=self.history_size,
                    history_age=self.history_age,
                    numbering_age=self._numbering_age,
                    timeout=self.timeout,
                    prefix=self.prefix,
                )
            self._loop = loop
        return self._broker

    async def publish(self, topic: str, message: str | bytes) -> str:
        """Publish `message` on `topic`; return its offset once the broker has it.

        Raises `BrokerUnavailable` when the broker cannot be reached within
        `timeout` (the message may then have been published or not).
        """
        _check_topic(topic)
        if not isinstance(message, (str, bytes)):
            raise TypeError(f"PubSub messages are str or bytes, not {type(message).__name__}")
        published = await self._get_broker().publish(topic, message)
        return published.offset

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str, since: str | None = None) -> AsyncIterator[Subscription]:
        """The messages of `topic` published from now on, as an async iterator of `Message`.

        With `since` (a `Message.offset`), first those after it still in the
        topic's history, in order, then the live ones, with neither a gap nor
        a duplicate between the two. The iterator raises `HistoryLost` where
        messages were lost, and goes on after it. Raises `BrokerUnavailable`
        when the topic is new to this process and the broker cannot be
        reached within `timeout`.
        """
        _check_topic(topic)
        position = None if since is None else parse_offset(since)
        following = await self._follow(topic)
        start = following.position if position is None else position
        assert start is not None  # set by Topic.start()
        subscription = Subscription(following, start, self.max_pending, behind=position is not None)
        following.fanout.subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            following.fanout.subscriptions.discard(subscription)
            subscription.close()
            self._unfollow(following)

    @contextlib.asynccontextmanager
    async def join(self, topic: str, websocket: Connection) -> AsyncIterator[None]:
        """Send every message published on `topic` from now on to `websocket` until the block ends.

        `websocket` is anything with `open` and ``send()``: the framework's
        `WebSocket`, the `serve()` handler's. Messages go out through
        `broadcast()` and its slow-client policy; if the topic loses messages
        (`HistoryLost`), the WebSocket is closed with 1012 so that its client
        reconnects and reloads. Raises like `subscribe()`.
        """
        _check_topic(topic)
        following = await self._follow(topic)
        following.fanout.join(websocket)
        try:
            yield
        finally:
            following.fanout.leave(websocket)
            self._unfollow(following)

    async def _follow(self, name: str) -> Topic:
        """This process's Topic for `name`, started, with one more member."""
        broker = self._get_broker()
        topic = self._topics.get(name)
        if topic is None:
            topic = self._topics[name] = Topic(name, broker)
        topic.members += 1
        try:
            await asyncio.wait_for(topic.start(), self.timeout)
        except TimeoutError:
            self._unfollow(topic)
            raise BrokerUnavailable(f"no answer from the broker within {self.timeout} s") from None
        except BaseException:
            self._unfollow(topic)
            raise
        return topic

    def _unfollow(self, topic: Topic) -> None:
        topic.members -= 1
        if topic.members <= 0 and self._topics.get(topic.name) is topic:
            del self._topics[topic.name]
            topic.stop()

    async def close(self) -> None:
        """End every subscription's iteration, stop following topics, and disconnect from the broker."""
        topics, self._topics = self._topics, {}
        for topic in topics.values():
            topic.stop()
        broker, self._broker = self._broker, None
        self._loop = None
        if broker is not None:
            await broker.close()

    async def __aenter__(self) -> PubSub:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()


def _check_topic(topic: str) -> None:
    if not isinstance(topic, str) or not topic:
        raise TypeError(f"a topic is a non-empty str, not {topic!r}")
