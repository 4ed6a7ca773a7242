"""The fan-out benchmark's subscribers: many picows WebSocket clients in one process, checking every sequence number.

Driven by `fanout.py` through stdin, one command a line; it answers on
stdout, one JSON object a line:

- ``connect URL COUNT``: open COUNT more connections to URL (100 at a time)
  -> ``{"ready": total, "deflate": how many of them negotiated permessage-deflate}``;
- ``expect SEQ``: the next message every connection gets is number SEQ;
  forget what was counted so far -> ``{"expecting": SEQ}``;
- ``record``: from now on keep every arrival time (for latency percentiles);
  ``dump`` -> ``{"arrivals": {seq: [time, ...]}}`` and forget them;
- ``close``: close every connection -> ``{"closed": n, "errors": n, "first_errors": [...]}``.

Unasked, once every connection of this process has message SEQ, it prints
``{"done": SEQ, "last": T}``, T being when the last of them got it
(`time.monotonic()`). A message whose number is not the one expected on
its connection (lost, repeated or out of order) is an error, counted and
reported by ``close``.

With ``--deflate`` every connection offers permessage-deflate, as a browser
does (``Sec-WebSocket-Extensions: permessage-deflate;
client_max_window_bits``), and inflates the compressed messages (RSV1 set)
with a context of its own, kept from message to message (RFC 7692 section
7.2.2); picows has no extension support, so this file does it.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import zlib
from time import monotonic

import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, WSUpgradeResponse, ws_connect

#: What a browser offers (RFC 7692 section 7.1).
DEFLATE_OFFER = {"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"}
#: The end of a compressed message that the sender removed (RFC 7692 section 7.2.2).
DEFLATE_TAIL = b"\x00\x00\xff\xff"


class Subscribers:
    """What the connections of this process share: the counts per sequence number."""

    def __init__(self) -> None:
        self.connections: list[Subscriber] = []
        self.counts: dict[int, int] = {}
        self.last: dict[int, float] = {}
        self.arrivals: dict[int, list[float]] | None = None
        self.errors = 0
        self.first_errors: list[str] = []

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(text)

    def arrived(self, seq: int, now: float) -> None:
        count = self.counts.get(seq, 0) + 1
        if count == len(self.connections):
            self.counts.pop(seq, None)
            last = max(self.last.pop(seq, now), now)
            say({"done": seq, "last": last})
        else:
            self.counts[seq] = count
            if now > self.last.get(seq, 0.0):
                self.last[seq] = now
        if self.arrivals is not None:
            self.arrivals.setdefault(seq, []).append(now)


class Subscriber(WSListener):
    def __init__(self, shared: Subscribers, deflate: bool = False) -> None:
        self.shared = shared
        self.expected = 0
        self.transport: WSTransport | None = None
        self.inflater = zlib.decompressobj(-zlib.MAX_WBITS) if deflate else None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is not WSMsgType.TEXT:
            if frame.msg_type is WSMsgType.CLOSE:
                if not transport.is_close_frame_sent:
                    self.shared.error(f"closed by the server with {frame.get_close_code()}")
                transport.send_close(frame.get_close_code())
                transport.disconnect()
            return
        now = monotonic()
        payload = frame.get_payload_as_bytes()
        if frame.rsv1:
            if self.inflater is None:
                self.shared.error("a compressed message on a connection without permessage-deflate")
                return
            payload = self.inflater.decompress(payload + DEFLATE_TAIL)
        seq = int(payload[:10])
        if seq != self.expected:
            self.shared.error(f"expected {self.expected}, got {seq}")
        self.expected = seq + 1
        self.shared.arrived(seq, now)


def say(answer: dict) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


def negotiated_deflate(response: WSUpgradeResponse) -> bool:
    return "permessage-deflate" in str(response.headers.get("Sec-WebSocket-Extensions", ""))


async def connect(shared: Subscribers, url: str, count: int, deflate: bool) -> None:
    batch = 100

    def subscriber(request: WSUpgradeRequest, response: WSUpgradeResponse) -> Subscriber:
        return Subscriber(shared, deflate=negotiated_deflate(response))

    offer = DEFLATE_OFFER if deflate else None
    for start in range(0, count, batch):
        pairs = await asyncio.gather(
            *(ws_connect(subscriber, url, extra_headers=offer) for _ in range(start, min(count, start + batch)))
        )
        shared.connections.extend(listener for _, listener in pairs)


async def close(shared: Subscribers) -> int:
    transports = [c.transport for c in shared.connections if c.transport is not None]
    for transport in transports:
        if not transport.is_disconnected and not transport.is_close_frame_sent:
            transport.send_close()
    try:
        await asyncio.wait_for(asyncio.gather(*(t.wait_disconnected() for t in transports)), 5.0)
    except TimeoutError:
        for transport in transports:
            transport.disconnect()
    shared.connections.clear()
    return len(transports)


async def serve_commands(deflate: bool) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    shared = Subscribers()
    while line := (await reader.readline()).decode().split():
        command = line[0]
        if command == "connect":
            await connect(shared, line[1], int(line[2]), deflate)
            deflated = sum(subscriber.inflater is not None for subscriber in shared.connections)
            say({"ready": len(shared.connections), "deflate": deflated})
        elif command == "expect":
            seq = int(line[1])
            for subscriber in shared.connections:
                subscriber.expected = seq
            shared.counts.clear()
            shared.last.clear()
            say({"expecting": seq})
        elif command == "record":
            shared.arrivals = {}
            say({"recording": True})
        elif command == "dump":
            say({"arrivals": shared.arrivals or {}})
            shared.arrivals = None
        elif command == "close":
            closed = await close(shared)
            say({"closed": closed, "errors": shared.errors, "first_errors": shared.first_errors})
            shared.errors = 0
            shared.first_errors = []
        else:
            say({"error": f"unknown command {command!r}"})


def main() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uvloop.run(serve_commands(deflate="--deflate" in sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
