#!/usr/bin/env python
"""How fast `--workers N` recovers: a killed worker, a hung worker, a rolling restart.

    python bench/supervisor.py              # 5 rounds each, 2 workers
    python bench/supervisor.py --rounds 10

Prints the median and worst, over the rounds, of the seconds from
* SIGKILL of a worker to its replacement's "asgiws running on" line;
* SIGSTOP of a worker to its replacement serving, with
  --timeout-worker-healthcheck 1 (the health check's own wait included);
* SIGHUP to the last "Worker [new] replaces worker [old]" line, while
  CLIENTS threads make requests, each on a fresh connection; failed
  requests are counted.
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

#: Client threads making requests during a rolling restart.
CLIENTS = 4

APP = """
import os

async def app(scope, receive, send):
    if scope["type"] == "http":
        body = str(os.getpid()).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
"""


class Supervised:
    """`python -m asgiws` with 2 workers; `lines` are (time, log line)."""

    def __init__(self, directory: str, *args: str) -> None:
        command = [sys.executable, "-m", "asgiws", "bench_app:app", "--app-dir", directory, "--port", "0"]
        self.process = subprocess.Popen(
            [*command, "--workers", "2", *args], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stderr:  # type: ignore[union-attr]
            self.lines.put((time.monotonic(), line))

    def wait_for(self, pattern: str, count: int = 1) -> tuple[float, str]:
        while True:
            at, line = self.lines.get(timeout=60)
            if re.search(pattern, line):
                count -= 1
                if count == 0:
                    return at, line

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)


def workers_of(supervised: Supervised) -> tuple[list[int], int]:
    """The pids of the two first workers, and the port, once both serve."""
    pids: list[int] = []
    serving = 0
    while serving < 2:
        _, line = supervised.wait_for("Started server process|running on")
        if "running on" in line:
            serving += 1
            port = int(line.split("127.0.0.1:")[1].split()[0])
        else:
            pids.append(int(re.findall(r"\[(\d+)\]", line)[0]))
    time.sleep(0.5)  # their "ready" reaches the supervisor just after that line
    return pids, port


def replaced(directory: str, sig: int) -> float:
    """Seconds from `sig` to a worker until its replacement serves (health check timeout: 1 s)."""
    supervised = Supervised(directory, "--timeout-worker-healthcheck", "1")
    try:
        victim = workers_of(supervised)[0][0]
        start = time.monotonic()
        os.kill(victim, sig)
        at, _ = supervised.wait_for("running on")
        return at - start
    finally:
        supervised.stop()


def rolling(directory: str) -> tuple[float, int, int]:
    supervised = Supervised(directory)
    try:
        _, port = workers_of(supervised)
        stop = threading.Event()
        outcomes: list[bool] = []  # list.append is atomic

        def client() -> None:
            with httpx.Client(headers={"Connection": "close"}, timeout=10) as session:  # a new connection each
                while not stop.is_set():
                    try:
                        session.get(f"http://127.0.0.1:{port}/")
                        outcomes.append(True)
                    except httpx.HTTPError:
                        outcomes.append(False)

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        start = time.monotonic()
        supervised.process.send_signal(signal.SIGHUP)
        at, _ = supervised.wait_for("replaces worker", count=2)
        stop.set()
        for thread in threads:
            thread.join()
        return at - start, outcomes.count(True), outcomes.count(False)
    finally:
        supervised.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as directory:
        Path(directory, "bench_app.py").write_text(APP)
        for sig in (signal.SIGKILL, signal.SIGSTOP):
            times = [replaced(directory, sig) for _ in range(rounds)]
            name = f"{signal.Signals(sig).name} -> replacement serving"
            print(f"{name:34} median {statistics.median(times):.2f} s, worst {max(times):.2f} s")
        results = [rolling(directory) for _ in range(rounds)]
        times = [seconds for seconds, _, _ in results]
        print(
            f"{'SIGHUP -> both workers replaced':34} median {statistics.median(times):.2f} s, worst {max(times):.2f} s;"
            f" requests answered {sum(ok for _, ok, _ in results)}, failed {sum(failed for _, _, failed in results)}"
        )


if __name__ == "__main__":
    main()
