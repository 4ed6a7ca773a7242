"""Many concurrent echoing WebSockets on one asgiws process: no error, and the server's RSS per connection.

    python bench/many_connections.py                      # 10,000 connections, without then with deflate
    python bench/many_connections.py --connections 1000 --json

For each mode (``plain``: the clients offer no extension; ``deflate``: they
offer permessage-deflate, which the server accepts by default) a fresh
``python -m asgiws examples.echo:app`` process (pinned to core 0, its
RLIMIT_NOFILE raised to the hard limit) serves ``--connections`` WebSockets
opened by ``--processes`` client processes (asgiws.connect on uvloop).
Phases, with the server's VmRSS read between them:

1. ``open``: every connection opens and echoes one message (so the server
   has made whatever it makes lazily, such as compression contexts);
2. ``echo``: with all of them open, every connection echoes ``--messages``
   more, all connections at once;
3. ``close``: every client closes with 1000 and checks the server's answer.

With ``--rounds N`` the same server process goes through the three phases
N times, with new connections each time, and the report adds its RSS once
all had closed, per round: what a connect/echo/close cycle leaves behind
(a leak grows it round after round; memory the allocator keeps for reuse
does not).

Prints, per mode, the counts (opened, deflate accepted, echoes verified,
clean closes, errors by kind, error lines in the server's log) and RSS per
connection, (RSS with all open after phase 1 - RSS before any) / connections.
``--json`` prints the same as one JSON object, for the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
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


async def session(first: int, share: int, options: dict[str, Any]) -> AsyncIterator[Report]:
    """One client process: open connections `first` to `first + share`, echo on all at once, close them."""
    errors = Errors()

    async def echo(ws: Any, index: int, turns: range) -> int:
        """Echo one message per turn, text and binary in turn; how many came back unchanged."""
        unchanged = 0
        for turn in turns:
            message: str | bytes = f"{index}/{turn} " + "echo " * (index % 20)
            if turn % 2:
                message = message.encode()
            await ws.send(message)
            async with asyncio.timeout(options["stall"]):
                answer = await ws.recv()
            if answer == message:
                unchanged += 1
            else:
                errors.count(RuntimeError(f"wrong echo: {answer!r:.40} for {message!r:.40}"))
        return unchanged

    async def echo_on_all(turns: range) -> int:
        echoed = await asyncio.gather(
            *(errors.counting(echo(ws, first + i, turns)) for i, ws in enumerate(connections))
        )
        return sum(count or 0 for count in echoed)

    connections = await open_connections(options, share, errors)
    echoed = await echo_on_all(range(1))
    deflated = sum(deflate_accepted(ws) for ws in connections)
    yield {"opened": len(connections), "deflate": deflated, "echoed": echoed, "errors": dict(errors)}

    echoed = await echo_on_all(range(1, options["messages"] + 1))
    yield {"echoed": echoed, "errors": dict(errors)}

    closed = await close_connections(connections, errors)
    yield {"closed": closed, "errors": dict(errors)}


def run_mode(mode: str, args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    """Serve `args.connections` echoing WebSockets in one server process; the counts and RSS figures."""
    with ServerProcess("asgiws", args.app, log_dir) as server:
        options = {
            "uri": f"ws://127.0.0.1:{server.port}/",
            "compression": MODES[mode],
            "messages": args.messages,
            "stall": args.stall,
        }
        rss_start = server.rss_kib()
        rounds = []
        for _ in range(args.rounds):
            with ClientPool(session, split(args.connections, args.processes), options) as pool:
                (opened, rss_open), (echoed, rss_echoed), (closed, _) = pool.phases(3, args.timeout, server.rss_kib)
            time.sleep(0.5)  # the last connection_lost callbacks
            rounds.append((opened, echoed, closed, rss_open, rss_echoed, server.rss_kib()))
        alive = server.alive()
    opened, echoed, closed, rss_open, rss_echoed, rss_closed = rounds[0]
    connections = total(opened, "opened")
    return {
        "connections": args.connections,
        "rounds": args.rounds,
        "opened": connections,
        "deflate": total(opened, "deflate"),
        "echoed": total(opened, "echoed") + total(echoed, "echoed"),
        "echoes_expected": args.connections * (1 + args.messages),
        "closed_1000": total(closed, "closed"),
        "errors": merged_errors(closed),
        "server_errors": server.error_lines(),
        "server_alive_to_the_end": alive,
        "rss_start_kib": rss_start,
        "rss_open_kib": rss_open,
        "rss_echoed_kib": rss_echoed,
        "rss_closed_kib": rss_closed,
        "rss_per_connection_kib": round((rss_open - rss_start) / max(connections, 1), 2),
        "later_rounds": [
            {
                "opened": total(opened, "opened"),
                "echoed": total(opened, "echoed") + total(echoed, "echoed"),
                "closed_1000": total(closed, "closed"),
                "errors": merged_errors(closed),
                "rss_open_kib": rss_open,
                "rss_closed_kib": rss_closed,
            }
            for opened, echoed, closed, rss_open, _, rss_closed in rounds[1:]
        ],
    }


def print_report(results: dict[str, Any]) -> None:
    print(f"load average before: {results['load_average']}")
    for mode, figures in results["modes"].items():
        print(
            f"\n{mode}: {figures['opened']}/{figures['connections']} open at once, "
            f"{figures['deflate']} with permessage-deflate"
        )
        print(
            f"  echoes verified {figures['echoed']}/{figures['echoes_expected']}, "
            f"closed with 1000: {figures['closed_1000']}"
        )
        print(f"  client errors: {figures['errors'] or 'none'}; server error lines: {len(figures['server_errors'])}")
        for line in figures["server_errors"][:5]:
            print(f"    {line}")
        print(
            f"  server RSS (MiB): start {figures['rss_start_kib'] / 1024:.1f}, "
            f"all open {figures['rss_open_kib'] / 1024:.1f}, "
            f"after the echo round {figures['rss_echoed_kib'] / 1024:.1f}, "
            f"all closed {figures['rss_closed_kib'] / 1024:.1f}"
        )
        print(f"  RSS per connection: {figures['rss_per_connection_kib']:.1f} KiB")
        for number, later in enumerate(figures["later_rounds"], start=2):
            print(
                f"  round {number}: {later['opened']} open, echoes verified {later['echoed']}, "
                f"closed with 1000: {later['closed_1000']}, client errors: {later['errors'] or 'none'}; "
                f"RSS (MiB) all open {later['rss_open_kib'] / 1024:.1f}, "
                f"all closed {later['rss_closed_kib'] / 1024:.1f}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser, connections=10_000, timeout=300)
    parser.add_argument("--messages", type=int, default=3, help="echoes per connection with all open")
    parser.add_argument("--rounds", type=int, default=1, help="times the same server serves a new set of connections")
    args = parser.parse_args(argv)
    results = run_modes(parser, args, run_mode)
    if args.json:
        print(json.dumps(results))
    else:
        print_report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
