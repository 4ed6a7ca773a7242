"""scaling_rooms.py as two server processes on one real Redis: a message crosses from one to the other."""

import asyncio
from pathlib import Path

import pytest

import asgiws
from tests.pubsub.redis_server import RedisServer
from tests.server.processes import ServerProcess

ROOMS = Path(__file__).with_name("scaling_rooms.py")


@pytest.fixture
def redis_url():
    server = RedisServer()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


async def joined(url):
    """A member of room "red" at `url`, once its own messages come back through Redis."""
    websocket = await asgiws.connect(url)
    while True:
        await websocket.send("probe")
        try:
            async with asyncio.timeout(0.5):
                assert await websocket.recv() == "probe"
            return websocket
        except TimeoutError:
            continue


async def drain(websocket):
    """The next message that is not a probe."""
    while (message := await websocket.recv()) == "probe":
        pass
    return message


def test_rooms_span_processes(redis_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ASGIWS_REDIS_URL", redis_url)
    app = ROOMS.read_text()
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    with ServerProcess(tmp_path / "one", "--port", "0", app=app) as one:
        port_one = one.wait_for_port()
        with ServerProcess(tmp_path / "two", "--port", "0", app=app) as two:
            port_two = two.wait_for_port()

            async def main():
                alice = await joined(f"ws://127.0.0.1:{port_one}/rooms/red")
                bob = await joined(f"ws://127.0.0.1:{port_two}/rooms/red")
                await alice.send("hi from process one")
                async with asyncio.timeout(10):
                    assert await drain(bob) == "hi from process one"
                    assert await drain(alice) == "hi from process one"
                await alice.close()
                await bob.close()

            asyncio.run(main())
