"""Run Autobahn|Testsuite's fuzzing client against asgiws (or uvicorn) and judge the result.

Starts the server on a free 127.0.0.1 port serving an echo app, runs
`wstest -m fuzzingclient` with a spec generated from `fuzzingclient.json`,
reads `<reports>/servers/index.json` and prints the count of each verdict and
every case that is not OK. Exit status: 0 when no case failed, 1 when a case
is FAILED or UNIMPLEMENTED (or its close is FAILED, WRONG CODE or UNCLEAN),
2 when the harness could not get a verdict (no wstest, server did not start,
cases missing from the report, timeout).

    python compliance/run.py                       # all cases, asgiws
    python compliance/run.py --quick               # the CI subset
    python compliance/run.py --cases '6.*' 7.1.1   # a subset
    python compliance/run.py --server uvicorn      # the same against uvicorn
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BASE_SPEC = HERE / "fuzzingclient.json"
DEFAULT_WS_MAX_SIZE = 16 * 1024 * 1024  # Autobahn's 9.* cases send up to 16 MiB

# The CI subset, well under a minute on 2 cores: every case of groups 1-7 and
# 10 (each small), the 64 KiB-1 MiB messages of 9.1/9.2, and of the compression
# groups (1000 messages each) only the messages up to 8 KiB, plain and
# auto-fragmented. The full run adds the 4-16 MiB messages of 9.* and the
# large-message cases of 12.* and 13.*, which take most of its time.
QUICK_CASES: tuple[str, ...] = (
    "1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*",  # framing, pings, reserved bits and
                                                       # opcodes, fragments, UTF-8, close
    "9.1.1", "9.1.2", "9.1.3",                   # 64 KiB .. 1 MiB text
    "9.2.1", "9.2.2", "9.2.3",                   # 64 KiB .. 1 MiB binary
    "10.*",                                      # auto-fragmentation
    "12.1.1", "12.1.2", "12.1.3",                # permessage-deflate, default offer, on
    "12.2.1", "12.3.1", "12.4.1",                # json (12.1), a bitmap, text, html, a pdf (12.5)
    "12.5.1", "12.5.2", "12.5.3", "12.5.4", "12.5.5", "12.5.6", "12.5.11",
    "13.1.1", "13.1.2", "13.1.3",                # the offer/accept parameter sets
    "13.2.1", "13.3.1", "13.4.1", "13.5.1", "13.6.1",
    "13.7.1", "13.7.2", "13.7.3", "13.7.4", "13.7.5", "13.7.6", "13.7.11",
)

# Verdicts in the order they are printed. Autobahn judges the messages
# exchanged ("behavior") and the closing of the connection ("behaviorClose").
BEHAVIORS = ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED")
CLOSE_BEHAVIORS = ("OK", "INFORMATIONAL", "FAILED BY CLIENT", "WRONG CODE", "UNCLEAN",
                   "UNIMPLEMENTED", "FAILED")
FAILING_BEHAVIORS = frozenset({"FAILED", "UNIMPLEMENTED"})
FAILING_CLOSE_BEHAVIORS = frozenset({"FAILED", "WRONG CODE", "UNCLEAN", "UNIMPLEMENTED"})


class HarnessError(Exception):
    """The run could not produce a verdict (exit status 2)."""


@dataclass
class CaseResult:
    """One case's verdicts as wstest reported them."""

    case: str
    behavior: str
    behavior_close: str
    remote_close_code: int | None
    duration_ms: int
    description: str = ""
    result: str = ""
    result_close: str = ""

    @property
    def ok(self) -> bool:
        return self.behavior == "OK" and self.behavior_close == "OK"

    @property
    def failed(self) -> bool:
        return (self.behavior in FAILING_BEHAVIORS
                or self.behavior_close in FAILING_CLOSE_BEHAVIORS)


@dataclass
class Summary:
    """The outcome of one run: verdict counts and the cases that are not OK."""

    server: str
    app: str
    cases: list[CaseResult]
    seconds: float
    server_exit: int | None = None
    behavior: Counter[str] = field(default_factory=Counter)
    behavior_close: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.behavior.update(c.behavior for c in self.cases)
        self.behavior_close.update(c.behavior_close for c in self.cases)

    @property
    def not_ok(self) -> list[CaseResult]:
        return [c for c in self.cases if not c.ok]

    @property
    def failed(self) -> bool:
        return self.server_exit is not None or any(c.failed for c in self.cases)

    def to_json(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "app": self.app,
            "cases": len(self.cases),
            "seconds": round(self.seconds, 1),
            "server_exit": self.server_exit,
            "behavior": dict(self.behavior),
            "behaviorClose": dict(self.behavior_close),
            "failed": self.failed,
            "not_ok": [
                {"case": c.case, "behavior": c.behavior, "behaviorClose": c.behavior_close,
                 "remoteCloseCode": c.remote_close_code, "description": c.description,
                 "result": c.result,
                 "resultClose": c.result_close}
                for c in self.not_ok
            ],
        }


def case_key(case_id: str) -> tuple[int, ...]:
    """Sort key that puts 9.2.10 after 9.2.9."""
    return tuple(int(part) for part in case_id.split("."))


def find_wstest(explicit: str | None = None) -> str | None:
    """Where wstest is: --wstest, $WSTEST, compliance/.venv27 (install.sh), or PATH."""
    for candidate in (explicit, os.environ.get("WSTEST"), str(HERE / ".venv27" / "bin" / "wstest")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("wstest")


def default_app() -> str:
    """The raw ASGI echo app in `examples/echo.py`: text as text, bytes as bytes."""
    return "examples.echo:app"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(server: str, app: str, port: int, ws_max_size: int,
                   extra: Sequence[str] = ()) -> list[str]:
    """The command line that serves `app` with asgiws or uvicorn; both take the same options."""
    module = {"asgiws": "asgiws", "uvicorn": "uvicorn"}[server]
    return [sys.executable, "-m", module, app, "--host", "127.0.0.1", "--port", str(port),
            "--ws-max-size", str(ws_max_size), "--log-level", "warning", *extra]


@contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """Hold a lock on the reports directory: two runs in one would mix their reports."""
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HarnessError(f"another run is using {lock_path.parent} "
                               "(give this one --reports DIR)") from None
        yield


@contextmanager
def running_server(command: list[str], port: int, log_path: Path,
                   startup_timeout: float) -> Iterator[subprocess.Popen[bytes]]:
    """Start the server, wait until it accepts connections, and stop it (SIGINT, then kill)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise HarnessError(f"server exited with {proc.returncode} before accepting "
                                   f"connections:\n{tail(log_path)}")
            try:
                if connects(port):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise HarnessError(f"server did not listen on port {port} within "
                                       f"{startup_timeout:g} s:\n{tail(log_path)}") from None
                time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def connects(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port.

    A connect to a free port in the ephemeral range can meet itself (TCP
    simultaneous open) and succeed; such a socket is not the server.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        return sock.getsockname() != sock.getpeername()


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def write_spec(path: Path, agent: str, url: str, outdir: Path,
               cases: Sequence[str] | None, exclude: Sequence[str] | None) -> dict[str, Any]:
    """fuzzingclient.json with this run's server, output directory and case selection."""
    spec = json.loads(BASE_SPEC.read_text())
    spec["servers"] = [{"agent": agent, "url": url}]
    spec["outdir"] = str(outdir)
    if cases:
        spec["cases"] = list(cases)
    if exclude:
        spec["exclude-cases"] = list(exclude)
    path.write_text(json.dumps(spec, indent=2) + "\n")
    return spec


def run_wstest(wstest: str, spec_path: Path, log_path: Path, timeout: float,
               verbose: bool) -> int:
    """Run the fuzzing client to the end; return how many cases it said it would run."""
    command = [wstest, "-m", "fuzzingclient", "-s", str(spec_path)]
    with open(log_path, "wb") as log:
        env = dict(os.environ, PYTHONUNBUFFERED="1")  # one line per case, as it happens
        proc = subprocess.Popen(command, cwd=spec_path.parent, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        try:
            # wstest prints one line per case, so reading line by line keeps the log live.
            for line in proc.stdout:
                log.write(line)
                if verbose:
                    sys.stdout.write(line.decode(errors="replace"))
                    sys.stdout.flush()
                if time.monotonic() > deadline:
                    raise subprocess.TimeoutExpired(command, timeout)
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise HarnessError(f"wstest did not finish within {timeout:g} s; "
                               f"see {log_path}") from None
    if proc.returncode != 0:
        raise HarnessError(f"wstest exited with {proc.returncode}:\n{tail(log_path)}")
    match = re.search(r"will run (\d+) test cases", log_path.read_text(errors="replace"))
    if not match:
        raise HarnessError(f"wstest did not say how many cases it would run:\n{tail(log_path)}")
    return int(match.group(1))


def load_results(outdir: Path, agent: str) -> list[CaseResult]:
    """Parse index.json, and each not-OK case's own report for the reason."""
    index_path = outdir / "index.json"
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(f"no usable report at {index_path}: {exc}") from None
    results = []
    for case_id, entry in index.get(agent, {}).items():
        result = CaseResult(case=case_id, behavior=entry["behavior"],
                            behavior_close=entry["behaviorClose"],
                            remote_close_code=entry.get("remoteCloseCode"),
                            duration_ms=entry.get("duration", 0))
        if not result.ok:
            try:
                detail = json.loads((outdir / entry["reportfile"]).read_text())
                result.description = detail.get("description", "").split("\n")[0]
                result.result = detail.get("result", "")
                result.result_close = detail.get("resultClose", "")
            except (OSError, ValueError, KeyError):
                pass
        results.append(result)
    results.sort(key=lambda r: case_key(r.case))
    return results


def format_summary(summary: Summary) -> str:
    def counts(counter: Counter[str], order: Sequence[str]) -> str:
        names = list(order) + sorted(set(counter) - set(order))
        return "  ".join(f"{name} {counter[name]}" for name in names)

    lines = [
        f"Autobahn|Testsuite fuzzing client against {summary.server} ({summary.app}): "
        f"{len(summary.cases)} cases in {summary.seconds:.1f} s",
        f"  behavior:       {counts(summary.behavior, BEHAVIORS)}",
        f"  behaviorClose:  {counts(summary.behavior_close, CLOSE_BEHAVIORS)}",
    ]
    if summary.server_exit is not None:
        lines.append(f"  the server exited with {summary.server_exit} during the run")
    not_ok = summary.not_ok
    if not_ok:
        lines.append(f"Cases not OK ({len(not_ok)}):")
        for c in not_ok:
            reason = "; ".join(filter(None, [
                c.result if c.behavior == "FAILED" else "",
                c.result_close if c.behavior_close != "OK" else "",
                shorten(c.description, 90),
            ]))
            lines.append(f"  {c.case:<9} {c.behavior:<13} close {c.behavior_close:<13} "
                         f"code {c.remote_close_code}  {reason}")
    lines.append("verdict: " + ("FAILED" if summary.failed else "no case failed"))
    return "\n".join(lines)


def run(server: str = "asgiws", app: str | None = None, cases: Sequence[str] | None = None,
        exclude: Sequence[str] | None = None, reports: Path | None = None,
        wstest: str | None = None, ws_max_size: int = DEFAULT_WS_MAX_SIZE,
        server_args: Sequence[str] = (), timeout: float = 3600.0,
        startup_timeout: float = 20.0, verbose: bool = False) -> Summary:
    """Serve `app` with `server`, fuzz it with wstest, and return the summary."""
    wstest_path = find_wstest(wstest)
    if wstest_path is None:
        raise HarnessError("wstest not found: run compliance/install.sh")
    app = app or default_app()
    reports = (reports or HERE / "reports" / server).resolve()
    reports.mkdir(parents=True, exist_ok=True)
    with exclusive(reports / "run.lock"):
        outdir = reports / "servers"
        shutil.rmtree(outdir, ignore_errors=True)  # never judge a stale report
        outdir.mkdir()
        port = free_port()
        spec_path = reports / "fuzzingclient.json"
        write_spec(spec_path, server, f"ws://127.0.0.1:{port}", outdir, cases, exclude)
        command = server_command(server, app, port, ws_max_size, server_args)
        started = time.monotonic()
        with running_server(command, port, reports / "server.log", startup_timeout) as proc:
            expected = run_wstest(wstest_path, spec_path, reports / "wstest.log", timeout,
                                  verbose)
            server_exit = proc.poll()
        results = load_results(outdir, server)
    if len(results) != expected:
        raise HarnessError(f"wstest ran {expected} cases but reported {len(results)}; "
                           f"see {reports / 'wstest.log'}")
    if expected == 0:
        raise HarnessError("the case selection matched no case")
    return Summary(server=server, app=app, cases=results, seconds=time.monotonic() - started,
                   server_exit=server_exit)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", choices=("asgiws", "uvicorn"), default="asgiws")
    parser.add_argument("--app", help=f"ASGI app to serve (default: {default_app()})")
    selection = parser.add_mutually_exclusive_group()
    selection.add_argument("--cases", nargs="+", metavar="CASE",
                           help="case ids or patterns such as '6.*' (default: all, '*')")
    selection.add_argument("--quick", action="store_true", help="the CI subset (QUICK_CASES)")
    parser.add_argument("--exclude", nargs="+", metavar="CASE", help="case ids or patterns to skip")
    parser.add_argument("--reports", type=Path,
                        help="where spec, logs and reports go (default: compliance/reports/SERVER)")
    parser.add_argument("--wstest", help="path to wstest (default: compliance/.venv27, PATH)")
    parser.add_argument("--ws-max-size", type=int, default=DEFAULT_WS_MAX_SIZE)
    parser.add_argument("--server-args", default="",
                        help="more options for the server command line, e.g. '--ws wsproto'")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds allowed for the whole wstest run")
    parser.add_argument("--json", type=Path, help="also write the summary as JSON to this file")
    parser.add_argument("-v", "--verbose", action="store_true", help="show wstest's output")
    args = parser.parse_args(argv)

    try:
        summary = run(server=args.server, app=args.app,
                      cases=QUICK_CASES if args.quick else args.cases, exclude=args.exclude,
                      reports=args.reports, wstest=args.wstest, ws_max_size=args.ws_max_size,
                      server_args=shlex.split(args.server_args), timeout=args.timeout,
                      verbose=args.verbose)
    except HarnessError as exc:
        print(f"compliance/run.py: {exc}", file=sys.stderr)
        if args.json:
            args.json.write_text(json.dumps({"error": str(exc)}) + "\n")
        return 2
    print(format_summary(summary))
    if args.json:
        args.json.write_text(json.dumps(summary.to_json(), indent=2) + "\n")
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
