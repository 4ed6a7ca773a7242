"""The examples that go through Redis get a real redis-server, as the PubSub tests do."""

from tests.pubsub.conftest import redis_server

__all__ = ["redis_server"]
