"""broadcast() over real servers and real clients: the framework's WebSocket on asgiws (its fast path)
and on uvicorn (plain ASGI send), and the websocket of a `serve()` handler.

A burst reaches every healthy client whole and in order, without a task
per connection per message; a client that stops reading (a raw socket
that never reads) is closed with 1008 once it stalls past the timeout,
while the others get everything; closed connections are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.client import connect

import asgiws
from asgiws.app import App, WebSocket, broadcast
from asgiws.app.broadcast import STALLED_CLOSE_CODE
from tests.app.wire import run
from tests.conftest import running_server
from tests.server.test_websocket import RawClient

BURST = 1000
CLIENTS = 50
PAYLOAD = b"\xab" * (256 * 1024)
STALL_TIMEOUT = 0.3

#: Where the endpoints run: the framework's App on asgiws and on uvicorn, and asgiws.serve() handlers.
WHERE = ["asgiws", "uvicorn", "serve"]


def burst_message(i: int) -> str | bytes:
    """Text and binary, of every frame length encoding: under 126 bytes, 16-bit and 64-bit lengths."""
    size = 70_000 if i % 250 == 0 else (i * 7) % 300
    body = f"{i}:" + "x" * size
    return body.encode() if i % 3 == 0 else body


async def wait_for(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.01)


class Endpoints:
    """The server side of these tests, by path; served as an App's routes or by one serve() handler."""

    def __init__(self) -> None:
        self.subscribers: list[WebSocket] = []
        self.acks: asyncio.Queue[None] | None = None  # the fast client's, once it is here

    def routes(self) -> dict[str, Callable[[WebSocket], Awaitable[None]]]:
        return {"/subscribe": self.subscribe, "/fast": self.fast, "/burst": self.burst, "/publish": self.publish}

    async def subscribe(self, websocket: WebSocket) -> None:
        self.subscribers.append(websocket)
        try:
            async for _ in websocket:
                pass
        finally:
            self.subscribers.remove(websocket)

    async def fast(self, websocket: WebSocket) -> None:
        """A subscriber that acknowledges each message, so that the publisher can keep pace with it."""
        acks = self.acks = asyncio.Queue()
        self.subscribers.append(websocket)
        try:
            async for _ in websocket:
                acks.put_nowait(None)
        finally:
            self.subscribers.remove(websocket)

    async def burst(self, websocket: WebSocket) -> None:
        """BURST broadcasts in one go, to CLIENTS subscribers; reports their counts and the tasks they made."""
        await wait_for(lambda: len(self.subscribers) == CLIENTS)
        tasks = len(asyncio.all_tasks())
        # No yield in between: the whole burst is queued before any of it is sent.
        counts = [broadcast(self.subscribers, burst_message(i)) for i in range(BURST)]
        new_tasks = len(asyncio.all_tasks()) - tasks
        await websocket.send(json.dumps({"counts": counts, "new_tasks": new_tasks}))

    async def publish(self, websocket: WebSocket) -> None:
        """Broadcast big messages at the fast subscriber's pace until the slow one has been left out a while."""
        await wait_for(lambda: len(self.subscribers) == 2 and self.acks is not None)
        assert self.acks is not None
        counts: list[int] = []
        for i in range(600):  # bounded: 600 x 10 ms at least
            counts.append(broadcast(self.subscribers, i.to_bytes(4, "big") + PAYLOAD, stall_timeout=STALL_TIMEOUT))
            await self.acks.get()  # the fast one has it all
            if counts[-10:] == [1] * 10:
                break
            await asyncio.sleep(0.01)
        broadcast(self.subscribers, b"end")
        await websocket.send(json.dumps(counts))


@contextlib.asynccontextmanager
async def serving(endpoints: Endpoints, where: str) -> AsyncIterator[tuple[str, int]]:
    """Serve `endpoints` as `where` says (see WHERE); yields (host, port)."""
    routes = endpoints.routes()
    if where == "serve":

        async def handler(websocket: WebSocket, path: str) -> None:
            await routes[path](websocket)

        async with asgiws.serve(handler, "127.0.0.1", 0, log_level="warning") as server:
            yield "127.0.0.1", server.sockets[0].getsockname()[1]
        return
    app = App()
    for path, endpoint in routes.items():
        app.websocket(path)(endpoint)
    with running_server(app, where) as address:  # in a thread of its own
        yield address


@pytest.mark.parametrize("where", WHERE)
def test_a_burst_reaches_every_healthy_client_whole_and_in_order(where: str) -> None:
    async def main() -> None:
        async with serving(Endpoints(), where) as (host, port):
            # Half of them negotiate permessage-deflate: each compresses for itself.
            clients = [
                await connect(f"ws://{host}:{port}/subscribe", compression="deflate" if i % 2 else None, max_size=None)
                for i in range(CLIENTS)
            ]
            deflated = [client.response.headers.get("Sec-WebSocket-Extensions") for client in clients]
            assert sum(bool(extensions) for extensions in deflated) == CLIENTS // 2

            async def read(client: Any) -> list[str | bytes]:
                return [await client.recv() for _ in range(BURST)]

            async with connect(f"ws://{host}:{port}/burst") as control:
                received = await asyncio.gather(*(read(client) for client in clients))
                report = json.loads(await control.recv())
            expected = [burst_message(i) for i in range(BURST)]
            for messages in received:
                assert messages == expected
            assert report["counts"] == [CLIENTS] * BURST
            if where == "uvicorn":
                assert report["new_tasks"] <= CLIENTS  # at most one per connection, not one per message
            else:
                assert report["new_tasks"] == 0  # the fast path: written to each transport, no task
            await asyncio.gather(*(client.close() for client in clients))

    run(main(), timeout=60)


@pytest.mark.parametrize("compression", ["deflate", None])
def test_broadcast_and_send_keep_their_order_on_asgiws(compression: str | None) -> None:
    """On asgiws's server, broadcast frames and the handler's own sends leave in the order they were made."""
    app = App()

    @app.websocket("/")
    async def mixed(websocket: WebSocket) -> None:
        for round in range(3):
            broadcast([websocket], f"{round}.1")
            broadcast([websocket], f"{round}.2".encode())  # held back until the end of the loop turn
            await websocket.send(f"{round}.3")
            broadcast([websocket], f"{round}.4")
            await asyncio.sleep(0)
        await websocket.recv()

    with running_server(app, "asgiws") as (host, port):

        async def main() -> None:
            async with connect(f"ws://{host}:{port}/", compression=compression) as client:
                assert bool(client.response.headers.get("Sec-WebSocket-Extensions")) == bool(compression)
                received = [await client.recv() for _ in range(12)]
                expected = [f"{r}.{i}" for r in range(3) for i in range(1, 5)]
                assert received == [m.encode() if m.endswith(".2") else m for m in expected]

        run(main())


def stalled_client(host: str, port: int) -> RawClient:
    """A subscriber on a raw socket with a small receive buffer, which reads nothing after the handshake."""
    client = RawClient(host, port, "/subscribe")
    # Fixed, so that it does not grow; still above loopback's segment size, so that reading reopens the window.
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 128 * 1024)
    return client


def read_until_close(client: RawClient) -> tuple[list[int], int, bytes]:
    """The sequence numbers of the data frames `client` was sent, then the close frame's code and reason."""
    numbers = []
    while True:
        opcode, fin, payload = client.recv_frame()
        if opcode == 0x8:
            return numbers, struct.unpack("!H", payload[:2])[0], payload[2:]
        assert fin and opcode == 0x2
        numbers.append(int.from_bytes(payload[:4], "big"))


@pytest.mark.parametrize("where", WHERE)
def test_a_client_that_never_reads_is_closed_and_the_others_get_everything(where: str) -> None:
    async def main() -> None:
        async with serving(Endpoints(), where) as (host, port):
            # In a thread: a blocking socket must not block a serve() server in this loop.
            slow = await asyncio.to_thread(stalled_client, host, port)
            try:
                fast = await connect(f"ws://{host}:{port}/fast", compression=None, max_size=None)
                publisher = await connect(f"ws://{host}:{port}/publish")
                received = []
                while (message := await fast.recv()) != b"end":
                    received.append(int.from_bytes(message[:4], "big"))
                    assert message[4:] == PAYLOAD
                    await fast.send("ack")
                counts = json.loads(await publisher.recv())
                assert received == list(range(len(counts)))  # the fast one got every message, in order
                assert counts[0] == 2 and counts[-1] == 1
                dropped = counts.index(1)
                assert counts[dropped:] == [1] * (len(counts) - dropped)  # left out once, for good
                # The slow one, reading at last: what was sent to it, in order, then the close.
                got, code, reason = await asyncio.to_thread(read_until_close, slow)
                assert got == list(range(len(got))) and len(got) <= dropped
                assert (code, reason) == (STALLED_CLOSE_CODE, b"too slow")
                await asyncio.gather(fast.close(), publisher.close())
            finally:
                slow.close()

    run(main(), timeout=60)


def test_closed_connections_are_skipped(server_kind: str) -> None:
    app = App()
    members: list[WebSocket] = []

    @app.websocket("/member")
    async def member(websocket: WebSocket) -> None:
        members.append(websocket)  # and never removed
        async for _ in websocket:
            pass

    @app.websocket("/publish")
    async def publish(websocket: WebSocket) -> None:
        await wait_for(lambda: len(members) == 3 and sum(m.open for m in members) == 2)
        await websocket.send(str(broadcast(members, "after")))

    with running_server(app, server_kind) as (host, port):

        async def main() -> None:
            clients = [await connect(f"ws://{host}:{port}/member") for _ in range(3)]
            await clients[1].close()
            async with connect(f"ws://{host}:{port}/publish") as publisher:
                assert await publisher.recv() == "2"
            assert [await clients[0].recv(), await clients[2].recv()] == ["after", "after"]
            await asyncio.gather(clients[0].close(), clients[2].close())

        run(main())


# -- The ASGI path in process: any connection with `open` and `send()` --------------------


class Peer:
    """A connection whose send() waits while `gate` is clear, as a server's send does for a full buffer."""

    def __init__(self) -> None:
        self.open = True
        self.received: list[str | bytes] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def send(self, message: str | bytes) -> None:
        await self.gate.wait()
        self.received.append(message)


class ClosablePeer(Peer):
    def __init__(self) -> None:
        super().__init__()
        self.closed_with: tuple[int, str] | None = None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed_with = (code, reason)
        self.open = False


def test_a_send_waiting_past_the_stall_timeout_closes_the_connection() -> None:
    async def main() -> None:
        healthy, stuck = ClosablePeer(), ClosablePeer()
        stuck.gate.clear()
        assert broadcast([healthy, stuck], "one", stall_timeout=0.05) == 2
        assert broadcast([healthy, stuck], "two", stall_timeout=0.05) == 2  # a burst is no stall
        await asyncio.sleep(0.1)
        assert broadcast([healthy, stuck], "three", stall_timeout=0.05) == 1
        await asyncio.sleep(0)
        assert stuck.closed_with == (STALLED_CLOSE_CODE, "too slow")
        stuck.gate.set()
        assert broadcast([healthy, stuck], "four", stall_timeout=0.05) == 1  # closed: skipped
        await asyncio.sleep(0.01)
        assert healthy.received == ["one", "two", "three", "four"]
        assert stuck.received == []

    asyncio.run(asyncio.wait_for(main(), 10))


def test_no_stall_timeout_waits_for_a_client_as_long_as_it_takes() -> None:
    async def main() -> None:
        peer = ClosablePeer()
        peer.gate.clear()
        assert broadcast([peer], "one", stall_timeout=None) == 1
        await asyncio.sleep(0.05)
        assert broadcast([peer], "two", stall_timeout=None) == 1
        peer.gate.set()
        await asyncio.sleep(0.01)
        assert peer.received == ["one", "two"] and peer.closed_with is None

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_stalled_connection_without_close_is_skipped_until_it_takes_messages_again() -> None:
    async def main() -> None:
        peer = Peer()
        peer.gate.clear()
        assert broadcast([peer], "one", stall_timeout=0.05) == 1
        await asyncio.sleep(0.1)
        assert broadcast([peer], "two", stall_timeout=0.05) == 0  # stalled: "one" and "two" dropped
        peer.gate.set()
        assert broadcast([peer], "three", stall_timeout=0.05) == 1
        await asyncio.sleep(0.01)
        assert peer.received == ["three"]

    asyncio.run(asyncio.wait_for(main(), 10))


def test_broadcast_rejects_other_types() -> None:
    with pytest.raises(TypeError):
        broadcast([], 42)  # type: ignore[arg-type]


def test_broadcast_takes_any_connection_with_open_and_send() -> None:
    async def main() -> list[Peer]:
        peers = [Peer(), Peer()]
        assert broadcast(peers, b"bin") == 2
        assert broadcast(peers, bytearray(b"array")) == 2
        await asyncio.sleep(0)
        return peers

    assert [p.received for p in asyncio.run(main())] == [[b"bin", b"array"], [b"bin", b"array"]]


def test_broadcast_messages_count_as_sent_in_the_servers_metrics() -> None:
    """The fast path writes frames itself: it still counts them, as a handler's send() is counted."""
    pytest.importorskip("prometheus_client")
    from asgiws.testing import LiveServer
    from tests.server.test_metrics import sample, wait_for

    app = App()
    messages: list[str | bytes] = ["one", b"two", "three ✓"]

    @app.websocket("/")
    async def fanout(websocket: WebSocket) -> None:
        for message in messages:  # a burst: the first written at once, the rest at the end of the turn
            broadcast([websocket], message)
        await websocket.recv()

    with LiveServer(app, metrics_port=0, log_level="warning") as live:
        metrics = live.server.server_state.metrics
        assert metrics is not None and metrics.exporter is not None

        async def main() -> None:
            async with connect(live.ws_url + "/") as client:
                assert [await client.recv() for _ in messages] == messages
                sent = sum(len(m.encode() if isinstance(m, str) else m) for m in messages)
                expected = {
                    sample("asgiws_websocket_messages_sent_total"): len(messages),
                    sample("asgiws_websocket_sent_bytes_total"): sent,
                }
                await asyncio.to_thread(wait_for, metrics.exporter.port, expected)

        run(main())
