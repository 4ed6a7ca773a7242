"""Fan-out benchmark: one message to many open WebSockets, asgiws `broadcast()` against websockets' and aiohttp.

    python bench/fanout.py                     # 10,000 clients; asgiws, websockets, aiohttp, 2 rounds (~7 min)
    python bench/fanout.py --quick             # 2,000 clients, fewer broadcasts: a smoke run
    python bench/fanout.py --redis             # also: 2 processes x 5,000 clients on one redis-server,
                                               # Redis latency at 1,000 msg/s, RSS per joined connection
    python bench/fanout.py --write             # also append the tables to bench/RESULTS.md

Each server (`fanout_server.py`) is one process pinned to core 0; the
clients (`fanout_clients.py`, picows on uvloop) are `--client-processes`
processes pinned to core 1, and check every message's sequence number on
every connection. The same client processes serve every server in turn.

Per server: `--singles` broadcasts of one 32 B text message, one at a time
(the next once every client has the previous one): time until the last
client has it, p50 and p99, measured from just before the server's
broadcast call (`time.monotonic()`, one clock for all processes); then
`--bursts` bursts of 100 broadcasts in one go: deliveries per second until
the last client has the last message. Also the server's CPU time per
delivery, the tasks alive after the broadcast call minus before (counted
in the untimed warm-up: 3 broadcasts and a burst), and the
garbage collector's passes during the run (`gc.callbacks` in the server):
the longest pause of a full (generation 2) collection says whether
broadcasting sets off full collections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cpu_time import process_cpu_seconds
from report import APPENDED_MARKER
from servers import LOAD_CPU, ROOT, SERVER_CPU, ServerProcess, free_port, pinned, raise_open_files_limit

HERE = Path(__file__).resolve().parent
KINDS = ["asgiws", "websockets", "aiohttp", "asgiws-uvicorn"]
BASELINE = "websockets"
BURST = 100


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def load_average() -> float:
    return os.getloadavg()[0]


class Clients:
    """The client processes; one line of JSON per answer, the unasked "done" lines kept apart."""

    def __init__(self, processes: int, deflate: bool = False) -> None:
        self.count = processes
        self.deflate = deflate
        self.processes: list[asyncio.subprocess.Process] = []
        self.answers: list[asyncio.Queue[dict[str, Any]]] = []
        self.done: dict[int, list[float]] = {}
        self.done_changed = asyncio.Event()
        self.readers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for index in range(self.count):
            process = await asyncio.create_subprocess_exec(
                *pinned(LOAD_CPU, [sys.executable, str(HERE / "fanout_clients.py"), *["--deflate"] * self.deflate]),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, preexec_fn=raise_open_files_limit,
                limit=2**26,
            )  # fmt: skip
            self.processes.append(process)
            self.answers.append(asyncio.Queue())
            self.readers.append(asyncio.create_task(self._read(index, process)))

    async def _read(self, index: int, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            answer = json.loads(line)
            if "done" in answer:
                self.done.setdefault(answer["done"], []).append(answer["last"])
                self.done_changed.set()
            else:
                self.answers[index].put_nowait(answer)

    async def ask(self, index: int, line: str, timeout: float = 120.0) -> dict[str, Any]:
        process = self.processes[index]
        assert process.stdin is not None
        process.stdin.write(line.encode() + b"\n")
        await process.stdin.drain()
        return await asyncio.wait_for(self.answers[index].get(), timeout)

    async def ask_all(self, line: str, timeout: float = 120.0) -> list[dict[str, Any]]:
        return await asyncio.gather(*(self.ask(i, line, timeout) for i in range(self.count)))

    async def connect(self, url: str, connections: int) -> int:
        """Open `connections` more, shared among the processes; how many of all negotiated permessage-deflate."""
        share, extra = divmod(connections, self.count)
        answers = await asyncio.gather(
            *(self.ask(i, f"connect {url} {share + (i < extra)}") for i in range(self.count))
        )
        return sum(answer["deflate"] for answer in answers)

    async def expect(self, seq: int) -> None:
        self.done.clear()
        await self.ask_all(f"expect {seq}")

    async def last_arrival(self, seq: int, timeout: float = 60.0) -> float | None:
        """When the last connection of all processes got message `seq`; None if some never did."""
        deadline = time.monotonic() + timeout
        while len(self.done.get(seq, ())) < self.count:
            self.done_changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                await asyncio.wait_for(self.done_changed.wait(), remaining)
            except TimeoutError:
                return None
        return max(self.done.pop(seq))

    async def close(self) -> tuple[int, list[str]]:
        answers = await self.ask_all("close")
        return sum(a["errors"] for a in answers), [e for a in answers for e in a["first_errors"]][:5]

    async def stop(self) -> None:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.close()
        for process in self.processes:
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
        for reader in self.readers:
            reader.cancel()


class FanoutServer(ServerProcess):
    """One `fanout_server.py` process pinned to the server core, and its control WebSocket."""

    def __init__(self, kind: str, log_dir: Path, redis_url: str | None = None) -> None:
        super().__init__(kind, "", log_dir)
        self.redis_url = redis_url
        self.control: Any = None

    @property
    def command(self) -> list[str]:
        command = [sys.executable, str(HERE / "fanout_server.py"), self.name, "--port", str(self.port)]
        if self.redis_url:
            command += ["--redis", self.redis_url]
        return pinned(SERVER_CPU, command)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def open(self) -> FanoutServer:
        from websockets.asyncio.client import connect

        self.start()
        self.control = await connect(f"{self.url}/control", max_size=None, ping_interval=None)
        return self

    async def ask(self, **request: Any) -> dict[str, Any]:
        await self.control.send(json.dumps(request))
        answer: dict[str, Any] = json.loads(await self.control.recv())
        return answer

    async def wait_subscribers(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while (await self.ask(cmd="count"))["count"] < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: fewer than {count} subscribers")
            await asyncio.sleep(0.05)

    def cpu(self) -> float:
        return process_cpu_seconds(self.pid)

    async def close(self) -> None:
        if self.control is not None:
            await self.control.close()
        self.stop()


class Phases:
    """Broadcasts measured at the clients: one at a time, then in bursts; numbered from 0 on."""

    def __init__(self, clients: Clients, connections: int) -> None:
        self.clients = clients
        self.connections = connections
        self.seq = 0
        self.lost = 0  # broadcasts some client never got

    async def start(self) -> None:
        await self.clients.expect(0)

    async def singles(self, count: int, send: Any) -> tuple[list[float], list[dict[str, Any]]]:
        """`send(seq)` broadcasts message `seq` and returns a dict with its start time "t0"; one at a time."""
        latencies, answers = [], []
        for _ in range(count):
            answer = await send(self.seq)
            last = await self.clients.last_arrival(self.seq)
            if last is None:
                self.lost += 1
            else:
                latencies.append(last - answer["t0"])
            answers.append(answer)
            self.seq += 1
        return latencies, answers

    async def bursts(self, count: int, send: Any) -> tuple[list[float], list[dict[str, Any]]]:
        """`send(seq)` broadcasts messages `seq` to `seq + BURST - 1` in one go; deliveries/s of each burst."""
        rates, answers = [], []
        for _ in range(count):
            await asyncio.sleep(0.2)
            answer = await send(self.seq)
            last = await self.clients.last_arrival(self.seq + BURST - 1)
            for seq in range(self.seq, self.seq + BURST - 1):
                self.clients.done.pop(seq, None)
            if last is None:
                self.lost += 1
            else:
                rates.append(BURST * self.connections / (last - answer["t0"]))
            answers.append(answer)
            self.seq += BURST
        return rates, answers


async def measure_local(kind: str, clients: Clients, args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    """Singles and bursts of broadcasts from one server process to `args.connections` clients."""
    server = await FanoutServer(kind, log_dir).open()
    try:
        deflated = await clients.connect(f"{server.url}/sub", args.connections)
        await server.wait_subscribers(args.connections)
        phases = Phases(clients, args.connections)
        await phases.start()

        async def single(seq: int, count_tasks: bool = False) -> dict[str, Any]:
            return await server.ask(cmd="single", seq=seq, count_tasks=count_tasks)

        async def burst(seq: int, count_tasks: bool = False) -> dict[str, Any]:
            return await server.ask(cmd="burst", seq=seq, n=BURST, count_tasks=count_tasks)

        # Warm-up, untimed: also where the tasks a broadcast call leaves are counted.
        _, warm_singles = await phases.singles(3, functools.partial(single, count_tasks=True))
        _, warm_bursts = await phases.bursts(1, functools.partial(burst, count_tasks=True))
        await server.ask(cmd="gc")
        cpu0 = server.cpu()
        latencies, single_answers = await phases.singles(args.singles, single)
        single_cpu = server.cpu() - cpu0
        single_gc = await server.ask(cmd="gc")
        cpu0 = server.cpu()
        rates, _ = await phases.bursts(args.bursts, burst)
        burst_cpu = server.cpu() - cpu0
        burst_gc = await server.ask(cmd="gc")
        errors, first_errors = await clients.close()
    finally:
        await server.close()
    return {
        "latencies": latencies,
        "rates": rates,
        "calls": [a["call"] for a in single_answers],
        "single_cpu": single_cpu,
        "burst_cpu": burst_cpu,
        "tasks": max(a["tasks"] for a in warm_singles + warm_bursts),
        "gc_single": single_gc,
        "gc_burst": burst_gc,
        "lost": phases.lost,
        "errors": errors,
        "first_errors": first_errors,
        "deflate": deflated,
    }


def summary(kind: str, runs: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """One server's row from its runs (the rounds): latencies and rates pooled, counts added up."""
    latencies = [t for run in runs for t in run["latencies"]]
    rates = [r for run in runs for r in run["rates"]]

    def gc(key: str) -> dict[str, Any]:
        return {
            "collections": [sum(run[key]["collections"][g] for run in runs) for g in range(3)],
            "longest_ms": [max(run[key]["longest_ms"][g] for run in runs) for g in range(3)],
        }

    return {
        "kind": kind,
        "connections": args.connections,
        "p50_ms": percentile(latencies, 0.5) * 1e3,
        "p99_ms": percentile(latencies, 0.99) * 1e3,
        "rate": statistics.median(rates) if rates else float("nan"),
        "call_ms": percentile([c for run in runs for c in run["calls"]], 0.5) * 1e3,
        "single_cpu_us": sum(run["single_cpu"] for run in runs) / (len(runs) * args.singles * args.connections) * 1e6,
        "burst_cpu_us": sum(run["burst_cpu"] for run in runs)
        / (len(runs) * args.bursts * BURST * args.connections)
        * 1e6,
        "tasks": max(run["tasks"] for run in runs),
        "gc_single": gc("gc_single"),
        "gc_burst": gc("gc_burst"),
        "lost": sum(run["lost"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
        "first_errors": [e for run in runs for e in run["first_errors"]][:5],
        "deflate": min(run["deflate"] for run in runs),
    }


class RedisServer:
    """A redis-server of the benchmark's own on a free port, pinned to the clients' core."""

    def __init__(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise SystemExit("redis-server is not installed (Debian package redis-server)")
        self.port = free_port()
        self.directory = tempfile.mkdtemp(prefix="bench-redis-")
        self.process = subprocess.Popen(
            pinned(LOAD_CPU, [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.directory,
                              "--save", "", "--appendonly", "no", "--loglevel", "warning"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)


async def measure_redis(clients: Clients, args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    """2 asgiws processes whose clients join() one topic on one redis-server; published from here."""
    from fanout_server import message

    import asgiws

    redis = RedisServer()
    servers: list[FanoutServer] = []
    result: dict[str, Any] = {"kind": "asgiws-join x2 (Redis)", "connections": args.connections}
    try:
        servers = [await FanoutServer("asgiws-join", log_dir, redis.url).open() for _ in range(2)]
        per_server = args.connections // 2
        async with asgiws.PubSub(redis.url) as pubsub:
            for server in servers:
                await clients.connect(f"{server.url}/topics/fanout", per_server)
                await server.wait_subscribers(per_server)
            connections = per_server * 2
            phases = Phases(clients, connections)
            await phases.start()

            async def single(seq: int) -> dict[str, Any]:
                t0 = time.monotonic()
                await pubsub.publish("fanout", message(seq))
                return {"t0": t0}

            async def burst(seq: int) -> dict[str, Any]:
                t0 = time.monotonic()
                for i in range(BURST):
                    await pubsub.publish("fanout", message(seq + i))
                return {"t0": t0}

            await phases.singles(3, single)  # warm-up
            for server in servers:
                await server.ask(cmd="gc")
            cpu0 = sum(server.cpu() for server in servers)
            latencies, _ = await phases.singles(args.singles, single)
            single_cpu = sum(server.cpu() for server in servers) - cpu0
            rates, _ = await phases.bursts(args.bursts, burst)
            gcs = [await server.ask(cmd="gc") for server in servers]
            errors, first_errors = await clients.close()
            result.update(
                connections=connections,
                p50_ms=percentile(latencies, 0.5) * 1e3,
                p99_ms=percentile(latencies, 0.99) * 1e3,
                rate=statistics.median(rates) if rates else float("nan"),
                single_cpu_us=single_cpu / max(1, args.singles * connections) * 1e6,
                gc=gcs,
                lost=phases.lost,
                errors=errors,
                first_errors=first_errors,
            )

            # Publish -> deliver latency at a steady rate, to a few clients per process.
            for server in servers:
                await clients.connect(f"{server.url}/topics/latency", args.latency_clients)
                await server.wait_subscribers(args.latency_clients)
            await clients.expect(0)
            await clients.ask_all("record")
            published: list[float] = []
            count = int(args.latency_rate * args.latency_seconds)
            start = time.monotonic() + 0.1
            for seq in range(count):
                delay = start + seq / args.latency_rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                published.append(time.monotonic())
                await pubsub.publish("latency", message(seq))
            await clients.last_arrival(count - 1)
            delays = []
            for answer in await clients.ask_all("dump"):
                for seq, arrivals in answer["arrivals"].items():
                    delays.extend(arrival - published[int(seq)] for arrival in arrivals)
            errors, first_errors = await clients.close()
            result.update(
                latency_rate=args.latency_rate,
                latency_clients=2 * args.latency_clients,
                latency_deliveries=len(delays),
                latency_expected=count * 2 * args.latency_clients,
                latency_p50_ms=percentile(delays, 0.5) * 1e3,
                latency_p99_ms=percentile(delays, 0.99) * 1e3,
                latency_errors=errors,
            )
        for server in servers:
            await server.close()
        servers = []

        # RSS per idle connection that join()ed a topic.
        server = await FanoutServer("asgiws-join", log_dir, redis.url).open()
        servers = [server]
        await clients.connect(f"{server.url}/topics/warmup", 20)
        await server.wait_subscribers(20)
        await clients.close()
        await asyncio.sleep(0.5)
        before = server.rss_kib()
        await clients.connect(f"{server.url}/topics/idle", args.rss_connections)
        await server.wait_subscribers(args.rss_connections)
        await asyncio.sleep(0.5)
        after = server.rss_kib()
        await clients.close()
        result.update(
            rss_connections=args.rss_connections,
            rss_before_mib=before / 1024,
            rss_after_mib=after / 1024,
            rss_kib_per_connection=(after - before) / args.rss_connections,
        )
    finally:
        for server in servers:
            await server.close()
        redis.stop()
    return result


def fmt(value: float, digits: int = 1) -> str:
    return "—" if value != value else f"{value:,.{digits}f}"


def local_table(results: list[dict[str, Any]]) -> list[str]:
    base = next((r for r in results if r["kind"] == BASELINE), None)
    lines = [
        f"| server | time to last client p50 / p99, ms | ratio p50 / p99 vs {BASELINE} (higher: faster) "
        f"| burst of {BURST}: deliveries/s | ratio vs {BASELINE} | server CPU µs/delivery single / burst "
        "| tasks left by one broadcast call | GC gen2 passes, longest pause ms (singles; bursts) | lost |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        if base is not None:
            ratio_latency = f"{base['p50_ms'] / r['p50_ms']:.2f}x / {base['p99_ms'] / r['p99_ms']:.2f}x"
            ratio_rate = f"**{r['rate'] / base['rate']:.2f}x**"
        else:
            ratio_latency = ratio_rate = "—"
        gs, gb = r["gc_single"], r["gc_burst"]
        gc_text = (
            f"{gs['collections'][2]}, {gs['longest_ms'][2]:.1f}; {gb['collections'][2]}, {gb['longest_ms'][2]:.1f}"
        )
        lost = "none" if not r["lost"] and not r["errors"] else f"{r['lost']} broadcasts, {r['errors']} errors"
        lines.append(
            f"| {r['kind']} | {fmt(r['p50_ms'])} / {fmt(r['p99_ms'])} | {ratio_latency} | {fmt(r['rate'], 0)} "
            f"| {ratio_rate} | {fmt(r['single_cpu_us'], 2)} / {fmt(r['burst_cpu_us'], 2)} | {r['tasks']} "
            f"| {gc_text} | {lost} |"
        )
    return lines


def redis_table(r: dict[str, Any]) -> list[str]:
    lost = "none" if not r["lost"] and not r["errors"] else f"{r['lost']} broadcasts, {r['errors']} errors"
    gc_text = "; ".join(f"{g['collections'][2]}, {g['longest_ms'][2]:.1f}" for g in r["gc"])
    return [
        "| across processes | value |",
        "|---|---:|",
        f"| clients | {r['connections']:,} (2 asgiws processes x {r['connections'] // 2:,}, one topic) |",
        f"| publish -> last client, p50 / p99 ms | {fmt(r['p50_ms'])} / {fmt(r['p99_ms'])} |",
        f"| burst of {BURST} publishes: deliveries/s | {fmt(r['rate'], 0)} |",
        f"| servers' CPU µs/delivery (singles) | {fmt(r['single_cpu_us'], 2)} |",
        f"| GC gen2 passes, longest pause ms (per server) | {gc_text} |",
        f"| lost | {lost} |",
        f"| publish -> deliver at {r['latency_rate']:,.0f} msg/s to {r['latency_clients']} clients, p50 / p99 ms "
        f"| {fmt(r['latency_p50_ms'], 2)} / {fmt(r['latency_p99_ms'], 2)} "
        f"({r['latency_deliveries']:,} of {r['latency_expected']:,} deliveries, {r['latency_errors']} errors) |",
        f"| RSS per idle connection with a join()ed topic | {fmt(r['rss_kib_per_connection'], 2)} KiB "
        f"({r['rss_connections']:,} connections, {r['rss_before_mib']:.1f} -> {r['rss_after_mib']:.1f} MiB) |",
    ]


def versions() -> str:
    from importlib.metadata import version

    names = ["websockets", "aiohttp", "uvicorn", "uvloop", "picows", "redis"]
    found = []
    for name in names:
        with contextlib.suppress(Exception):
            found.append(f"{name} {version(name)}")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return f"Python {platform.python_version()}, asgiws commit {commit.stdout.strip()}, " + ", ".join(found)


async def main_async(args: argparse.Namespace) -> list[str]:
    raise_open_files_limit()
    os.sched_setaffinity(0, {int(LOAD_CPU)})  # keep the server's core for the server
    log_dir = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    load_before = load_average()
    started = time.monotonic()
    clients = Clients(args.client_processes, deflate=args.deflate)
    await clients.start()
    results: list[dict[str, Any]] = []
    redis_result = None
    try:
        runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in args.servers}
        for round in range(args.rounds):
            for kind in args.servers:  # in turns, so that a change in the machine's load touches all
                print(f"-- round {round + 1}: {kind}, {args.connections} clients", file=sys.stderr, flush=True)
                run = await measure_local(kind, clients, args, log_dir)
                print(json.dumps({k: v for k, v in run.items() if k != "latencies"}), file=sys.stderr, flush=True)
                runs[kind].append(run)
        results = [summary(kind, runs[kind], args) for kind in args.servers]
        if args.redis:
            print(f"-- Redis: 2 x {args.connections // 2} clients", file=sys.stderr, flush=True)
            redis_result = await measure_redis(clients, args, log_dir)
            print(json.dumps(redis_result), file=sys.stderr, flush=True)
    finally:
        await clients.stop()
    load_after = load_average()
    command = "python bench/fanout.py " + " ".join(args.argv)
    lines = [
        f"Command: `{command.strip()}`; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{os.cpu_count()} cores; 1-min load average {load_before:.2f} before, {load_after:.2f} after "
        f"({time.monotonic() - started:.0f} s); {versions()}.",
        "",
        f"One process per server on core {SERVER_CPU}, {args.connections:,} clients in {args.client_processes} "
        f"processes on core {LOAD_CPU}; per server {args.rounds} rounds (in turns with the others) of "
        f"{args.singles} single broadcasts and {args.bursts} bursts of {BURST}, figures pooled; "
        "32 B text messages, " + compression(args, results),
        "",
        *local_table(results),
    ]
    if redis_result is not None:
        lines += ["", *redis_table(redis_result)]
    return lines


def compression(args: argparse.Namespace, results: list[dict[str, Any]]) -> str:
    """What the header line says of compression: none offered, or how many connections of each server took it."""
    if not args.deflate:
        return "no compression offered."
    taken = ", ".join(f"{r['kind']} {r['deflate']:,}" for r in results)
    return f"permessage-deflate offered by every client, as browsers do; connections that negotiated it: {taken}."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--singles", type=int, default=20)
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="runs per server, in turns; figures pooled")
    parser.add_argument("--servers", default="asgiws,websockets,aiohttp", help=f"from {','.join(KINDS)}")
    parser.add_argument("--redis", action="store_true", help="also the cross-process figures on a redis-server")
    parser.add_argument("--latency-rate", type=float, default=1000.0)
    parser.add_argument("--latency-seconds", type=float, default=5.0)
    parser.add_argument("--latency-clients", type=int, default=10, help="per server process")
    parser.add_argument("--rss-connections", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="2,000 clients, 5 singles, 1 burst")
    parser.add_argument("--write", action="store_true", help="append the tables to bench/RESULTS.md")
    parser.add_argument("--deflate", action="store_true", help="clients offer permessage-deflate, as browsers do")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    args.argv = argv
    args.servers = [name for name in args.servers.split(",") if name]
    if args.quick:
        args.connections, args.singles, args.bursts, args.rss_connections, args.rounds = 2000, 5, 1, 1000, 1
        args.latency_seconds = 2.0
    lines = asyncio.run(main_async(args))
    print("\n".join(lines))
    if args.write:
        with open(HERE / "RESULTS.md", "a") as results:
            results.write(
                f"\n{APPENDED_MARKER}fanout.py; bench/run.py keeps this section -->\n"
                "## Fan-out: one message to many WebSockets (`bench/fanout.py`)\n\n" + "\n".join(lines) + "\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
