#!/usr/bin/env python
"""Benchmark asgiws against uvicorn serving the same raw ASGI echo app.

    python bench/run.py                      # full run: writes bench/RESULTS.md and bench/ratios.png
    python bench/run.py --quick              # short smoke run, prints the table only
    python bench/run.py --only ws-32b-100    # one scenario (comma-separated names or prefixes)
    python bench/run.py --servers uvicorn,uvicorn   # check the harness itself: ratios ~1

Each server is a separate process pinned to core 0 (``taskset -c 0``); the
load generators (picows on uvloop for WebSocket, wrk for HTTP) are pinned to
core 1. Repeats interleave the servers, so drift in the machine's load hits
both alike; the table reports the median of the repeats.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import plot, table, write_markdown
from scenarios import MEASURE, SCENARIOS, Scenario, Timing
from servers import CEILING, SERVER_OPTIONS, ServerProcess, server_command

BENCH = Path(__file__).resolve().parent
DEFAULT_APP = "examples.echo:app"
QUICK = Timing(duration=1.5, warmup=0.5, repeats=1, idle_connections=500)


def labelled(names: list[str]) -> list[tuple[str, str]]:
    """(label, server name) pairs; a name given twice gets a #2 label (for uvicorn,uvicorn checks)."""
    pairs = []
    for name in names:
        label = name if all(name != other for _, other in pairs) else f"{name}#{len(pairs) + 1}"
        pairs.append((label, name))
    return pairs


def selected(only: str | None) -> list[Scenario]:
    if not only:
        return list(SCENARIOS)
    wanted = [word.strip() for word in only.split(",") if word.strip()]
    names = {s.name for s in SCENARIOS}
    chosen = [s for s in SCENARIOS
              if any(s.name == w or (w not in names and s.name.startswith(w)) for w in wanted)]
    if not chosen:
        raise SystemExit(f"no scenario matches {only!r}; known: {', '.join(s.name for s in SCENARIOS)}")
    return chosen


def median_result(runs: list[dict]) -> dict:
    """Field-by-field median of the repeats; notes are pooled."""
    if not runs:
        return {}
    merged: dict = {"notes": sorted({note for run in runs for note in run.get("notes", [])})}
    for key in runs[0]:
        values = [run[key] for run in runs if isinstance(run.get(key), (int, float))]
        if values:
            merged[key] = statistics.median(values)
    merged["repeats"] = len(runs)
    return merged


def attempt(scenario: Scenario, server: ServerProcess, timing: Timing, label: str) -> dict | None:
    try:
        result = MEASURE[scenario.kind](server, scenario, timing)
    except Exception as exc:  # a failed run is reported, the benchmark goes on
        print(f"  {label:>10}: FAILED {exc!r}\n{server.log_tail()}", file=sys.stderr)
        return None
    p99 = result.get("p99_ms")
    print(
        f"  {label:>10}: {result['value']:>12,.1f} {scenario.unit}"
        + (f"  p99 {p99:.3f} ms" if p99 is not None else "")
        + (
            f"  server {result['server_cpu']:.0f}%  load-gen {result['client_cpu']:.0f}%"
            if "server_cpu" in result
            else ""
        )
        + (f"  {result['notes']}" if result.get("notes") else ""),
        file=sys.stderr,
    )
    return result


def run_load_scenarios(scenarios: list[Scenario], servers: list[tuple[str, str]], app: str, timing: Timing,
                       log_dir: Path, ceiling: bool) -> dict[str, dict[str, list[dict]]]:
    """Throughput scenarios against long-lived servers, repeats interleaved across servers.

    With ``ceiling``, WebSocket scenarios also run against ceiling_echo.py,
    in the same rotation: the most the load generator can measure.
    """
    runs: dict[str, dict[str, list[dict]]] = {s.name: {label: [] for label, _ in servers} for s in scenarios}
    if not scenarios:
        return runs
    with ExitStack() as stack:
        running: dict[str, ServerProcess] = {}
        for scenario in scenarios:
            print(f"{scenario.name}: {scenario.title}", file=sys.stderr)
            rotation = list(servers)
            if ceiling and scenario.kind == "ws":
                rotation.append((CEILING, CEILING))
                runs[scenario.name][CEILING] = []
            for _repeat in range(timing.repeats):
                for label, name in rotation:
                    server = running.get(label)
                    if server is None or not server.alive():
                        if server is not None:
                            print(f"  {label} died; restarting:\n{server.log_tail()}", file=sys.stderr)
                        try:
                            server = running[label] = stack.enter_context(ServerProcess(name, app, log_dir))
                        except RuntimeError as exc:
                            print(f"  {label:>10}: FAILED to start: {exc}", file=sys.stderr)
                            continue
                    result = attempt(scenario, server, timing, label)
                    if result is not None:
                        runs[scenario.name][label].append(result)
    return runs


def run_memory_scenarios(scenarios: list[Scenario], servers: list[tuple[str, str]], app: str, timing: Timing,
                         log_dir: Path) -> dict[str, dict[str, list[dict]]]:
    """RSS scenarios: a fresh server process for each measurement, repeats interleaved."""
    runs: dict[str, dict[str, list[dict]]] = {s.name: {label: [] for label, _ in servers} for s in scenarios}
    for scenario in scenarios:
        print(f"{scenario.name}: {scenario.title} ({timing.idle_connections} connections)", file=sys.stderr)
        for label, name in servers * timing.repeats:
            try:
                server = ServerProcess(name, app, log_dir).start()
            except RuntimeError as exc:
                print(f"  {label:>10}: FAILED {exc}", file=sys.stderr)
                continue
            try:
                result = attempt(scenario, server, timing, label)
            finally:
                server.stop()
            if result is not None:
                runs[scenario.name][label].append(result)
    return runs


def display(command: list[str]) -> str:
    """A server command as a person would type it."""
    return shlex.join("python" if word == sys.executable else word for word in command).replace(
        "--port 0", "--port PORT")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark asgiws against uvicorn on the same ASGI echo app.")
    parser.add_argument("--quick", action="store_true", help="short smoke run (1 repeat, 1.5 s, 500 idle conns)")
    parser.add_argument("--only", help="comma-separated scenario names or prefixes: "
                        + ", ".join(s.name for s in SCENARIOS))
    parser.add_argument("--servers", default="asgiws,uvicorn", help="CANDIDATE,BASELINE (default asgiws,uvicorn)")
    parser.add_argument("--app", default=DEFAULT_APP, help=f"ASGI app both servers load (default {DEFAULT_APP})")
    parser.add_argument("--duration", type=float, help="measured seconds per run (default 5, quick 1.5)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds before each run (default 1, quick 0.5)")
    parser.add_argument("--repeats", type=int, help="runs per scenario and server, median taken (default 3)")
    parser.add_argument("--idle-connections", type=int, help="connections for the RSS rows (default 5000)")
    parser.add_argument("--no-ceiling", action="store_true",
                        help="skip the load generator's ceiling (WebSocket scenarios against a picows echo server)")
    parser.add_argument("--write", action="store_true",
                        help="write RESULTS.md and ratios.png even for --quick or --only runs")
    args = parser.parse_args(argv)

    names = [name.strip() for name in args.servers.split(",")]
    if len(names) != 2 or any(name not in SERVER_OPTIONS for name in names):
        parser.error(f"--servers takes two of {sorted(SERVER_OPTIONS)}, e.g. asgiws,uvicorn")
    servers = labelled(names)
    (candidate, _), (baseline, _) = servers
    base = QUICK if args.quick else Timing()
    timing = Timing(
        duration=args.duration or base.duration,
        warmup=args.warmup if args.warmup is not None else base.warmup,
        repeats=args.repeats or base.repeats,
        idle_connections=args.idle_connections or base.idle_connections,
    )
    scenarios = selected(args.only)

    started = time.monotonic()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="asgiws-bench-") as log_dir:
        runs = run_load_scenarios([s for s in scenarios if s.kind != "rss"], servers, args.app, timing, Path(log_dir),
                                  ceiling=not args.no_ceiling)
        runs |= run_memory_scenarios([s for s in scenarios if s.kind == "rss"], servers, args.app, timing,
                                     Path(log_dir))
    rows = [(s, {label: median_result(found) for label, found in runs[s.name].items()}) for s in scenarios]
    print("\n".join(["", *table(rows, candidate, baseline), ""]))
    took = time.monotonic() - started
    print(f"took {took:.0f} s", file=sys.stderr)

    if args.write or not (args.quick or args.only):
        arguments = argv if argv is not None else sys.argv[1:]
        command = "python bench/run.py" + "".join(f" {shlex.quote(a)}" for a in arguments)
        settings = {
            "command": command,
            "servers": "; ".join(f"{label}: `{display(server_command(name, args.app, 0))}`" for label, name in servers),
            "pinning": "server `taskset -c 0`, load generator `taskset -c 1`",
            "machine load": f"1-min load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after "
                            f"the run ({took:.0f} s); a busy machine shows "
                            "as server CPU well under 100% in the throughput rows",
            "timing": f"{timing.warmup:g} s warm-up then {timing.duration:g} s measured, {timing.repeats} repeats "
                      f"interleaved across servers, median reported; RSS rows: {timing.idle_connections} idle "
                      f"connections on a fresh server each time, {timing.repeats} repeats, median reported",
            "WebSocket load": "picows client on uvloop, compression not offered (picows has no permessage-deflate); "
                              "every message timestamped, p99 of send-to-echo round trips; its ceiling is measured "
                              "in the same rotation against `bench/ceiling_echo.py` (a picows echo server, no ASGI) "
                              "on the server core",
            "HTTP load": "`wrk -t1 -c64 --latency`, keep-alive; p99 from its latency distribution",
            "RSS": "VmRSS from /proc/PID/status before and after opening the idle connections (raw-socket "
                   "handshakes; the deflate rows offer `permessage-deflate; client_max_window_bits`; the "
                   "`rss-used` rows first exchange one message per connection, compressed when deflate was "
                   "accepted), after 20 warm-up connections, divided by the number of connections",
        }
        write_markdown(BENCH / "RESULTS.md", rows, candidate, baseline, settings)
        try:
            plot(BENCH / "ratios.png", rows, candidate, baseline)
        except ImportError:
            print("matplotlib is missing (pip install -e '.[bench]'): no ratios.png", file=sys.stderr)
        print(f"wrote {BENCH / 'RESULTS.md'} and {BENCH / 'ratios.png'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
