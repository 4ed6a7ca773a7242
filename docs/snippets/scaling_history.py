import asyncio

import asgiws


async def main():
    async with asgiws.PubSub() as pubsub:  # in this process; PubSub("redis://...") to share it
        first = await pubsub.publish("news", "one")  # the message's offset
        await pubsub.publish("news", "two")
        async with pubsub.subscribe("news", since=first) as messages:  # after `first`, then live
            await pubsub.publish("news", "three")
            received = []
            async for message in messages:
                received.append(message.data)  # also message.topic, message.offset
                if len(received) == 2:
                    break
        assert received == ["two", "three"]

    async with asgiws.PubSub(history_size=2) as pubsub:  # keeps the last 2 messages of each topic
        first = await pubsub.publish("news", "one")
        for data in ["two", "three", "four"]:
            await pubsub.publish("news", data)
        async with pubsub.subscribe("news", since=first) as messages:
            received = []
            while len(received) < 2:
                try:
                    async for message in messages:
                        received.append(message.data)
                        if len(received) == 2:
                            break
                except asgiws.HistoryLost as lost:  # "two" is gone: reload what you show, go on
                    assert lost.offset == first
        assert received == ["three", "four"]


asyncio.run(main())
