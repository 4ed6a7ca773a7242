"""Soak: many WebSockets echo many verified messages through one asgiws process; nothing lost, and no growth.

    python bench/soak.py                                   # 1,000 connections x 1,000 messages, each mode
    python bench/soak.py --connections 40 --messages 100 --json

For each mode (``plain``: the clients offer no extension; ``deflate``: they
offer permessage-deflate, which the server accepts by default) a fresh
``python -m asgiws examples.echo:app`` process (pinned to core 0) echoes
``--messages`` messages on each of ``--connections`` WebSockets, opened by
``--processes`` client processes (asgiws.connect on uvloop).

Every message is text or binary at random and carries its sequence number
and the CRC-32 and length of its payload, whose size is drawn at random from
1 B to 64 KiB (log-uniform, so that every size class from a byte to 64 KiB
is well represented; the first six messages of every connection are 1, 125,
126, 127, 65535 and 65536 bytes, the frame-length boundaries). Text is cut from a
UTF-8 corpus with multi-byte characters; binary from a buffer half random
(incompressible), half repetitive. Each connection keeps up to ``--window``
messages in flight. The client checks every echo against what it sent:
the kind, length and CRC-32 of the payload by sequence number (a mismatch
is *corrupted*), a sequence number seen before (*duplicated*), one below the
highest seen so far (*reordered*), and those never seen once the connection
is done (*lost*).

The first ``--warmup`` messages of every connection are the warm-up. The
server's VmRSS is read with every connection open and idle after the
warm-up, then again after the run: the growth must stay within 10 %.
Prints the counts and RSS per mode, and PASS or FAIL; ``--json`` prints
the same as one JSON object, for the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import struct
import sys
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from client_pool import (
    MODES,
    ClientPool,
    Errors,
    Report,
    add_arguments,
    close_connections,
    deflate_accepted,
    merged_errors,
    open_connections,
    run_modes,
    split,
    total,
)
from servers import ServerProcess

MAX_SIZE = 64 * 1024
#: Payload sizes every connection sends first: around the 7-bit, 16-bit and 64-bit frame length forms.
BOUNDARY_SIZES = (1, 125, 126, 127, 65535, 65536)
#: A binary message: sequence number, CRC-32 and length of the payload, then the payload.
BINARY_HEADER = struct.Struct("!III")
#: A text message: the same three numbers as 8 hex digits each, then the payload.
TEXT_HEADER = 24
#: Growth of the server's RSS from after the warm-up to after the run that passes.
RSS_GROWTH_LIMIT = 0.10
COUNTS = ("sent", "verified", "corrupted", "duplicated", "reordered", "lost")


def text_corpus(rng: random.Random) -> bytes:
    """UTF-8 text with 1- to 4-byte characters, a little over 128 KiB."""
    words = ["alpha", "beta", "gamma", "delta", "épsilon", "ζῆτα", "中文字", "😀🙃", "lorem", "ipsum", "\n", '{"k": 1}']
    parts: list[str] = []
    size = 0
    while size < 2 * MAX_SIZE + 1024:
        word = rng.choice(words) + str(rng.randrange(1000)) + " "
        parts.append(word)
        size += len(word.encode())
    return "".join(parts).encode()


def binary_corpus(rng: random.Random) -> bytes:
    """128 KiB: random bytes (deflate cannot shrink them), then a repetitive record format (it can)."""
    repetitive = b"".join(b"record %06d: value=%d;" % (index, rng.randrange(50)) for index in range(4000))
    return rng.randbytes(MAX_SIZE) + repetitive[:MAX_SIZE]


class Stream:
    """One connection's messages: what was sent, by sequence number, and what came back."""

    __slots__ = ("ws", "rng", "messages", "window", "expected", "seen", "highest", "counts", "text", "binary")

    def __init__(self, ws: Any, seed: int, messages: int, window: int, text: bytes, binary: bytes) -> None:
        self.ws = ws
        self.rng = random.Random(seed)
        self.messages = messages
        self.window = asyncio.Semaphore(window)
        self.expected: list[tuple[bool, int, int] | None] = [None] * messages  # (is text, length, crc)
        self.seen = bytearray(messages)
        self.highest = -1
        self.counts = dict.fromkeys(COUNTS, 0)
        self.text = text
        self.binary = binary

    def message(self, seq: int) -> str | bytes:
        rng = self.rng
        size = BOUNDARY_SIZES[seq] if seq < len(BOUNDARY_SIZES) else min(MAX_SIZE, int(2 ** rng.uniform(0, 16)))
        if rng.random() < 0.5:
            start = rng.randrange(len(self.text) - size)
            # Cut on character boundaries: up to 3 bytes short at either end.
            text = self.text[start : start + size].decode("utf-8", "ignore") or "x" * size
            body = text.encode()
            crc = zlib.crc32(body)
            self.expected[seq] = (True, len(body), crc)
            return f"{seq:08x}{crc:08x}{len(body):08x}" + text
        start = rng.randrange(len(self.binary) - size)
        payload = self.binary[start : start + size]
        crc = zlib.crc32(payload)
        self.expected[seq] = (False, size, crc)
        return BINARY_HEADER.pack(seq, crc, size) + payload

    async def send(self, first: int, end: int) -> None:
        ws = self.ws
        for seq in range(first, end):
            await self.window.acquire()
            await ws.send(self.message(seq))
            self.counts["sent"] += 1

    async def receive(self, count: int, deadline: asyncio.Timeout, stall: float) -> None:
        ws = self.ws
        loop = asyncio.get_running_loop()
        while count:
            message = await ws.recv()
            if message is None:
                raise ConnectionError(f"closed by the server with {ws.close_code} {ws.close_reason!r}")
            deadline.reschedule(loop.time() + stall)
            if self.check(message):
                count -= 1
                self.window.release()

    def check(self, message: str | bytes) -> bool:
        """Count `message`; whether it is the echo of one not received before (corrupted or not)."""
        counts = self.counts
        try:
            if isinstance(message, str):
                seq, crc, length = int(message[:8], 16), int(message[8:16], 16), int(message[16:24], 16)
                body: bytes | memoryview = message[TEXT_HEADER:].encode()
            else:
                seq, crc, length = BINARY_HEADER.unpack_from(message)
                body = memoryview(message)[BINARY_HEADER.size :]
        except (ValueError, struct.error):
            counts["corrupted"] += 1  # not even a header: it cannot be told which one it was
            return False
        if not 0 <= seq < self.messages or self.expected[seq] is None:
            counts["corrupted"] += 1
            return False
        if self.seen[seq]:
            counts["duplicated"] += 1
            return False
        self.seen[seq] = 1
        if seq < self.highest:
            counts["reordered"] += 1
        self.highest = max(self.highest, seq)
        if (
            self.expected[seq] != (isinstance(message, str), length, crc)
            or len(body) != length
            or zlib.crc32(body) != crc
        ):
            counts["corrupted"] += 1
        else:
            counts["verified"] += 1
        return True

    async def exchange(self, first: int, end: int, stall: float) -> None:
        """Send messages `first` to `end` and receive as many echoes; TimeoutError when none comes for `stall` s."""
        async with asyncio.timeout(stall) as deadline:
            await asyncio.gather(self.send(first, end), self.receive(end - first, deadline, stall))

    def lost(self) -> int:
        return self.messages - sum(self.seen)


async def session(first: int, share: int, options: dict[str, Any]) -> AsyncIterator[Report]:
    """One client process: open connections `first` to `first + share`; the warm-up; the run; close them."""
    errors = Errors()
    seed = options["seed"] * 1_000_003 + first
    rng = random.Random(seed)
    text, binary = text_corpus(rng), binary_corpus(rng)
    connections = await open_connections(options, share, errors)
    streams = [
        Stream(ws, seed + index, options["messages"], options["window"], text, binary)
        for index, ws in enumerate(connections)
    ]
    deflated = sum(deflate_accepted(ws) for ws in connections)
    yield {"opened": len(streams), "deflate": deflated, "errors": dict(errors)}

    for start, end in ((0, options["warmup"]), (options["warmup"], options["messages"])):
        await asyncio.gather(*(errors.counting(stream.exchange(start, end, options["stall"])) for stream in streams))
        counts = {name: sum(stream.counts[name] for stream in streams) for name in COUNTS}
        counts["lost"] = sum(stream.lost() for stream in streams) if end == options["messages"] else 0
        yield {**counts, "errors": dict(errors)}

    closed = await close_connections(connections, errors)
    yield {"closed": closed, "errors": dict(errors)}


def run_mode(mode: str, args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    """The soak in one server process; its counts and RSS figures."""
    options = {
        "compression": MODES[mode], "messages": args.messages, "warmup": args.warmup, "window": args.window,
        "seed": args.seed, "stall": args.stall,
    }  # fmt: skip
    with ServerProcess("asgiws", args.app, log_dir) as server:
        options["uri"] = f"ws://127.0.0.1:{server.port}/"
        rss_start = server.rss_kib()
        with ClientPool(session, split(args.connections, args.processes), options) as pool:
            phases = pool.phases(4, args.timeout, server.rss_kib)  # open, warm-up, run, close
        (opened, _), (_, rss_warm), (done, rss_run), (closed, _) = phases
        alive = server.alive()
        figures: dict[str, Any] = {
            "connections": args.connections,
            "opened": total(opened, "opened"),
            "deflate": total(opened, "deflate"),
            "messages_expected": args.connections * args.messages,
            **{name: total(done, name) for name in COUNTS},
            "closed_1000": total(closed, "closed"),
            "errors": merged_errors(closed),
            "server_errors": server.error_lines(),
            "server_alive_to_the_end": alive,
            "rss_start_kib": rss_start,
            "rss_warm_kib": rss_warm,
            "rss_run_kib": rss_run,
            "rss_growth": round((rss_run - rss_warm) / rss_warm, 4),
        }
    figures["passed"] = (
        figures["verified"] == figures["messages_expected"]
        and not any(figures[name] for name in ("corrupted", "duplicated", "reordered", "lost"))
        and figures["closed_1000"] == args.connections
        and not figures["errors"]
        and not figures["server_errors"]
        and alive
        and figures["rss_growth"] <= RSS_GROWTH_LIMIT
    )
    return figures


def print_report(results: dict[str, Any]) -> None:
    print(f"load average before: {results['load_average']}")
    for mode, f in results["modes"].items():
        print(f"\n{mode}: {f['opened']}/{f['connections']} connections, {f['deflate']} with permessage-deflate")
        print(
            f"  messages: {f['sent']} sent, {f['verified']}/{f['messages_expected']} echoed and verified; "
            f"corrupted {f['corrupted']}, duplicated {f['duplicated']}, reordered {f['reordered']}, lost {f['lost']}"
        )
        print(
            f"  closed with 1000: {f['closed_1000']}; client errors: {f['errors'] or 'none'}; "
            f"server error lines: {len(f['server_errors'])}"
        )
        for line in f["server_errors"][:5]:
            print(f"    {line}")
        print(
            f"  server RSS (MiB): start {f['rss_start_kib'] / 1024:.1f}, after warm-up {f['rss_warm_kib'] / 1024:.1f}, "
            f"after the run {f['rss_run_kib'] / 1024:.1f} ({f['rss_growth']:+.1%}, limit +{RSS_GROWTH_LIMIT:.0%})"
        )
        print(f"  {'PASS' if f['passed'] else 'FAIL'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser, connections=1000, timeout=3600)
    parser.add_argument("--messages", type=int, default=1000, help="per connection")
    parser.add_argument("--warmup", type=int, help="messages per connection before the first RSS reading (10 %%)")
    parser.add_argument("--window", type=int, default=4, help="messages in flight per connection")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = max(len(BOUNDARY_SIZES), args.messages // 10)
    if not 0 < args.warmup < args.messages:
        parser.error("--warmup must be between 0 and --messages")
    results = run_modes(parser, args, run_mode)
    if args.json:
        print(json.dumps(results))
    else:
        print_report(results)
    return 0 if all(figures["passed"] for figures in results["modes"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
