"""What a framework route costs per request, in process: `python bench/app_route.py [seconds]`.

Calls the three apps of the `http-app-route` scenario -- raw ASGI
(`examples.echo:app`), asgiws's `App` and Starlette (`bench.apps`) -- with
the scope asgiws's server builds for ``GET /``, a `receive` that hands over
the empty body and a `send` that drops what it gets: no sockets, no server,
only the app. Each app is called back to back from one coroutine on the
event loop (no task per call, the same for all three), in interleaved
rounds; the figure is the best round's ns per call.

Printed as ratios within the run, as every figure of the benchmark:
App ÷ raw, App ÷ Starlette, and what each framework adds over raw ASGI.

``--instructions`` counts instead the CPU instructions per call under
valgrind (cachegrind, no cache simulation; ~1 min): the same figure on a
quiet machine or a busy one, for a shared machine where timings wander.
``--server`` counts instructions the same way, but per request served by
the asgiws server (`python -m asgiws`) under valgrind, on one keep-alive
connection, one request at a time (~3 min): what each app costs with the
server's own work around it, the figure the goals are about.
``--profile App`` runs the App path under cProfile and prints where its
time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import apps
from examples.echo import app as raw_app

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.4"},
    "http_version": "1.1",
    "server": ("127.0.0.1", 8000),
    "client": ("127.0.0.1", 50000),
    "scheme": "http",
    "method": "GET",
    "root_path": "",
    "path": "/",
    "raw_path": b"/",
    "query_string": b"",
    "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*")],
}

_REQUEST = {"type": "http.request", "body": b"", "more_body": False}


async def receive() -> dict[str, Any]:
    return _REQUEST


async def send(message: dict[str, Any]) -> None:
    pass


async def null_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """What the driver itself costs: the call and a fresh scope, no work."""


async def _calls(app: Any, count: int) -> float:
    """ns per call of `count` calls, each with a fresh scope (apps write into theirs) as the server makes."""
    scope = SCOPE
    start = time.perf_counter_ns()
    for _ in range(count):
        await app({**scope, "state": {}}, receive, send)
    return (time.perf_counter_ns() - start) / max(count, 1)


def _check(app: Any) -> None:
    """The app answers 200 with the hello body: the benchmark measures a working route."""
    sent: list[dict[str, Any]] = []

    async def record(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({**SCOPE, "state": {}}, receive, record))
    assert sent[0]["status"] == 200 and sent[-1]["body"] == apps.HELLO, sent


def measure(targets: dict[str, Any], seconds: float, count: int = 2000) -> dict[str, float]:
    """Best ns per call of each app over interleaved rounds lasting about `seconds` in all."""
    best = {name: float("inf") for name in targets}

    async def rounds() -> None:
        for app in targets.values():  # warm-up: first-call set-up, caches
            await _calls(app, count)
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            for name, app in targets.items():
                best[name] = min(best[name], await _calls(app, count))

    asyncio.run(rounds())
    return best


def profile(app: Any, count: int, top: int) -> None:
    """cProfile of `count` calls of `app`, the functions sorted by their own time."""
    profiler = cProfile.Profile()

    async def run() -> None:
        await _calls(app, 100)
        profiler.enable()
        await _calls(app, count)
        profiler.disable()

    asyncio.run(run())
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(top)


def run_calls(app: Any, count: int) -> None:
    """Warm `app` up, then call it `count` times: what `--instructions` counts under valgrind."""

    async def run() -> None:
        await _calls(app, 200)
        await _calls(app, count)

    asyncio.run(run())


def instructions(names: list[str], count: int = 20_000) -> dict[str, float]:
    """Instructions per call of each app: valgrind's count for `count` calls minus that for none, ÷ `count`."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")

    def total(name: str, calls: int) -> int:
        command = [valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                   sys.executable, __file__, "--run", name, "--count", str(calls)]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stderr
        found = re.search(r"I\s+refs:\s+([\d,]+)", output)
        assert found is not None, output
        return int(found.group(1).replace(",", ""))

    return {name: (total(name, count) - total(name, 0)) / count for name in names}


SERVED = {"raw": "examples.echo:app", "App": "bench.apps:framework_app", "Starlette": "bench.apps:starlette_app"}
_ROOT = Path(__file__).resolve().parent.parent
_GET = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: app_route\r\nAccept: */*\r\n\r\n"


def _requests(port: int, count: int) -> None:
    """`count` GET / on one keep-alive connection, each answer read whole before the next request."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        buffer = b""
        for _ in range(count):
            sock.sendall(_GET)
            while b"\r\n\r\n" not in buffer:
                buffer += sock.recv(65536)
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            while len(buffer) < length:
                buffer += sock.recv(65536)
            buffer = buffer[length:]


def server_instructions(names: list[str], count: int = 2000) -> dict[str, float]:
    """Instructions per request of the asgiws server serving each app: (2 `count` requests - `count`) ÷ `count`."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--server needs valgrind (apt-get install valgrind)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")]))}

    def total(name: str, requests: int) -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command = [valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                   sys.executable, "-m", "asgiws", "--port", str(port), "--log-level", "warning",
                   "--no-access-log", SERVED[name]]
        server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=_ROOT, env=env)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    _requests(port, 200)  # also the warm-up
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise
                    time.sleep(0.5)
            _requests(port, requests)
        finally:
            server.send_signal(signal.SIGINT)
            _, output = server.communicate(timeout=120)
        found = re.search(r"I\s+refs:\s+([\d,]+)", output)
        assert found is not None, output
        return int(found.group(1).replace(",", ""))

    return {name: (total(name, 2 * count) - total(name, count)) / count for name in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seconds", nargs="?", type=float, default=6.0, help="measuring time in all (default 6)")
    parser.add_argument("--profile", choices=("App", "Starlette", "raw"), help="profile one app instead")
    parser.add_argument("--top", type=int, default=25, help="functions the profile lists (default 25)")
    parser.add_argument("--instructions", action="store_true", help="count instructions per call under valgrind")
    parser.add_argument("--server", action="store_true", help="count instructions per request served by asgiws")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # --instructions' child: call one app --count times
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    targets: dict[str, Callable[..., Any]] = {
        "null": null_app,
        "raw": raw_app,
        "App": apps.framework_app,
        "Starlette": apps.starlette_app,
    }
    if args.run:
        run_calls(targets[args.run], args.count)
        return
    for name, app in targets.items():
        if name != "null":
            _check(app)
    if args.profile:
        profile(targets[args.profile], 100_000, args.top)
        return
    if args.server:
        served = server_instructions(list(SERVED))
        for name, figure in served.items():
            print(f"{name:>10s}: {figure:8.0f} instructions per request")
        raw, app, star = served["raw"], served["App"], served["Starlette"]
        print(f"App ÷ raw: {app / raw:.2f}x   App ÷ Starlette: {app / star:.2f}x   (issue 12 goal 6: <= 1.2x, <= 0.6x)")
        return
    if args.instructions:
        best = instructions(list(targets))
        unit = "instructions"
    else:
        best = measure(targets, args.seconds)
        unit = "ns"
    null, raw, app, star = best["null"], best["raw"], best["App"], best["Starlette"]
    for name, figure in best.items():
        print(f"{name:>10s}: {figure:8.0f} {unit} per call")
    print(f"App ÷ raw: {app / raw:.2f}x   App ÷ Starlette: {app / star:.2f}x")
    print(f"over raw ASGI: App adds {app - raw:+.0f} {unit}, Starlette adds {star - raw:+.0f} {unit}"
          f"  (App's overhead ÷ Starlette's: {(app - raw) / (star - raw):.2f}x; driver alone {null:.0f} {unit})")


if __name__ == "__main__":
    main()
