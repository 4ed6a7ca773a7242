#!/usr/bin/env python
"""Benchmark asgiws against uvicorn, granian, aiohttp's own server and a picows echo, on the same routes.

    python bench/run.py                      # full run: writes bench/RESULTS.md and bench/ratios.png
    python bench/run.py --quick              # short smoke run, prints the tables only
    python bench/run.py --only ws-32b-100    # one scenario (comma-separated names or prefixes)
    python bench/run.py --servers asgiws,uvicorn    # only these servers (the default: all four)
    python bench/run.py --servers uvicorn,uvicorn   # check the harness itself: ratios ~1
    python bench/run.py --checkout ../old --only ws-32b-100    # this checkout and asgiws@old, same run

Each server is a separate process pinned to core 0 (``taskset -c 0``); the
load generators (picows on uvloop for WebSocket, wrk for HTTP) are pinned to
core 1. Repeats interleave the servers, so drift in the machine's load hits
all alike; the tables report the median of the repeats, and every figure
next to its ratio to the scenario's reference row (asgiws) from the same run.
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

from report import goals_table, plot, table, write_markdown
from scenarios import MEASURE, SCENARIOS, Entry, Scenario, Timing
from servers import CEILING, CHECKOUTS, DEFAULT_SERVERS, SERVERS, ServerProcess, server_command

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


def attempt(scenario: Scenario, server: ServerProcess, timing: Timing, label: str,
            failures: dict[tuple[str, str], str]) -> dict | None:
    try:
        result = MEASURE[scenario.kind](server, scenario, timing)
    except Exception as exc:  # a failed run is reported, the benchmark goes on
        print(f"  {label:>10}: FAILED {exc!r}\n{server.log_tail()}", file=sys.stderr)
        failures[(scenario.name, label)] = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else repr(exc)
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


def rotation(scenario: Scenario, servers: list[tuple[str, str]], ceiling: bool) -> list[Entry]:
    """The rows of `scenario`: its own entries, or every server of the run (and the picows echo for WebSocket)."""
    if scenario.entries:
        return list(scenario.entries)
    entries = [Entry(label, name, scenario.app) for label, name in servers]
    if ceiling and scenario.kind == "ws" and CEILING not in {name for _, name in servers}:
        entries.append(Entry(CEILING, CEILING))
    return entries


Runs = dict[str, dict[str, list[dict]]]  # scenario -> row label -> one result per repeat


def run_load_scenarios(scenarios: list[Scenario], servers: list[tuple[str, str]], app: str, timing: Timing,
                       log_dir: Path, ceiling: bool, failures: dict[tuple[str, str], str]) -> Runs:
    """Throughput scenarios against long-lived servers, repeats interleaved across the rows.

    A server process is started once per (row, app) and reused by every
    scenario that needs it. With ``ceiling``, WebSocket scenarios also run
    against ceiling_echo.py, in the same rotation: the most the load
    generator can measure.
    """
    runs: Runs = {}
    with ExitStack() as stack:
        running: dict[tuple[str, str, str], ServerProcess] = {}
        for scenario in scenarios:
            print(f"{scenario.name}: {scenario.title}", file=sys.stderr)
            entries = rotation(scenario, servers, ceiling)
            runs[scenario.name] = {entry.label: [] for entry in entries}
            for _repeat in range(timing.repeats):
                for entry in entries:
                    key = (entry.label, entry.server, entry.app or app)
                    server = running.get(key)
                    if server is None or not server.alive():
                        if server is not None:
                            print(f"  {entry.label} died; restarting:\n{server.log_tail()}", file=sys.stderr)
                        try:
                            server = running[key] = stack.enter_context(
                                ServerProcess(entry.server, entry.app or app, log_dir))
                        except RuntimeError as exc:
                            print(f"  {entry.label:>10}: FAILED to start: {exc}", file=sys.stderr)
                            failures[(scenario.name, entry.label)] = f"did not start: {str(exc)[:200]}"
                            continue
                    result = attempt(scenario, server, timing, entry.label, failures)
                    if result is not None:
                        runs[scenario.name][entry.label].append(result)
    return runs


def run_memory_scenarios(scenarios: list[Scenario], servers: list[tuple[str, str]], app: str, timing: Timing,
                         log_dir: Path, failures: dict[tuple[str, str], str]) -> Runs:
    """RSS scenarios: a fresh server process for each measurement, repeats interleaved."""
    runs: Runs = {}
    for scenario in scenarios:
        print(f"{scenario.name}: {scenario.title} ({timing.idle_connections} connections)", file=sys.stderr)
        entries = rotation(scenario, servers, ceiling=False)
        runs[scenario.name] = {entry.label: [] for entry in entries}
        for entry in entries * timing.repeats:
            try:
                server = ServerProcess(entry.server, entry.app or app, log_dir).start()
            except RuntimeError as exc:
                print(f"  {entry.label:>10}: FAILED {exc}", file=sys.stderr)
                failures[(scenario.name, entry.label)] = f"did not start: {str(exc)[:200]}"
                continue
            try:
                result = attempt(scenario, server, timing, entry.label, failures)
            finally:
                server.stop()
            if result is not None:
                runs[scenario.name][entry.label].append(result)
    return runs


def display(command: list[str]) -> str:
    """A server command as a person would type it."""
    return shlex.join("python" if word == sys.executable else word for word in command).replace(
        "--port 0", "--port PORT")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (1 repeat, 1.5 s, 500 idle conns)")
    parser.add_argument("--only", help="comma-separated scenario names or prefixes: "
                        + ", ".join(s.name for s in SCENARIOS))
    parser.add_argument("--servers", default=",".join(DEFAULT_SERVERS),
                        help=f"comma-separated servers, the first the reference (default {','.join(DEFAULT_SERVERS)}; "
                             f"known: {', '.join(SERVERS)})")
    parser.add_argument("--app", default=DEFAULT_APP, help=f"ASGI app the ASGI servers load (default {DEFAULT_APP})")
    parser.add_argument("--duration", type=float, help="measured seconds per run (default 5, quick 1.5)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds before each run (default 1, quick 0.5)")
    parser.add_argument("--repeats", type=int, help="runs per scenario and server, median taken (default 3)")
    parser.add_argument("--idle-connections", type=int, help="connections for the RSS rows (default 5000)")
    parser.add_argument("--no-ceiling", action="store_true",
                        help="skip the picows echo (the load generator's ceiling) in WebSocket scenarios")
    parser.add_argument("--checkout", type=Path, metavar="DIR", action="append", default=[],
                        help="also run asgiws from the checkout in DIR (its C extensions built in place), as the "
                             "row asgiws@NAME, NAME the folder's name: commits measured in the same run; repeatable")
    parser.add_argument("--write", action="store_true",
                        help="write RESULTS.md and ratios.png even for --quick or --only runs")
    args = parser.parse_args(argv)

    names = [name.strip() for name in args.servers.split(",") if name.strip()]
    if not names or any(name not in SERVERS for name in names):
        parser.error(f"--servers takes names from {', '.join(SERVERS)}, e.g. asgiws,uvicorn")
    for position, checkout in enumerate(args.checkout, start=1):
        if not (checkout / "asgiws" / "__init__.py").is_file():
            parser.error(f"--checkout: {checkout} is not an asgiws checkout")
        name = f"asgiws@{checkout.resolve().name}"
        CHECKOUTS[name] = checkout.resolve()
        names.insert(position, name)
    servers = labelled(names)
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
    failures: dict[tuple[str, str], str] = {}
    with tempfile.TemporaryDirectory(prefix="asgiws-bench-") as log_dir:
        runs = run_load_scenarios([s for s in scenarios if s.kind != "rss"], servers, args.app, timing, Path(log_dir),
                                  ceiling=not args.no_ceiling, failures=failures)
        runs |= run_memory_scenarios([s for s in scenarios if s.kind == "rss"], servers, args.app, timing,
                                     Path(log_dir), failures)
    rows = [(s, {label: median_result(found) for label, found in runs[s.name].items()}) for s in scenarios]
    load_after = os.getloadavg()
    print("\n".join(["", *table(rows, failures), "", *goals_table(rows), ""]))
    took = time.monotonic() - started
    print(f"took {took:.0f} s; 1-min load average {load_before[0]:.2f} before, {load_after[0]:.2f} after",
          file=sys.stderr)

    if args.write or not (args.quick or args.only):
        arguments = argv if argv is not None else sys.argv[1:]
        command = "python bench/run.py" + "".join(f" {shlex.quote(a)}" for a in arguments)
        apps = sorted({args.app, *(s.app for s in scenarios if s.app)})
        settings = {
            "command": command,
            "servers": "; ".join(f"{label}: `{display(server_command(name, 'APP', 0))}`" for label, name in servers)
                       + f"; the ceiling: `{display(server_command(CEILING, '', 0))}`",
            "apps": f"ASGI servers load {', '.join(f'`{app}`' for app in apps)} (see each scenario); "
                    "`http-app-route` runs asgiws with `examples.echo:app`, `bench.apps:framework_app` and "
                    "`bench.apps:starlette_app`",
            "pinning": "server `taskset -c 0`, load generator `taskset -c 1`",
            "machine load": f"1-min load average {load_before[0]:.2f} before, {load_after[0]:.2f} after "
                            f"the run ({took:.0f} s); a busy machine shows "
                            "as server CPU well under 100% in the throughput rows",
            "timing": f"{timing.warmup:g} s warm-up then {timing.duration:g} s measured, {timing.repeats} repeats "
                      f"interleaved across servers, median reported; RSS rows: {timing.idle_connections} idle "
                      f"connections on a fresh server each time, {timing.repeats} repeats, median reported",
            "WebSocket load": "picows client on uvloop; every message timestamped, p99 of send-to-echo round trips; "
                              "compression offered only in `ws-deflate-1k-100` (the client's own permessage-deflate: "
                              "a pool of different 1 KiB JSON-like texts compressed before the run, every echo "
                              "inflated); its ceiling is measured in the same rotation against "
                              "`bench/ceiling_echo.py` (a picows echo server, no ASGI) on the server core",
            "HTTP load": "`wrk -t1 -c64 --latency`, keep-alive (`bench/wrk/*.lua` for the browser head and the "
                         "POST body); p99 from its latency distribution",
            "RSS": "VmRSS from /proc/PID/status (every process of the server) before and after opening the idle "
                   "connections (raw-socket handshakes; the deflate rows offer "
                   "`permessage-deflate; client_max_window_bits`; the `rss-used` rows first exchange one message "
                   "per connection, compressed when deflate was accepted), after 20 warm-up connections, divided "
                   "by the number of connections",
        }
        write_markdown(BENCH / "RESULTS.md", rows, failures, settings)
        try:
            plot(BENCH / "ratios.png", rows)
        except ImportError:
            print("matplotlib is missing (pip install -e '.[bench]'): no ratios.png", file=sys.stderr)
        print(f"wrote {BENCH / 'RESULTS.md'} and {BENCH / 'ratios.png'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
