"""Fixtures for the PubSub tests: a real redis-server, and a PubSub URL for each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pubsub.redis_server import RedisServer


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A redis-server of this test's own, started; the test may kill and restart it."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["memory", "redis"])
def pubsub_url(request: pytest.FixtureRequest) -> str:
    """Parametrizes a test over the in-process broker and a real Redis."""
    if request.param == "memory":
        return "memory://"
    return request.getfixturevalue("redis_server").url
