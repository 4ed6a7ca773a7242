"""`RedisBroker`: topics on Redis, for every process and machine that uses the same server.

The model is Centrifugo's Redis engine. Per topic, three Redis names:

* ``{prefix}:{<topic>}:meta``, a hash: the topic's `epoch` and its last
  message number `seq`;
* ``{prefix}:{<topic>}:history``, a Stream of the last messages, entry IDs
  ``<seq>-0``, trimmed with ``MAXLEN ~ history_size``;
* ``{prefix}:<db>:<topic>``, the pub/sub channel live messages go through
  (pub/sub is not per database, so the database number is part of it).

One Lua script numbers a message, appends it to the Stream and PUBLISHes
it, atomically: the channel, the Stream and the numbering agree on the
order. The Stream expires `history_age` after the topic's last message,
the hash `numbering_age` after it (longer: a reader coming back to a quiet
topic learns that it missed nothing); a topic whose hash is gone (expired,
or a Redis restarted without its data) gets a new epoch from Redis's
clock, which is how a reader learns that the history it knew is gone.

Live messages come through one pub/sub connection per broker, whatever the
number of topics, read by one task that pings Redis when the connection is
quiet and reconnects with backoff (logging each attempt) when it breaks.
After a reconnection it subscribes again and tells every topic, which then
reads what it missed from the Stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

try:
    from redis.asyncio import Redis
    from redis.asyncio.connection import BlockingConnectionPool, ConnectionPool
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("PubSub on Redis needs redis-py: pip install 'asgiws[redis]'") from exc

from .backoff import backoff
from .broker import Broker, Follower, Page
from .errors import BrokerUnavailable, PubSubError
from .message import Message, Position

__all__ = ["RedisBroker"]

# Connections one process opens for publishing. More publishes at once wait for a free
# one (for at most the broker timeout): redis-py's default pool refuses a publish past
# its limit at once (MaxConnectionsError, "Too many connections"), so a burst of a
# thousand concurrent publishes failed where a queue serves it.
PUBLISH_CONNECTIONS = 16

logger = logging.getLogger("asgiws.pubsub")

# Errors that mean "Redis cannot be reached right now" rather than "Redis refused this".
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)

# KEYS: meta hash, history stream.
# ARGV[1]: "publish" or "read"; ARGV[2], ARGV[3]: history_age and numbering_age in ms (0: none).
# publish: ARGV[4] channel, ARGV[5] payload, ARGV[6] history_size (-1: unbounded) -> {epoch, seq}
# read: ARGV[4] the reader's epoch, ARGV[5] the first stream ID it wants, ARGV[6] count -> {epoch, top, entries}
TOPIC_SCRIPT = """
local meta, stream = KEYS[1], KEYS[2]
local history_age, numbering_age = tonumber(ARGV[2]), tonumber(ARGV[3])
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then
  local now = redis.call('TIME')
  epoch = now[1] .. string.format('%06d', tonumber(now[2]))
  redis.call('HSET', meta, 'epoch', epoch, 'seq', 0)
  redis.call('DEL', stream)
  if numbering_age > 0 then redis.call('PEXPIRE', meta, numbering_age) end
end
if ARGV[1] == 'publish' then
  local size = tonumber(ARGV[6])
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  if size > 0 then
    redis.call('XADD', stream, 'MAXLEN', '~', size, seq, 'm', ARGV[5])
  elseif size < 0 then
    redis.call('XADD', stream, seq, 'm', ARGV[5])
  end
  if size ~= 0 and history_age > 0 then redis.call('PEXPIRE', stream, history_age) end
  if numbering_age > 0 then redis.call('PEXPIRE', meta, numbering_age) end
  redis.call('PUBLISH', ARGV[4], epoch .. ':' .. string.format('%d', seq) .. ':' .. ARGV[5])
  return {epoch, seq}
end
local top = tonumber(redis.call('HGET', meta, 'seq'))
local first = ARGV[5]
if ARGV[4] ~= epoch then first = '-' end
local entries = {}
if tonumber(ARGV[6]) > 0 then
  entries = redis.call('XRANGE', stream, first, '+', 'COUNT', ARGV[6])
end
return {epoch, top, entries}
"""


def encode(data: str | bytes) -> bytes:
    """A message as stored and published: a type byte, then the data."""
    return b"t" + data.encode() if isinstance(data, str) else b"b" + data


def decode(body: bytes) -> str | bytes:
    kind, data = body[:1], body[1:]
    if kind == b"t":
        return data.decode()
    if kind == b"b":
        return data
    raise ValueError(f"unknown message type {kind!r}")


class RedisBroker(Broker):
    """Topics on the Redis server at `url`; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        history_size: int | None,
        history_age: float | None,
        numbering_age: float | None,
        timeout: float,
        prefix: str,
    ) -> None:
        options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "retry": Retry(NoBackoff(), 0),  # a retried publish could publish twice
            "decode_responses": False,
        }
        self._pool = BlockingConnectionPool.from_url(
            url, max_connections=PUBLISH_CONNECTIONS, timeout=timeout, **options
        )
        self._subscriber_pool = ConnectionPool.from_url(url, protocol=2, **options)
        self._redis = Redis(connection_pool=self._pool)
        self._script = self._redis.register_script(TOPIC_SCRIPT)
        settings = self._pool.connection_kwargs
        self.address = settings.get("path") or f"{settings.get('host', 'localhost')}:{settings.get('port', 6379)}"
        self._db = settings.get("db", 0)
        self.timeout = timeout
        self.prefix = prefix
        self._size = -1 if history_size is None else history_size
        self._ages_ms = [0 if age is None else max(1, round(age * 1000)) for age in (history_age, numbering_age)]
        self._followers: dict[bytes, Follower] = {}  # by channel
        self._attaching: dict[bytes, asyncio.Future[None]] = {}
        self._connection: Any = None  # the pub/sub connection, while it is up
        self._send_lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None
        self._unsubscribing: set[asyncio.Task[None]] = set()
        self._answered = False  # the current pub/sub connection has answered at least once

    def _keys(self, topic: str) -> list[str]:
        return [f"{self.prefix}:{{{topic}}}:meta", f"{self.prefix}:{{{topic}}}:history"]

    def _channel(self, topic: str) -> bytes:
        return f"{self.prefix}:{self._db}:{topic}".encode()

    async def _run_script(self, topic: str, *args: Any) -> Any:
        try:
            return await self._script(keys=self._keys(topic), args=args)
        except UNAVAILABLE as exc:
            raise BrokerUnavailable(f"Redis at {self.address} is unavailable: {exc}") from exc
        except RedisError as exc:
            raise PubSubError(f"Redis at {self.address} refused: {exc}") from exc

    async def publish(self, topic: str, data: str | bytes) -> Message:
        epoch, seq = await self._run_script(
            topic, "publish", *self._ages_ms, self._channel(topic), encode(data), self._size
        )
        return Message(topic, data, (int(epoch), int(seq)))

    async def read(self, topic: str, after: Position | None, limit: int) -> Page:
        epoch_wanted, first = ("", "-") if after is None else (str(after[0]), f"{after[1] + 1}-0")
        epoch, top, entries = await self._run_script(topic, "read", *self._ages_ms, epoch_wanted, first, limit)
        epoch = int(epoch)
        messages = []
        for entry_id, fields in entries:
            try:
                seq = int(entry_id.partition(b"-")[0])
                data = decode(fields[fields.index(b"m") + 1])
            except ValueError:
                logger.warning("PubSub: skipped a history entry of %r that no PubSub wrote", topic)
                continue
            messages.append(Message(topic, data, (epoch, seq)))
        return Page.after(after, epoch, int(top), messages, limit)

    async def attach(self, follower: Follower) -> None:
        channel = self._channel(follower.name)
        self._followers[channel] = follower
        attached = self._attaching[channel] = asyncio.get_running_loop().create_future()
        if self._reader is None or self._reader.done():
            self._reader = asyncio.ensure_future(self._read_forever())
        elif self._connection is not None:
            await self._send(self._connection, "SUBSCRIBE", channel)
        try:
            await attached
        finally:
            if self._attaching.get(channel) is attached:
                del self._attaching[channel]

    def detach(self, follower: Follower) -> None:
        channel = self._channel(follower.name)
        if self._followers.get(channel) is not follower:
            return
        del self._followers[channel]
        if self._connection is not None:
            task = asyncio.ensure_future(self._send(self._connection, "UNSUBSCRIBE", channel))
            self._unsubscribing.add(task)
            task.add_done_callback(self._unsubscribing.discard)

    async def _send(self, connection: Any, *command: Any) -> None:
        """Send a command on the pub/sub connection; a broken one is the reader's to repair."""
        async with self._send_lock:
            if connection is not self._connection or not connection.is_connected:
                return
            with contextlib.suppress(*UNAVAILABLE):
                await connection.send_command(*command)

    async def _read_forever(self) -> None:
        """Keep the pub/sub connection up, subscribed to every followed topic, and dispatch what comes."""
        delays = backoff()
        broken = False
        while True:
            connection = self._subscriber_pool.make_connection()  # type: ignore[no-untyped-call]  # unannotated in redis
            try:
                await connection.connect()
            except UNAVAILABLE as exc:
                delay = next(delays)
                logger.warning("PubSub: cannot reach Redis at %s (%s); retrying in %.2f s", self.address, exc, delay)
                broken = True
                await asyncio.sleep(delay)
                continue
            if broken:
                logger.warning("PubSub: connected to Redis at %s again", self.address)
            self._answered = False
            self._connection = connection
            try:
                if self._followers:
                    await self._send(connection, "SUBSCRIBE", *self._followers)
                await self._dispatch(connection)
            except UNAVAILABLE as exc:
                logger.warning("PubSub: lost the connection to Redis at %s (%s); reconnecting", self.address, exc)
            except Exception:
                logger.exception(
                    "PubSub: unexpected error on the connection to Redis at %s; reconnecting", self.address
                )
            finally:
                self._connection = None
                for follower in list(self._followers.values()):
                    follower.interrupted()
                with contextlib.suppress(Exception):
                    await connection.disconnect()
            broken = True
            if self._answered:  # it worked for a while: start the backoff again
                delays = backoff()
            await asyncio.sleep(next(delays))

    async def _dispatch(self, connection: Any) -> None:
        """Read the pub/sub connection until it breaks; ping it when it has been quiet for `timeout`."""
        pinged = False
        while True:
            reply = await connection.read_response(timeout=self.timeout)
            if reply is None:
                if pinged:
                    raise TimeoutError(f"no answer to PING within {self.timeout} s")
                await self._send(connection, "PING")
                pinged = True
                continue
            pinged = False
            self._answered = True
            kind = reply[0]
            if kind == b"message":
                follower = self._followers.get(reply[1])
                if follower is not None:
                    try:
                        message = self._decode(follower.name, reply[2])
                    except ValueError:
                        logger.warning("PubSub: skipped a message on %r that no PubSub published", reply[1])
                        continue
                    follower.receive(message)
            elif kind == b"subscribe":
                follower = self._followers.get(reply[1])
                if follower is not None:
                    attached = self._attaching.get(reply[1])
                    if attached is not None and not attached.done():
                        attached.set_result(None)
                    follower.resumed()

    @staticmethod
    def _decode(topic: str, payload: bytes) -> Message:
        epoch, seq, body = payload.split(b":", 2)
        return Message(topic, decode(body), (int(epoch), int(seq)))

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        for attached in self._attaching.values():
            if not attached.done():
                attached.set_exception(BrokerUnavailable("PubSub closed"))
        self._attaching.clear()
        self._followers.clear()
        await self._pool.disconnect()
        await self._subscriber_pool.disconnect()
