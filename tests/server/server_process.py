"""`python -m asgiws` as a child process, for tests that need a real server process (signals, exit status).

`need_descriptors(n)` raises this process's soft RLIMIT_NOFILE to the hard
limit (the processes it starts inherit it), or skips the test when even
the hard limit is below `n`.

`ServerProcess(tmp_path, source, *options)` writes `source` as the module
``process_app`` in `tmp_path` and serves its ``app`` with the command line
`options`; a thread collects the server's log lines (stderr), which
`wait_for` reads and `log` keeps. `port` is the one the startup line names.
Leaving the ``with`` block kills whatever is left of the process and its
workers (it runs in a session of its own, so its process group is theirs).
"""

from __future__ import annotations

import contextlib
import os
import queue
import resource
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

#: Seconds to wait for a log line.
TIMEOUT = 20


def need_descriptors(count: int) -> None:
    """Make `count` descriptors available to this process and its children, or skip the test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= count:
        return
    if hard != resource.RLIM_INFINITY and hard < count:
        pytest.skip(f"RLIMIT_NOFILE's hard limit ({hard}) is below the {count} descriptors this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class ServerProcess:
    """One `python -m asgiws process_app:app OPTIONS...` process; see the module docstring."""

    def __init__(self, tmp_path: Path, source: str, *options: str) -> None:
        (tmp_path / "process_app.py").write_text(source)
        command = [sys.executable, "-m", "asgiws", "process_app:app", "--app-dir", str(tmp_path), *options]
        self.process = subprocess.Popen(
            command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, start_new_session=True
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.log: list[str] = []

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._lines.put(line)

    def wait_for(self, text: str, count: int = 1, timeout: float = TIMEOUT) -> str:
        """The `count`-th log line from now on that contains `text`; queue.Empty past `timeout` without a line."""
        found = 0
        while True:
            line = self._lines.get(timeout=timeout)
            self.log.append(line)
            if text in line:
                found += 1
                if found == count:
                    return line

    def started(self, workers: int = 1) -> int:
        """Wait until every worker listens; the port they listen on."""
        line = self.wait_for("asgiws running on http://127.0.0.1:", count=workers)
        return int(line.split("127.0.0.1:")[1].split()[0])

    def finish_log(self) -> list[str]:
        """Every log line, once the process has ended."""
        self._reader.join(TIMEOUT)
        while not self._lines.empty():
            self.log.append(self._lines.get())
        return self.log

    def kill(self) -> None:
        """Kill the process and its workers (its process group), if still there."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill()
