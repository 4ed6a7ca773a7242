"""WebSocket load generator: picows clients on uvloop, echo round trips.

Each connection keeps ``--window`` messages in flight: window 1 is ping-pong
(send, wait for the echo, send again), a larger window is a stream. Every
message is timestamped when sent and matched with its echo (the server echoes
in order), so latency is the true round trip. Compression is never offered:
picows does not implement permessage-deflate, so frames go uncompressed.

Only the ``--duration`` seconds after ``--warmup`` count. Over exactly that
window it also reads the server's CPU time from ``/proc/PID/stat`` and its own
from ``getrusage``, and prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import deque
from time import perf_counter

import uvloop
from cpu_time import own_cpu_seconds, process_cpu_seconds
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect


class Run:
    """State shared by all connections: are we sending, are we counting."""

    def __init__(self) -> None:
        self.sending = False
        self.measuring = False
        self.received = 0
        self.round_trips: list[float] = []
        self.errors: list[str] = []


class EchoClient(WSListener):
    """Keeps ``window`` messages in flight and times each echo."""

    def __init__(self, run: Run, msg_type: WSMsgType, payload: bytes, window: int) -> None:
        self.run = run
        self.msg_type = msg_type
        self.payload = payload
        self.window = window
        self.sent_at: deque[float] = deque()
        self.transport: WSTransport | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def start(self) -> None:
        for _ in range(self.window):
            self.send()

    def send(self) -> None:
        self.sent_at.append(perf_counter())
        self.transport.send(self.msg_type, self.payload)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        if msg_type == WSMsgType.CLOSE:
            if self.run.sending:
                self.run.errors.append(f"server closed with {frame.get_close_code()}")
            transport.send_close(frame.get_close_code())
            transport.disconnect()
            return
        if msg_type == WSMsgType.PING or msg_type == WSMsgType.PONG or not frame.fin:
            return  # picows answers pings itself; a message counts at its last fragment
        now = perf_counter()
        sent = self.sent_at.popleft()
        run = self.run
        if run.measuring:
            run.received += 1
            run.round_trips.append(now - sent)
        if run.sending:
            self.send()


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index]


async def connect_all(url: str, count: int, make_client) -> list[EchoClient]:
    clients: list[EchoClient] = []
    batch = 100
    for start in range(0, count, batch):
        pairs = await asyncio.gather(
            *(ws_connect(make_client, url) for _ in range(start, min(count, start + batch)))
        )
        clients.extend(listener for _, listener in pairs)
    return clients


async def close_all(clients: list[EchoClient]) -> None:
    """Close handshake on every connection, then drop whatever did not finish in 2 s."""
    transports = [c.transport for c in clients if c.transport is not None]
    for transport in transports:
        if not transport.is_disconnected and not transport.is_close_frame_sent:
            transport.send_close()
    try:
        await asyncio.wait_for(
            asyncio.gather(*(t.wait_disconnected() for t in transports)), 2.0
        )
    except TimeoutError:
        for transport in transports:
            transport.disconnect()


async def load(args: argparse.Namespace) -> dict:
    run = Run()
    msg_type = WSMsgType.BINARY if args.binary else WSMsgType.TEXT
    payload = b"x" * args.size
    clients = await connect_all(
        args.url, args.connections, lambda: EchoClient(run, msg_type, payload, args.window)
    )
    run.sending = True
    for client in clients:
        client.start()
    await asyncio.sleep(args.warmup)

    run.measuring = True
    server_cpu_0 = process_cpu_seconds(args.server_pid) if args.server_pid else 0.0
    own_cpu_0 = own_cpu_seconds()
    t0 = perf_counter()
    await asyncio.sleep(args.duration)
    run.measuring = False
    elapsed = perf_counter() - t0
    server_cpu = process_cpu_seconds(args.server_pid) - server_cpu_0 if args.server_pid else 0.0
    own_cpu = own_cpu_seconds() - own_cpu_0

    run.sending = False
    await asyncio.sleep(0.05)
    await close_all(clients)
    round_trips = sorted(run.round_trips)
    return {
        "messages": run.received,
        "seconds": elapsed,
        "rate": run.received / elapsed,
        "p50_ms": percentile(round_trips, 0.50) * 1e3,
        "p99_ms": percentile(round_trips, 0.99) * 1e3,
        "server_cpu": 100.0 * server_cpu / elapsed,
        "client_cpu": 100.0 * own_cpu / elapsed,
        "errors": run.errors[:5],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--size", type=int, default=32, help="payload bytes")
    parser.add_argument("--binary", action="store_true", help="binary messages (default text)")
    parser.add_argument("--window", type=int, default=1, help="messages in flight per connection")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--server-pid", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    result = uvloop.run(asyncio.wait_for(load(args), args.timeout))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
