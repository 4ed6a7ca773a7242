"""PubSub's contract on both brokers: order, no duplicates, history, `since`, slow subscribers, close.

Every test runs against the in-process broker and a real redis-server.
"""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

import asgiws
from asgiws.pubsub import Subscription
from tests.app.wire import run
from tests.pubsub.redis_server import RedisServer


async def take(messages: Subscription, count: int) -> list[asgiws.pubsub.Message]:
    return [await messages.__anext__() for _ in range(count)]


def test_every_subscriber_gets_every_message_in_order_once(pubsub_url: str) -> None:
    async def main() -> None:
        async with asgiws.PubSub(pubsub_url) as pubsub:
            async with pubsub.subscribe("chat") as first, pubsub.subscribe("chat") as second:

                async def publisher(name: str) -> list[str]:
                    offsets = []
                    for i in range(100):
                        data = f"{name}{i}" if i % 2 else f"{name}{i}".encode()
                        offsets.append(await pubsub.publish("chat", data))
                    return offsets

                offsets_a, offsets_b = await asyncio.gather(publisher("a"), publisher("b"))
                got_first = await take(first, 200)
                got_second = await take(second, 200)
        # Both saw one order, the broker's: that of the offsets publish() returned.
        assert [m.offset for m in got_first] == [m.offset for m in got_second] == sorted(offsets_a + offsets_b)
        assert len(set(offsets_a + offsets_b)) == 200
        assert [m.data for m in got_first] == [m.data for m in got_second]
        # Each publisher's own messages in the order it sent them, str and bytes kept apart.
        mine = [m.data for m in got_first if (m.data if isinstance(m.data, str) else m.data.decode())[0] == "a"]
        assert mine == [f"a{i}" if i % 2 else f"a{i}".encode() for i in range(100)]
        assert {m.topic for m in got_first} == {"chat"}

    run(main())


def test_subscribe_gets_messages_from_now_on_and_topics_are_apart(pubsub_url: str) -> None:
    async def main() -> None:
        async with asgiws.PubSub(pubsub_url) as pubsub:
            await pubsub.publish("news", "before")
            async with pubsub.subscribe("news") as news, pubsub.subscribe("sport") as sport:
                await pubsub.publish("sport", "goal")
                await pubsub.publish("news", "after")
                assert (await news.__anext__()).data == "after"
                assert (await sport.__anext__()).data == "goal"

    run(main())


def test_since_replays_the_history_then_goes_live_with_no_gap_or_duplicate(pubsub_url: str) -> None:
    async def main() -> None:
        async with asgiws.PubSub(pubsub_url) as pubsub:
            offsets = [await pubsub.publish("feed", str(i)) for i in range(30)]

            async def keep_publishing() -> None:
                for i in range(30, 300):
                    await pubsub.publish("feed", str(i))
                    if i % 7 == 0:
                        await asyncio.sleep(0)

            # On Redis, another PubSub (another process, as far as it knows) that never followed the topic.
            async with asgiws.PubSub(pubsub_url) as other:
                subscriber = pubsub if pubsub_url == "memory://" else other
                publishing = asyncio.ensure_future(keep_publishing())
                await asyncio.sleep(0)
                async with subscriber.subscribe("feed", since=offsets[9]) as feed:
                    got = [m.data for m in await take(feed, 290)]
                await publishing
        assert got == [str(i) for i in range(10, 300)]

    run(main())


def test_since_on_an_offset_before_what_history_keeps_raises_history_lost_then_goes_on(pubsub_url: str) -> None:
    async def main() -> None:
        async with asgiws.PubSub(pubsub_url, history_size=5) as pubsub:
            offsets = [await pubsub.publish("feed", str(i)) for i in range(300)]
            async with pubsub.subscribe("feed", since=offsets[0]) as feed:
                with pytest.raises(asgiws.HistoryLost) as lost:
                    await feed.__anext__()
                assert lost.value.topic == "feed" and lost.value.offset == offsets[0]
                assert isinstance(lost.value, asgiws.PubSubError)
                # The iterator goes on with what the history still has, up to the newest message.
                rest = []
                while not rest or rest[-1] != "299":
                    rest.append((await feed.__anext__()).data)
                first = int(rest[0])
                assert first > 1 and rest == [str(i) for i in range(first, 300)]
                await pubsub.publish("feed", "live")
                assert (await feed.__anext__()).data == "live"

    run(main())


def test_a_slow_subscriber_gets_everything_from_history_without_holding_up_the_others(pubsub_url: str) -> None:
    async def main() -> None:
        async with asgiws.PubSub(pubsub_url, max_pending=4) as pubsub:
            async with pubsub.subscribe("t") as slow, pubsub.subscribe("t") as fast:
                for i in range(200):
                    await pubsub.publish("t", str(i))
                    assert (await fast.__anext__()).data == str(i)
                # The slow one read nothing so far: 4 buffered, the rest from the history.
                assert [m.data for m in await take(slow, 200)] == [str(i) for i in range(200)]
                await pubsub.publish("t", "live again")
                assert (await slow.__anext__()).data == "live again"
                assert (await fast.__anext__()).data == "live again"

    run(main())


def test_a_subscriber_further_behind_than_the_history_is_told_where_the_gap_is(pubsub_url: str) -> None:
    async def main() -> None:
        async with asgiws.PubSub(pubsub_url, max_pending=2, history_size=10) as pubsub:
            async with pubsub.subscribe("t") as slow:
                offsets = [await pubsub.publish("t", str(i)) for i in range(500)]
                assert [m.data for m in await take(slow, 2)] == ["0", "1"]
                with pytest.raises(asgiws.HistoryLost) as lost:
                    await slow.__anext__()
                assert lost.value.offset == offsets[1]
                rest = []
                while not rest or rest[-1] != "499":
                    rest.append((await slow.__anext__()).data)
                assert rest == [str(i) for i in range(int(rest[0]), 500)]

    run(main())


def test_history_is_dropped_history_age_after_the_last_message(pubsub_url: str) -> None:
    async def main() -> None:
        async with asgiws.PubSub(pubsub_url, history_age=0.2) as pubsub, pubsub.subscribe("t") as live:
            first = await pubsub.publish("t", "first")
            second = await pubsub.publish("t", "second")
            await asyncio.sleep(0.5)
            async with pubsub.subscribe("t", since=first) as behind, pubsub.subscribe("t", since=second) as current:
                with pytest.raises(asgiws.HistoryLost):  # "second" went with the history
                    await behind.__anext__()
                third = await pubsub.publish("t", "third")
                assert third > second
                # The numbering outlives the history: a reader that had everything is not told otherwise.
                assert [(await messages.__anext__()).data for messages in (behind, current)] == ["third"] * 2
            assert [m.data for m in await take(live, 3)] == ["first", "second", "third"]

    run(main())


def test_offsets_are_opaque_ordered_strings(pubsub_url: str) -> None:
    async def main() -> None:
        async with asgiws.PubSub(pubsub_url) as pubsub:
            offsets = [await pubsub.publish("t", b"x") for _ in range(20)]
            assert all(isinstance(offset, str) for offset in offsets)
            assert offsets == sorted(offsets) and len(set(offsets)) == 20
            with pytest.raises(ValueError):
                async with pubsub.subscribe("t", since="not an offset"):
                    pass
            with pytest.raises(TypeError):
                await pubsub.publish("t", 42)  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await pubsub.publish("", "x")

    run(main())


def test_close_ends_iteration_and_the_pubsub_can_be_used_again(pubsub_url: str) -> None:
    async def main() -> None:
        pubsub = asgiws.PubSub(pubsub_url)
        async with pubsub.subscribe("t") as messages:
            received: list[str | bytes] = []

            async def consume() -> None:
                async for message in messages:
                    received.append(message.data)

            consuming = asyncio.ensure_future(consume())
            await pubsub.publish("t", "one")
            while not received:
                await asyncio.sleep(0.01)
            await pubsub.close()
            await asyncio.wait_for(consuming, 5)
        assert received == ["one"]
        async with pubsub.subscribe("t") as messages:
            await pubsub.publish("t", "two")
            assert (await messages.__anext__()).data == "two"
        await pubsub.close()

    run(main())


def test_one_redis_subscription_per_topic_per_process(redis_server: RedisServer) -> None:
    def subscribers() -> int:
        return redis_server.client().pubsub_numsub("asgiws:0:room")[0][1]

    async def main() -> None:
        async with asgiws.PubSub(redis_server.url) as pubsub:
            async with pubsub.subscribe("room") as a, pubsub.subscribe("room") as b, pubsub.subscribe("room") as c:
                assert subscribers() == 1
                await pubsub.publish("room", "hello")
                assert [(await messages.__anext__()).data for messages in (a, b, c)] == ["hello"] * 3
            while subscribers():  # unsubscribed once the last one left
                await asyncio.sleep(0.01)

    run(main())


def test_redis_unreachable_raises_broker_unavailable() -> None:
    from tests.pubsub.redis_server import free_port

    async def main() -> None:
        async with asgiws.PubSub(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5) as pubsub:
            with pytest.raises(asgiws.BrokerUnavailable) as raised:
                await pubsub.publish("t", "x")
            assert raised.value.status == 503 and isinstance(raised.value, asgiws.PubSubError)
            with pytest.raises(asgiws.BrokerUnavailable):
                async with pubsub.subscribe("t"):
                    pass

    run(main())


def test_urls() -> None:
    assert asgiws.PubSub().url == "memory://"
    with pytest.raises(ValueError):
        asgiws.PubSub("http://localhost/")
    with pytest.raises(ValueError):
        asgiws.PubSub(history_size=-1)


def test_pubsub_never_imports_the_server() -> None:
    """PubSub is app-level: it reaches WebSockets through `open` and `send()` only."""
    package = Path(asgiws.pubsub.__file__).parent
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom):
                name = "." * node.level + (node.module or "")
            elif isinstance(node, ast.Import):
                name = ",".join(alias.name for alias in node.names)
            else:
                continue
            assert "server" not in name and "client" not in name, f"{module.name} imports {name}"
