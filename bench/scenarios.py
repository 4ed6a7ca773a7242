"""The benchmark scenarios and how each one is measured against a running server.

A measurement is a dict with ``value`` (the scenario's figure: msgs/s,
requests/s or KiB per connection) and, where they apply, ``p99_ms``,
``server_cpu`` and ``client_cpu`` (percent of one core over the measured
window), ``server_us_per_op`` (server CPU microseconds per message or
request: the efficiency figure, steadier than the rate on a busy machine),
plus ``notes``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cpu_time import process_cpu_seconds
from http_requests import BROWSER_JSON, POST_64K, BenchRequest
from servers import LOAD_CPU, ServerProcess, pinned, raise_open_files_limit

BENCH = Path(__file__).resolve().parent
SATURATED = 90.0  # load generator CPU %, above which its figure is only a floor


@dataclass(frozen=True)
class Timing:
    """How long and how often each scenario runs."""

    duration: float = 5.0
    warmup: float = 1.0
    repeats: int = 3
    idle_connections: int = 5000


@dataclass(frozen=True)
class Entry:
    """One row of a scenario: a server, and the ASGI app it loads (None: the scenario's, or the run's)."""

    label: str
    server: str
    app: str | None = None


@dataclass(frozen=True)
class Scenario:
    """One block of the results: what load to apply, to which servers, and the row the ratios divide by.

    By default every server of the run takes part (the picows echo only in
    WebSocket scenarios); `entries` instead fixes the rows, to compare apps
    on one server. `app` is the ASGI app the servers load for this scenario
    (None: the run's ``--app``); native servers serve the same routes their way.
    """

    name: str
    title: str
    kind: str  # "ws", "http" or "rss"
    unit: str
    higher_is_better: bool = True
    ws_options: tuple[str, ...] = ()
    deflate: bool = False
    echo_once: bool = False
    request: BenchRequest | None = None  # what wrk sends (None: GET /)
    app: str | None = None
    entries: tuple[Entry, ...] = ()
    reference: str = "asgiws"


#: The raw ASGI app with routes for every scenario (GET /json, POST /upload).
BENCH_APP = "bench.apps:raw_app"

SCENARIOS = [
    Scenario("ws-32b-1", "WS ping-pong 32 B text, 1 conn", "ws", "msgs/s",
             ws_options=("--connections", "1", "--size", "32")),
    Scenario("ws-32b-100", "WS ping-pong 32 B text, 100 conns", "ws", "msgs/s",
             ws_options=("--connections", "100", "--size", "32")),
    Scenario("ws-16k-stream", "WS stream 16 KiB binary, 10 conns x window 8", "ws", "msgs/s",
             ws_options=("--connections", "10", "--size", "16384", "--binary", "--window", "8")),
    Scenario("ws-1m-1", "WS ping-pong 1 MiB binary, 1 conn", "ws", "msgs/s",
             ws_options=("--connections", "1", "--size", str(1 << 20), "--binary")),
    Scenario("ws-deflate-1k-100", "WS ping-pong 1 KiB JSON-like text, permessage-deflate, 100 conns", "ws", "msgs/s",
             ws_options=("--connections", "100", "--size", "1024", "--deflate"), deflate=True),
    Scenario("http-hello", "HTTP GET / hello, keep-alive, 64 conns (wrk)", "http", "req/s"),
    Scenario("http-browser-json", "HTTP GET /json 4 KiB JSON, 16-line browser head, 64 conns (wrk)", "http",
             "req/s", request=BROWSER_JSON, app=BENCH_APP),
    Scenario("http-post-64k", "HTTP POST /upload 64 KiB body, 64 conns (wrk)", "http", "req/s",
             request=POST_64K, app=BENCH_APP),
    Scenario("http-app-route", "HTTP GET / hello through a framework route, asgiws, 64 conns (wrk)", "http", "req/s",
             entries=(Entry("raw ASGI", "asgiws", "examples.echo:app"),
                      Entry("App", "asgiws", "bench.apps:framework_app"),
                      Entry("Starlette", "asgiws", "bench.apps:starlette_app")),
             reference="raw ASGI"),
    Scenario("rss-idle", "RSS per idle WebSocket, no compression", "rss", "KiB/conn", higher_is_better=False),
    Scenario("rss-idle-deflate", "RSS per idle WebSocket, permessage-deflate", "rss", "KiB/conn",
             higher_is_better=False, deflate=True),
    Scenario("rss-used", "RSS per WebSocket idle after one echo, no compression", "rss", "KiB/conn",
             higher_is_better=False, echo_once=True),
    Scenario("rss-used-deflate", "RSS per WebSocket idle after one echo, permessage-deflate", "rss", "KiB/conn",
             higher_is_better=False, deflate=True, echo_once=True),
]


def python_tool(script: str, *options: str) -> list[str]:
    return pinned(LOAD_CPU, [sys.executable, str(BENCH / script), *options])


def measure_ws(server: ServerProcess, scenario: Scenario, timing: Timing) -> dict:
    """One run of the picows load generator against ``server``."""
    command = python_tool(
        "ws_load.py", "--url", f"ws://127.0.0.1:{server.port}/", *scenario.ws_options,
        "--duration", str(timing.duration), "--warmup", str(timing.warmup),
        "--server-pid", str(server.pid),
    )
    timeout = timing.duration + timing.warmup + 60
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"ws_load failed: {done.stderr.strip()[-800:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "value": result["rate"],
        "p99_ms": result["p99_ms"],
        "server_cpu": result["server_cpu"],
        "client_cpu": result["client_cpu"],
        "server_us_per_op": cpu_microseconds_per_op(result["server_cpu"], result["rate"]),
        "notes": result["errors"],
    }


def cpu_microseconds_per_op(cpu_percent: float, rate: float) -> float:
    return 1e4 * cpu_percent / rate if rate else float("nan")


def run_wrk(server: ServerProcess, seconds: float, options: tuple[str, ...] = ()) -> tuple[str, float, float]:
    """Run wrk pinned to the load core; return its output, the wall time and the server's CPU seconds."""
    duration = max(1, round(seconds))
    command = pinned(LOAD_CPU, ["wrk", "-t1", "-c64", f"-d{duration}s", "--latency", *options,
                                f"http://127.0.0.1:{server.port}/"])
    server_cpu_0 = process_cpu_seconds(server.pid)
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        output = process.communicate(timeout=duration + 30)[0].decode(errors="replace")
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    wall = time.perf_counter() - started
    server_cpu = process_cpu_seconds(server.pid) - server_cpu_0
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed: {output[-800:]}")
    return output, wall, server_cpu


DURATION_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def wrk_milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * DURATION_UNITS[unit]


def parse_wrk(output: str) -> dict:
    """Requests/s, p99 latency and error counts out of ``wrk --latency`` output."""
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    notes = []
    for pattern in (r"Socket errors:.*", r"Non-2xx or 3xx responses:.*"):
        found = re.search(pattern, output)
        if found:
            notes.append(found.group(0).strip())
    return {"value": rate, "p99_ms": wrk_milliseconds(p99.group(1)) if p99 else float("nan"), "notes": notes}


def measure_http(server: ServerProcess, scenario: Scenario, timing: Timing) -> dict:
    """A wrk warm-up run, then the measured run.

    wrk's CPU comes from the children's rusage (``os.times``) around the run,
    which counts wrk once it has been reaped; the server's from /proc.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="wrk-") as script:
        options: tuple[str, ...] = ()
        if scenario.request is not None:
            script.write(scenario.request.wrk_script())
            script.flush()
            options = ("-s", script.name)
        run_wrk(server, timing.warmup, options)
        before = os.times()
        output, wall, server_cpu = run_wrk(server, timing.duration, options)
    after = os.times()
    wrk_cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    result = parse_wrk(output)
    result["server_cpu"] = 100.0 * server_cpu / wall
    result["client_cpu"] = 100.0 * wrk_cpu / wall
    result["server_us_per_op"] = cpu_microseconds_per_op(result["server_cpu"], result["value"])
    return result


def hold_idle(server: ServerProcess, count: int, scenario: Scenario) -> tuple[subprocess.Popen, int, int]:
    """Start ws_idle.py holding ``count`` connections; return it once all are open."""
    command = python_tool("ws_idle.py", "--port", str(server.port), "--connections", str(count),
                          *(["--deflate"] if scenario.deflate else []),
                          *(["--echo-once"] if scenario.echo_once else []))
    holder = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, preexec_fn=raise_open_files_limit)
    line = holder.stdout.readline()
    if not line.startswith("ready"):
        holder.kill()
        raise RuntimeError(f"ws_idle failed: {holder.stderr.read()[-800:]}")
    _, opened, deflated = line.split()
    return holder, int(opened), int(deflated)


def release(holder: subprocess.Popen) -> None:
    holder.stdin.close()
    try:
        holder.wait(30)
    except subprocess.TimeoutExpired:
        holder.kill()
        holder.wait(5)


def measure_rss(server: ServerProcess, scenario: Scenario, timing: Timing) -> dict:
    """VmRSS growth of a fresh server per idle WebSocket.

    A first batch of 20 connections is opened and closed so that one-time
    costs (lazy imports, first-use caches) land in the baseline, not in the
    per-connection figure.
    """
    warm, _, _ = hold_idle(server, 20, scenario)
    release(warm)
    time.sleep(0.5)
    before = server.rss_kib()
    holder, opened, deflated = hold_idle(server, timing.idle_connections, scenario)
    try:
        time.sleep(1.0)
        after = server.rss_kib()
    finally:
        release(holder)
    notes = []
    expected_deflated = opened if scenario.deflate else 0
    if deflated != expected_deflated:
        notes.append(f"deflate accepted on {deflated}/{opened} connections")
    return {"value": (after - before) / opened, "notes": notes,
            "rss_before_kib": before, "rss_after_kib": after, "connections": opened}


MEASURE = {"ws": measure_ws, "http": measure_http, "rss": measure_rss}
