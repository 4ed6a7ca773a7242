#!/usr/bin/env python
"""Instructions per HTTP request, counted by valgrind's callgrind: the repeatable figure on a noisy machine.

    python bench/instructions.py                              # GET / on asgiws, uvicorn, granian, aiohttp
    python bench/instructions.py --servers asgiws --scenario browser-json
    python bench/instructions.py --servers asgiws --app bench.apps:framework_app --keep /tmp/cg

Each server runs under ``valgrind --tool=callgrind`` (every process it
starts too), pinned to core 0; a client on core 1 opens ``--connections``
keep-alive connections and sends ``--warmup`` requests. Then the counters
are zeroed (``callgrind_control -z``), exactly ``--requests`` requests are
sent (each connection one at a time: request, whole response, next), and the
counters dumped. Instructions per request is the dump's total divided by
the number of requests.

It counts the instructions the server executes in user space, its own and
its libraries' (Python, uvloop, the C parsers); not the kernel's (the
``read`` and ``write`` system calls, TCP), which cost every server about the
same, one ``read`` and one ``write`` per request. Instruction counts do not
move with the machine's load, as CPU time does: compare two commits with
it, and the servers with each other. With ``--keep DIR`` the dumps stay, to
read with ``callgrind_annotate``.
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpu_time import process_tree
from http_requests import BROWSER_JSON, HELLO, POST_64K
from servers import DEFAULT_SERVERS, LOAD_CPU, ServerProcess, server_command

SCENARIOS = {
    "hello": ("examples.echo:app", HELLO.wire()),
    "browser-json": ("bench.apps:raw_app", BROWSER_JSON.wire()),
    "post-64k": ("bench.apps:raw_app", POST_64K.wire()),
}


class ValgrindServer(ServerProcess):
    """A server process run under callgrind, its children too."""

    def __init__(self, name: str, app: str, log_dir: Path, out_dir: Path) -> None:
        super().__init__(name, app, log_dir)
        self.out_dir = out_dir

    @property
    def command(self) -> list[str]:
        taskset = server_command(self.name, self.app, self.port)
        pin, program = taskset[:3], taskset[3:]
        return [*pin, "valgrind", "--tool=callgrind", "--trace-children=yes",
                f"--callgrind-out-file={self.out_dir}/callgrind.out.%p", *program]


def send_requests(port: int, request: bytes, connections: int, count: int) -> None:
    """`count` requests over `connections` keep-alive connections, one in flight on each."""
    selector = selectors.DefaultSelector()
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    buffers = {sock: bytearray() for sock in socks}
    sent = 0
    for sock in socks[:count]:
        sock.sendall(request)
        selector.register(sock, selectors.EVENT_READ)
        sent += 1
    done = 0
    while done < count:
        for key, _ in selector.select(timeout=120):
            sock = key.fileobj
            buffer = buffers[sock]
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buffer += chunk
            try:
                read_response_from_buffer(buffer)
            except BlockingIOError:
                continue
            done += 1
            if sent < count:
                sock.sendall(request)
                sent += 1
            else:
                selector.unregister(sock)
    for sock in socks:
        sock.close()


def read_response_from_buffer(buffer: bytearray) -> None:
    """Remove one complete response from `buffer`; BlockingIOError when it is not all there yet."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        raise BlockingIOError
    length = re.search(rb"(?im)^content-length:\s*(\d+)", bytes(buffer[:end]))
    if length is None:
        raise RuntimeError(f"a response without Content-Length: {bytes(buffer[:end])[:200]!r}")
    total = end + 4 + int(length.group(1))
    if len(buffer) < total:
        raise BlockingIOError
    del buffer[:total]


def callgrind(pids: list[int], option: str) -> None:
    for pid in pids:
        done = subprocess.run(["callgrind_control", option, str(pid)], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"callgrind_control {option} {pid}: {done.stdout}{done.stderr}")


def total_instructions(out_dir: Path, pids: list[int]) -> int:
    """The sum of the instruction counts (Ir) in the dumps of `pids` (not the final ones at exit)."""
    total = 0
    for pid in pids:
        for dump in out_dir.glob(f"callgrind.out.{pid}.*"):
            found = re.search(rb"^(?:summary|totals): (\d+)", dump.read_bytes(), re.MULTILINE)
            if found:
                total += int(found.group(1))
    return total


def self_costs(dump: Path) -> dict[str, int]:
    """Instructions spent in each function itself (callees excluded), from a callgrind dump."""
    names: dict[str, str] = {}
    costs: dict[str, int] = {}
    current = "?"
    skip_next = False
    for raw in dump.read_text(errors="replace").splitlines():
        if raw.startswith(("fn=", "cfn=", "cfi=", "cob=")):
            key, _, rest = raw.partition("=")
            ident, _, name = rest.partition(" ")
            if name:
                names[ident] = name
            if key == "fn":
                current = names.get(ident, ident)
            continue
        if raw.startswith("calls="):
            skip_next = True  # the next cost line is the call's inclusive cost
            continue
        if raw and (raw[0].isdigit() or raw[0] in "+-*"):
            if skip_next:
                skip_next = False
                continue
            parts = raw.split()
            if len(parts) >= 2:
                costs[current] = costs.get(current, 0) + int(parts[1])
    return costs


def measure(name: str, app: str, request: bytes, args: argparse.Namespace, out_dir: Path) -> float:
    with tempfile.TemporaryDirectory() as logs:
        server = ValgrindServer(name, app, Path(logs), out_dir).start(timeout=300)
        try:
            send_requests(server.port, request, args.connections, args.warmup)
            pids = process_tree(server.pid)
            callgrind(pids, "-z")
            send_requests(server.port, request, args.connections, args.requests)
            callgrind(pids, "--dump")
            deadline = time.monotonic() + 120
            while not any(out_dir.glob(f"callgrind.out.{pid}.*") for pid in pids):
                if time.monotonic() > deadline:
                    raise RuntimeError("callgrind wrote no dump")
                time.sleep(0.2)
            time.sleep(1)
            if args.top:
                costs: dict[str, int] = {}
                for pid in pids:
                    for dump in out_dir.glob(f"callgrind.out.{pid}.*"):
                        for function, cost in self_costs(dump).items():
                            costs[function] = costs.get(function, 0) + cost
                total = sum(costs.values())
                print(f"{name}: where the instructions go (self cost, per request):", file=sys.stderr)
                for function, cost in sorted(costs.items(), key=lambda item: -item[1])[: args.top]:
                    print(f"  {cost / args.requests:>9,.0f}  {100 * cost / total:5.1f}%  {function}", file=sys.stderr)
            return total_instructions(out_dir, pids) / args.requests
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default=",".join(DEFAULT_SERVERS), help="comma-separated servers")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="hello")
    parser.add_argument("--app", help="the ASGI app (default: the scenario's)")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--top", type=int, default=0, help="also print the N functions that cost the most")
    parser.add_argument("--keep", type=Path, help="keep the callgrind dumps in this folder")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install valgrind)")
    os.sched_setaffinity(0, {int(LOAD_CPU)})
    default_app, request = SCENARIOS[args.scenario]
    results: dict[str, float] = {}
    for name in args.servers.split(","):
        out_dir = args.keep or Path(tempfile.mkdtemp(prefix="callgrind-"))
        out_dir.mkdir(parents=True, exist_ok=True)
        try:
            results[name] = measure(name, args.app or default_app, request, args, out_dir)
        finally:
            if args.keep is None:
                shutil.rmtree(out_dir, ignore_errors=True)
        print(f"{name:>10}: {results[name]:>12,.0f} instructions per request", file=sys.stderr)
    first = next(iter(results))
    print(f"\n{args.scenario}, {args.requests} requests on {args.connections} connections "
          f"(user-space instructions per request, and ÷ {first}'s):")
    for name, value in results.items():
        print(f"  {name:>10}: {value:>12,.0f}  {value / results[first]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
