"""Benchmark the WebSocket protocol core: frame parsing + unmasking, and apply_mask.

Run: python bench/core_frames.py [seconds per case, default 1.0]

* parse+unmask: masked binary messages (as a client sends them) fed into a
  server-side `WebSocketConnection`; 32 B and 16 KiB messages one frame per
  `receive_data` call (one socket read each), 1 MiB messages in 64 KiB reads.
  websockets' sans-I/O `Protocol` gets the same reads in the same run.
* apply_mask on 1 MiB: ours vs `websockets.speedups.apply_mask`, same run.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from asgiws.protocol.connection import Side, WebSocketConnection
from asgiws.protocol.frames import Frame, Opcode, serialize_frame
from asgiws.protocol.mask import apply_mask


def _rate(func: Callable[[], object], seconds: float) -> float:
    """Calls per second of `func`, best of three slices of `seconds`/3."""
    best = 0.0
    for _ in range(3):
        n = 0
        batch = 1
        start = time.perf_counter()
        deadline = start + seconds / 3
        while True:
            for _ in range(batch):
                func()
            n += batch
            now = time.perf_counter()
            if now >= deadline:
                break
            batch = min(batch * 2, 4096)
        best = max(best, n / (now - start))
    return best


def bench_parse(size: int, seconds: float, read_size: int = 65536) -> dict[str, float]:
    """Masked binary messages of `size` bytes through a server-side connection."""
    conn = WebSocketConnection(Side.SERVER, max_size=None)
    wire = serialize_frame(Frame(Opcode.BINARY, os.urandom(size)), mask=True)
    reads = [wire[i : i + read_size] for i in range(0, len(wire), read_size)]
    receive = conn.receive_data
    if len(reads) == 1:

        def one() -> object:
            return receive(wire)

    else:

        def one() -> object:
            for chunk in reads:
                events = receive(chunk)
            return events

    assert len(one()) == 1  # type: ignore[arg-type]
    rate = _rate(one, seconds)
    result = {"messages_per_s": rate, "us_per_message": 1e6 / rate, "MB_per_s": rate * size / 1e6}
    ws_one = _websockets_receiver(reads)
    if ws_one is not None:
        # Same run, for context; then ours again (glibc's heap trimming makes
        # the first big-message runs of a process pay page faults).
        ws_rate = _rate(ws_one, seconds)
        rate = max(rate, _rate(one, seconds))
        result.update(messages_per_s=rate, us_per_message=1e6 / rate, MB_per_s=rate * size / 1e6)
        result["websockets_MB_per_s"] = ws_rate * size / 1e6
    return result


def _websockets_receiver(reads: list[bytes]) -> Callable[[], object] | None:
    """The same reads through websockets' sans-I/O protocol, if installed."""
    try:
        from websockets.protocol import Protocol
        from websockets.protocol import Side as WSSide
        from websockets.protocol import State as WSState
    except ImportError:
        return None
    protocol = Protocol(WSSide.SERVER, state=WSState.OPEN, max_size=None)

    def one() -> object:
        for chunk in reads:
            protocol.receive_data(chunk)
        return protocol.events_received()

    return one


def bench_mask(seconds: float) -> dict[str, float]:
    """apply_mask on 1 MiB: ours vs websockets.speedups in the same run."""
    data = os.urandom(2**20)
    key = os.urandom(4)
    result = {"ours_MB_per_s": _rate(lambda: apply_mask(data, key), seconds) * len(data) / 1e6}
    try:
        from websockets.speedups import apply_mask as ws_apply_mask
    except ImportError:
        return result
    result["websockets_MB_per_s"] = _rate(lambda: ws_apply_mask(data, key), seconds) * len(data) / 1e6
    result["ratio"] = result["ours_MB_per_s"] / result["websockets_MB_per_s"]
    return result


def bench_frames(seconds: float = 1.0) -> dict[str, dict[str, float]]:
    """All cases; `seconds` per case."""
    return {
        "parse_32B": bench_parse(32, seconds),
        "parse_16KiB": bench_parse(16 * 1024, seconds),
        "parse_1MiB": bench_parse(2**20, seconds),
        "apply_mask_1MiB": bench_mask(seconds),
    }


if __name__ == "__main__":
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    for case, figures in bench_frames(secs).items():
        print(f"{case:16s} " + "  ".join(f"{k}={v:,.2f}" for k, v in figures.items()))
