"""Client processes driven phase by phase, so the parent can measure the server between phases.

`ClientPool(session, shares, options)` starts one process per share (the
spawn method; not pinned to a core: these benchmarks count and weigh, they
do not time).
Each process runs ``session(first, share, options)`` (its connections are
numbered `first` to `first + share`), an async generator that
yields one report (a dict) at the end of every phase; the process then
waits until the parent calls `proceed()`. `reports()` returns the reports
of the phase every process has just finished, so the parent sees all the
clients at the same point (all connected, all done, all closed) and can
read the server's RSS there.

A session that raises ends its process with a ``{"crash": traceback}``
report; `reports()` raises `ClientCrash` with it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import queue
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from servers import raise_open_files_limit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the asgiws of this checkout, for the client processes

T = TypeVar("T")

Report = dict[str, Any]
Session = Callable[[int, int, dict[str, Any]], AsyncIterator[Report]]

spawn = multiprocessing.get_context("spawn")

#: The client's `compression` in each mode: ``plain`` offers no extension, ``deflate`` offers permessage-deflate.
MODES = {"plain": None, "deflate": "deflate"}
#: Handshakes in progress at once in one client process: well under the server's listen backlog.
OPENING_AT_ONCE = 100
#: Descriptors a process needs besides one per connection (stdio, pipes, the listening socket, ...).
SPARE_DESCRIPTORS = 64


class ClientCrash(RuntimeError):
    """A client process failed outside what its session counts as errors."""


def _run_session(session: Session, first: int, share: int, options: dict[str, Any], go: Any, reports: Any) -> None:
    raise_open_files_limit()

    async def drive() -> None:
        loop = asyncio.get_running_loop()
        async for report in session(first, share, options):
            reports.put(report)
            await loop.run_in_executor(None, go.get)

    try:
        import uvloop
    except ImportError:  # the client is then slower, not wrong
        runner: Callable[[Any], None] = asyncio.run
    else:
        runner = uvloop.run
    try:
        runner(drive())
    except BaseException:
        reports.put({"crash": traceback.format_exc()})
        raise


class ClientPool:
    """One client process per share, each running `session`; see the module docstring."""

    def __init__(self, session: Session, shares: list[int], options: dict[str, Any]) -> None:
        self.reports_queue = spawn.Queue()
        self.go_queues = [spawn.Queue() for _ in shares]
        firsts = [sum(shares[:index]) for index in range(len(shares))]
        self.processes = [
            spawn.Process(
                target=_run_session, args=(session, first, share, options, go, self.reports_queue), daemon=True
            )
            for first, share, go in zip(firsts, shares, self.go_queues, strict=True)
        ]
        for process in self.processes:
            process.start()

    def reports(self, timeout: float) -> list[Report]:
        """The report of every process for the phase they are finishing, waiting up to `timeout` for them."""
        reports: list[Report] = []
        deadline = time.monotonic() + timeout
        while len(reports) < len(self.processes):
            try:
                report = self.reports_queue.get(timeout=0.5)
            except queue.Empty:
                dead = [process.exitcode for process in self.processes if process.exitcode]
                if dead:
                    raise ClientCrash(f"a client process exited with {dead[0]} without a report") from None
                if time.monotonic() > deadline:
                    raise ClientCrash(f"no report from a client process within {timeout} s") from None
                continue
            if "crash" in report:
                raise ClientCrash(report["crash"])
            reports.append(report)
        return reports

    def phases(self, count: int, timeout: float, measure: Callable[[], T]) -> list[tuple[list[Report], T]]:
        """The reports of each of the sessions' `count` phases, and `measure()` taken once all have finished it."""
        results: list[tuple[list[Report], T]] = []
        for index in range(count):
            if index:
                self.proceed()
            reports = self.reports(timeout)
            results.append((reports, measure()))
        return results

    def proceed(self) -> None:
        """Let every process start its next phase."""
        for go in self.go_queues:
            go.put(None)

    def close(self, timeout: float = 30) -> None:
        """Let the processes finish (they end after their last phase); stop those that do not."""
        self.proceed()
        for process in self.processes:
            process.join(timeout)
            if process.is_alive():
                process.kill()
                process.join()

    def __enter__(self) -> ClientPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Errors(dict[str, int]):
    """Errors seen by a session, counted by type and message (what its reports carry as ``errors``)."""

    def count(self, exc: BaseException) -> None:
        name = f"{type(exc).__name__}: {exc}"[:120]
        self[name] = self.get(name, 0) + 1

    async def counting(self, awaitable: Awaitable[T]) -> T | None:
        """What `awaitable` returns; None when it raises, the exception counted."""
        try:
            return await awaitable
        except Exception as exc:  # a benchmark counts every failure instead of stopping at the first
            self.count(exc)
            return None


async def open_connections(options: dict[str, Any], count: int, errors: Errors) -> list[Any]:
    """`count` client connections to ``options["uri"]`` (``options["compression"]``), those that opened."""
    from asgiws import connect

    opening = asyncio.Semaphore(OPENING_AT_ONCE)

    async def open_one() -> Any:
        async with opening:
            return await errors.counting(connect(options["uri"], compression=options["compression"], open_timeout=60))

    return [ws for ws in await asyncio.gather(*(open_one() for _ in range(count))) if ws is not None]


async def close_connections(connections: list[Any], errors: Errors) -> int:
    """Close every connection with 1000; how many the server answered with 1000 too."""

    async def close(ws: Any) -> bool:
        await ws.close()
        return ws.close_code == 1000

    closed = await asyncio.gather(*(errors.counting(close(ws)) for ws in connections))
    return closed.count(True)


def enough_descriptors(needed: int) -> bool:
    """Raise this process's soft RLIMIT_NOFILE to the hard limit (children inherit it); whether it reaches `needed`."""
    raise_open_files_limit()
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft == resource.RLIM_INFINITY or soft >= needed


def split(total: int, parts: int) -> list[int]:
    """`total` spread over `parts` shares as evenly as can be (no empty share)."""
    parts = max(1, min(parts, total))
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


def total(reports: list[Report], key: str) -> int:
    """The sum of `key` over the reports."""
    return sum(report.get(key, 0) for report in reports)


def merged_errors(reports: list[Report]) -> dict[str, int]:
    """The ``errors`` counters of the reports (error name -> count), added up."""
    errors: dict[str, int] = {}
    for report in reports:
        for name, count in report.get("errors", {}).items():
            errors[name] = errors.get(name, 0) + count
    return errors


def deflate_accepted(ws: Any) -> bool:
    """Whether the server accepted permessage-deflate on client connection `ws`."""
    return "permessage-deflate" in ws.response_headers.get("sec-websocket-extensions", "")


def add_arguments(parser: argparse.ArgumentParser, connections: int, timeout: float) -> None:
    """The options every benchmark built on ClientPool takes."""
    parser.add_argument("--connections", type=int, default=connections)
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--modes", default="plain,deflate", help="comma-separated: plain, deflate")
    parser.add_argument("--timeout", type=float, default=timeout, help="seconds a phase may take at most")
    parser.add_argument("--stall", type=float, default=60, help="seconds without an echo before a connection gives up")
    parser.add_argument("--app", default="examples.echo:app", help="the echo app to serve (module:attr)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run_modes(
    parser: argparse.ArgumentParser, args: argparse.Namespace, run_mode: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    """``run_mode(mode, args, log_dir)`` for each of ``--modes``, with the descriptors it needs; all the figures."""
    needed = args.connections + SPARE_DESCRIPTORS
    if not enough_descriptors(needed):
        parser.error(f"RLIMIT_NOFILE's hard limit is below the {needed} descriptors needed")
    results: dict[str, Any] = {"load_average": os.getloadavg(), "modes": {}}
    with tempfile.TemporaryDirectory(prefix="bench-") as log_dir:
        for mode in args.modes.split(","):
            if mode not in MODES:
                parser.error(f"unknown mode {mode!r}: plain or deflate")
            results["modes"][mode] = run_mode(mode, args, Path(log_dir))
    return results
