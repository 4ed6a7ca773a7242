"""WebSocket load generator: picows clients on uvloop, echo round trips.

Each connection keeps ``--window`` messages in flight: window 1 is ping-pong
(send, wait for the echo, send again), a larger window is a stream. Every
message is timestamped when sent and matched with its echo (the server echoes
in order), so latency is the true round trip.

picows does not implement permessage-deflate (RFC 7692): with ``--deflate``
this client does its part itself, so that the server's compression is
measured, not the client's. It offers the extension as browsers do
(``permessage-deflate; client_max_window_bits``) and sends ``--size``-byte
JSON-like text messages, all different, from a pool compressed once before
the run, each on its own (no reference to an earlier message, which is valid
whatever context takeover was agreed: the server's decompressor just keeps a
window the message does not use). Every echo is inflated, with one context
per connection as the server's compressor keeps one, and its length checked.
A server that does not accept the offer fails the run.

Only the ``--duration`` seconds after ``--warmup`` count. Over exactly that
window it also reads the server's CPU time from ``/proc/PID/stat`` and its own
from ``getrusage``, and prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import sys
import zlib
from collections import deque
from time import perf_counter

import uvloop
from cpu_time import own_cpu_seconds, process_cpu_seconds
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, WSUpgradeResponse, ws_connect

DEFLATE_OFFER = {"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"}
SYNC_TAIL = b"\x00\x00\xff\xff"  # RFC 7692 section 7.2.1: removed by the sender, appended by the receiver
POOL = 64  # distinct messages per run with --deflate


def json_like_messages(size: int, count: int) -> list[bytes]:
    """`count` different JSON-like texts of exactly `size` bytes (an event a chat or dashboard would push)."""
    rng = random.Random(12)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
    messages = []
    for seq in range(count):
        event = {
            "type": rng.choice(["update", "message", "presence"]),
            "seq": seq,
            "room": f"room-{rng.randrange(100)}",
            "user": {"id": rng.randrange(10**6), "name": rng.choice(words).title(), "online": rng.random() < 0.8},
            "items": [{"id": rng.randrange(10**4), "label": rng.choice(words), "value": round(rng.random() * 100, 3)}
                      for _ in range(6)],
            "text": "",
        }
        text = json.dumps(event, separators=(",", ":")).encode()
        filler = " ".join(rng.choice(words) for _ in range(size // 4))
        event["text"] = filler[: max(0, size - len(text))]
        text = json.dumps(event, separators=(",", ":")).encode()
        if len(text) != size:
            raise ValueError(f"--size {size} is too small for a JSON-like message")
        messages.append(text)
    return messages


def compressed(message: bytes) -> bytes:
    """`message` deflated on its own, as a permessage-deflate payload (RFC 7692 section 7.2.1)."""
    encoder = zlib.compressobj(wbits=-15)
    data = encoder.compress(message) + encoder.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(SYNC_TAIL)
    return data[:-4]


def accepted_deflate(response: WSUpgradeResponse) -> bool:
    offers = response.headers.get("sec-websocket-extensions") or ""
    return "permessage-deflate" in offers.lower()


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
        self.pool: list[bytes] | None = None  # with --deflate: compressed payloads, sent in turn
        self.next = 0
        self.inflater: zlib._Decompress | None = None
        self.size = len(payload)

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def start(self) -> None:
        for _ in range(self.window):
            self.send()

    def send(self) -> None:
        self.sent_at.append(perf_counter())
        pool = self.pool
        if pool is None:
            self.transport.send(self.msg_type, self.payload)
        else:
            self.transport.send(self.msg_type, pool[self.next], rsv1=True)
            self.next = (self.next + 1) % len(pool)

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
        if self.inflater is not None and frame.rsv1:
            text = self.inflater.decompress(frame.get_payload_as_bytes() + SYNC_TAIL)
            if len(text) != self.size:
                self.run.errors.append(f"an echo inflated to {len(text)} bytes, not {self.size}")
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


async def connect_all(url: str, count: int, make_client, headers: dict[str, str] | None) -> list[EchoClient]:
    clients: list[EchoClient] = []
    batch = 100
    for start in range(0, count, batch):
        pairs = await asyncio.gather(
            *(ws_connect(make_client, url, extra_headers=headers) for _ in range(start, min(count, start + batch)))
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
    pool = [compressed(message) for message in json_like_messages(args.size, POOL)] if args.deflate else None

    starts = itertools.count()

    def make_client(request: WSUpgradeRequest, response: WSUpgradeResponse) -> EchoClient:
        client = EchoClient(run, msg_type, payload, args.window)
        if pool is not None:
            if not accepted_deflate(response):
                raise RuntimeError("the server did not accept permessage-deflate")
            client.pool = pool
            client.next = next(starts) % len(pool)  # connections start at different messages
            client.inflater = zlib.decompressobj(wbits=-15)
        return client

    clients = await connect_all(args.url, args.connections, make_client, DEFLATE_OFFER if args.deflate else None)
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
    parser.add_argument("--deflate", action="store_true",
                        help="offer permessage-deflate; send different JSON-like texts of --size bytes, compressed")
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
