"""A real Redis that breaks: connections killed, the server killed and started again.

To make "published while this process was away" certain rather than
likely, a test does the breaking and the publishing *synchronously* inside
its event loop: the subscription cannot notice anything, let alone
reconnect, until the test awaits again. The messages come from another
thread with its own event loop and PubSub -- another process, as far as
Redis can tell.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

import asgiws
from asgiws.pubsub import Subscription
from tests.app.wire import captured_log, run
from tests.pubsub.redis_server import RedisServer


def publish_elsewhere(url: str, topic: str, messages: list[str], **settings: int) -> list[str]:
    """Publish `messages` from another thread and event loop; return their offsets."""
    offsets: list[str] = []

    async def publish() -> None:
        async with asgiws.PubSub(url, **settings) as pubsub:
            for message in messages:
                offsets.append(await pubsub.publish(topic, message))

    thread = threading.Thread(target=asyncio.run, args=(publish(),))
    thread.start()
    thread.join(10)
    assert len(offsets) == len(messages)
    return offsets


async def data(messages: Subscription, count: int) -> list[str | bytes]:
    return [(await messages.__anext__()).data for _ in range(count)]


async def logged(records: list, text: str) -> None:
    while not any(text in record.getMessage() for record in records):
        await asyncio.sleep(0.01)


def test_a_dropped_connection_resumes_from_the_last_offset_delivered(redis_server: RedisServer) -> None:
    async def main() -> None:
        with captured_log("asgiws.pubsub") as records:
            async with asgiws.PubSub(redis_server.url) as pubsub, pubsub.subscribe("t") as messages:
                await pubsub.publish("t", "0")
                assert await data(messages, 1) == ["0"]
                assert redis_server.client().client_kill_filter(_type="pubsub") == 1
                publish_elsewhere(redis_server.url, "t", [str(i) for i in range(1, 50)])
                # All 49 were published while the connection was gone: they come from the history.
                assert await data(messages, 49) == [str(i) for i in range(1, 50)]
                await pubsub.publish("t", "50")
                assert await data(messages, 1) == ["50"]
            await logged(records, "lost the connection to Redis")

    run(main())


def test_redis_killed_and_restarted_with_its_data(redis_server: RedisServer) -> None:
    async def main() -> None:
        with captured_log("asgiws.pubsub") as records:
            async with asgiws.PubSub(redis_server.url, timeout=1) as pubsub, pubsub.subscribe("t") as messages:
                await pubsub.publish("t", "0")
                assert await data(messages, 1) == ["0"]
                redis_server.save()
                redis_server.kill()
                with pytest.raises(asgiws.BrokerUnavailable):
                    await pubsub.publish("t", "never published")
                await logged(records, "cannot reach Redis")  # the subscription keeps trying, with backoff
                redis_server.start()
                publish_elsewhere(redis_server.url, "t", [str(i) for i in range(1, 50)])
                assert await data(messages, 49) == [str(i) for i in range(1, 50)]
                await pubsub.publish("t", "50")
                assert await data(messages, 1) == ["50"]
            await logged(records, "connected to Redis at")

    run(main())


def test_redis_restarted_without_its_data_is_reported_as_history_lost(redis_server: RedisServer) -> None:
    async def main() -> None:
        async with asgiws.PubSub(redis_server.url) as pubsub, pubsub.subscribe("t") as messages:
            last = await pubsub.publish("t", "0")
            assert await data(messages, 1) == ["0"]
            redis_server.kill()
            redis_server.start()  # nothing saved: the topic's history and numbering are gone
            publish_elsewhere(redis_server.url, "t", ["1", "2", "3"])
            with pytest.raises(asgiws.HistoryLost) as lost:
                await messages.__anext__()
            assert lost.value.offset == last
            # What the new history has, then live messages.
            assert await data(messages, 3) == ["1", "2", "3"]
            await pubsub.publish("t", "4")
            assert await data(messages, 1) == ["4"]

    run(main())


def test_history_trimmed_while_the_connection_was_down_is_reported(redis_server: RedisServer) -> None:
    async def main() -> None:
        async with asgiws.PubSub(redis_server.url) as pubsub, pubsub.subscribe("t") as messages:
            last = await pubsub.publish("t", "0")
            assert await data(messages, 1) == ["0"]
            redis_server.client().client_kill_filter(_type="pubsub")
            # History is trimmed by whoever publishes: here to about 10 messages.
            publish_elsewhere(redis_server.url, "t", [str(i) for i in range(1, 501)], history_size=10)
            with pytest.raises(asgiws.HistoryLost) as lost:
                await messages.__anext__()
            assert lost.value.offset == last
            rest = []
            while not rest or rest[-1] != "500":
                rest.append((await messages.__anext__()).data)
            assert rest == [str(i) for i in range(int(rest[0]), 501)] and int(rest[0]) > 1

    run(main())


def test_since_while_the_process_catches_up_gives_no_duplicate(redis_server: RedisServer) -> None:
    async def main() -> None:
        async with asgiws.PubSub(redis_server.url) as pubsub, pubsub.subscribe("t") as live:
            offsets = [await pubsub.publish("t", str(i)) for i in range(10)]
            assert await data(live, 10) == [str(i) for i in range(10)]
            redis_server.client().client_kill_filter(_type="pubsub")
            publish_elsewhere(redis_server.url, "t", [str(i) for i in range(10, 40)])
            # This subscriber reads 5..39 from the history while the process, reconnecting
            # after its backoff, has still to catch up on 10..39 and hand them out again.
            async with pubsub.subscribe("t", since=offsets[4]) as messages:
                assert await data(messages, 35) == [str(i) for i in range(5, 40)]
                assert await data(live, 30) == [str(i) for i in range(10, 40)]
                await pubsub.publish("t", "40")
                assert await data(messages, 1) == await data(live, 1) == ["40"]

    run(main())


def test_a_quiet_topic_survives_a_dropped_connection_after_its_history_expired(redis_server: RedisServer) -> None:
    async def main() -> None:
        async with asgiws.PubSub(redis_server.url, history_age=0.2) as pubsub, pubsub.subscribe("t") as messages:
            await pubsub.publish("t", "0")
            assert await data(messages, 1) == ["0"]
            await asyncio.sleep(0.5)  # the history has expired; nothing was missed
            redis_server.client().client_kill_filter(_type="pubsub")
            publish_elsewhere(redis_server.url, "t", ["1"])
            assert await data(messages, 1) == ["1"]

    run(main())


def test_a_topic_numbered_anew_while_connected_is_followed_without_a_gap(redis_server: RedisServer) -> None:
    async def main() -> None:
        async with asgiws.PubSub(redis_server.url) as pubsub, pubsub.subscribe("t") as messages:
            await pubsub.publish("t", "0")
            assert await data(messages, 1) == ["0"]
            redis_server.client().flushall()  # an operator, or eviction: the next message starts a new epoch
            await pubsub.publish("t", "1")
            assert await data(messages, 1) == ["1"]  # live all along: nothing can have been missed

    run(main())
