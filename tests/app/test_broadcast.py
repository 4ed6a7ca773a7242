"""broadcast(): a client that does not read never holds up the others."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from websockets.asyncio.client import connect

from asgiws.app import App, WebSocket, broadcast
from tests.app.wire import run
from tests.conftest import running_server

MESSAGES = 32
PAYLOAD = b"\xab" * (1024 * 1024)


def make_app() -> App:
    app = App()
    subscribers: list[WebSocket] = []
    state: dict[str, Any] = {}  # "acks": a queue made in the server's own event loop

    @app.websocket("/subscribe")
    async def subscribe(websocket: WebSocket) -> None:
        subscribers.append(websocket)
        try:
            async for message in websocket:
                if message == "ack":
                    state["acks"].put_nowait(None)
        finally:
            subscribers.remove(websocket)

    @app.websocket("/publish")
    async def publish(websocket: WebSocket) -> None:
        state["acks"] = asyncio.Queue()
        expected = int(await websocket.recv())  # type: ignore[arg-type]
        while len(subscribers) < expected:
            await asyncio.sleep(0.01)
        counts = []
        for i in range(MESSAGES):
            counts.append(broadcast(subscribers, i.to_bytes(4, "big") + PAYLOAD, max_pending=2))
            # The fast subscriber acknowledges each message; the slow one never reads.
            await state["acks"].get()
        await websocket.send(json.dumps(counts))

    return app


def test_slow_client_does_not_hold_up_the_others(server_kind: str) -> None:
    with running_server(make_app(), server_kind) as (host, port):
        base = f"ws://{host}:{port}"

        async def client() -> None:
            # The slow client: a tiny receive buffer, and it never reads.
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect((host, port))
            slow = await connect(f"{base}/subscribe", sock=sock, compression=None, max_size=None)
            publisher = await connect(f"{base}/publish")
            # Without the slow client paused in the middle of all this, the test proves nothing.
            slow.transport.pause_reading()
            async with connect(f"{base}/subscribe", compression=None, max_size=None) as fast:
                await publisher.send("2")
                received = []
                for _ in range(MESSAGES):
                    message = await fast.recv()
                    received.append(int.from_bytes(message[:4], "big"))
                    assert message[4:] == PAYLOAD
                    await fast.send("ack")
                counts = json.loads(await publisher.recv())
            slow.transport.abort()
            await publisher.close()
            assert received == list(range(MESSAGES))
            # Every message went to both at first; then the slow one, still busy, was skipped.
            assert counts[0] == 2 and min(counts) == 1 and len(counts) == MESSAGES

        run(client(), timeout=30)


def test_broadcast_skips_closed_connections_and_full_outboxes() -> None:
    sent: list[tuple[int, Any]] = []

    async def main() -> None:
        gate = asyncio.Event()

        def make(index: int, blocked: bool) -> WebSocket:
            async def receive() -> dict[str, Any]:
                return {"type": "websocket.connect"}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "websocket.send" and blocked:
                    await gate.wait()
                sent.append((index, message.get("text")))

            return WebSocket({"type": "websocket", "path": "/", "headers": []}, receive, send)

        fast, busy, closed = make(0, False), make(1, True), make(2, False)
        for ws in (fast, busy, closed):
            await ws.accept()
        await closed.close()
        assert broadcast([fast, busy, closed], "one", max_pending=1) == 2
        await asyncio.sleep(0.01)  # busy is now stuck sending "one"
        assert broadcast([fast, busy, closed], "two", max_pending=1) == 2  # waits in busy's outbox
        await asyncio.sleep(0.01)
        assert broadcast([fast, busy, closed], "three", max_pending=1) == 1  # busy's outbox is full
        gate.set()
        await asyncio.sleep(0.01)
        assert broadcast([fast, busy, closed], "four", max_pending=1) == 2
        await asyncio.sleep(0.01)

    asyncio.run(asyncio.wait_for(main(), 10))
    assert [text for i, text in sent if i == 0 and text] == ["one", "two", "three", "four"]
    assert [text for i, text in sent if i == 1 and text] == ["one", "two", "four"]
    assert not [text for i, text in sent if i == 2 and text]


def test_a_burst_reaches_a_healthy_client_whole_and_in_order() -> None:
    """Many broadcasts without yielding in between (messages already queued by the server) lose nothing."""
    received: list[str] = []

    async def main() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "websocket.connect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "websocket.send":
                received.append(message["text"])
                await asyncio.sleep(0)

        ws = WebSocket({"type": "websocket", "path": "/", "headers": []}, receive, send)
        await ws.accept()
        for i in range(20):
            assert broadcast([ws], str(i)) == 1
        await asyncio.sleep(0.05)

    asyncio.run(asyncio.wait_for(main(), 10))
    assert received == [str(i) for i in range(20)]


def test_broadcast_rejects_other_types() -> None:
    with pytest.raises(TypeError):
        broadcast([], 42)  # type: ignore[arg-type]


def test_broadcast_takes_any_connection_with_open_and_send() -> None:
    class Client:
        open = True

        def __init__(self) -> None:
            self.received: list[str | bytes] = []

        async def send(self, message: str | bytes) -> None:
            self.received.append(message)

    async def main() -> list[Client]:
        clients = [Client(), Client()]
        assert broadcast(clients, b"bin") == 2
        await asyncio.sleep(0)
        return clients

    assert [c.received for c in asyncio.run(main())] == [[b"bin"], [b"bin"]]
