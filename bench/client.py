"""The client's cost: `asgiws.connect()` echo round trips against the fastest echo server at hand.

The server is `ceiling_echo.py` (picows, Cython, no ASGI) pinned to core 0, so
that nearly all the Python measured is the client's; the client runs in this
process, pinned to core 1, on uvloop. Each of ``--connections`` connections
sends ``--window`` messages, then receives their echoes, and again. Over the
``--duration`` seconds after ``--warmup`` it counts the echoes and its own CPU
time (getrusage), and prints one JSON object: the rate, the client's CPU %
and its CPU microseconds per echoed message, the figure to compare.

    python bench/client.py --connections 1
    python bench/client.py --connections 100 --window 8

It measures the asgiws it imports: to compare two checkouts, run it with
each one's folder as PYTHONPATH, alternating, on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from time import perf_counter
from typing import Any

import uvloop
from cpu_time import own_cpu_seconds
from servers import CEILING, LOAD_CPU, ServerProcess
from ws_load import Run

import asgiws


async def echo(ws: Any, payload: str, window: int, run: Run) -> None:
    while run.sending:
        for _ in range(window):
            await ws.send(payload)
        for _ in range(window):
            await ws.recv()
        if run.measuring:
            run.received += window


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    connections = [await asgiws.connect(url, compression=None) for _ in range(args.connections)]
    run = Run()
    run.sending = True
    payload = "x" * args.size
    tasks = [asyncio.ensure_future(echo(ws, payload, args.window, run)) for ws in connections]
    await asyncio.sleep(args.warmup)
    run.measuring = True
    cpu_0 = own_cpu_seconds()
    t0 = perf_counter()
    await asyncio.sleep(args.duration)
    run.measuring = False
    elapsed = perf_counter() - t0
    cpu = own_cpu_seconds() - cpu_0
    messages = run.received
    run.sending = False
    await asyncio.gather(*tasks)
    await asyncio.gather(*(ws.close() for ws in connections))
    return {
        "asgiws": str(Path(asgiws.__file__).parent.parent),
        "connections": args.connections,
        "window": args.window,
        "messages": messages,
        "rate": messages / elapsed,
        "client_cpu": 100.0 * cpu / elapsed,
        "client_us_per_msg": 1e6 * cpu / messages if messages else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--window", type=int, default=1, help="messages in flight per connection")
    parser.add_argument("--size", type=int, default=32, help="text message length")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {int(LOAD_CPU)})
    with tempfile.TemporaryDirectory() as logs, ServerProcess(CEILING, "", Path(logs)) as server:
        result = uvloop.run(measure(f"ws://127.0.0.1:{server.port}/", args))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
