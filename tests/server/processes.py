"""Run `python -m asgiws` (or gunicorn) as a real process and talk to its workers.

`ServerProcess` starts the command with an app module written to a
temporary directory and collects its log lines in a thread; `wait_for`
waits for a line. `PID_APP` answers every HTTP request and every WebSocket
message with the pid of the process that serves it, so that a test knows
which worker holds which connection (`connect_to_each_worker`). As a
context manager, it closes those WebSockets and stops the process at the
end of the block, keeping its `exit_status`.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import resource
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

#: HTTP: the serving process's pid as the body; WebSocket: each message answered with it.
PID_APP = textwrap.dedent(
    """
    import os

    async def app(scope, receive, send):
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            while (await receive())["type"] == "websocket.receive":
                await send({"type": "websocket.send", "text": str(os.getpid())})
        elif scope["type"] == "http":
            body = str(os.getpid()).encode()
            headers = [(b"content-length", b"%d" % len(body))]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
    """
)

#: How long a test waits for a log line before failing.
LOG_TIMEOUT = 30


class ServerProcess:
    """`command` (default: `python -m asgiws process_app:app --app-dir TMP ...args`) with its log lines collected."""

    exit_status: int | None = None

    def __init__(
        self, tmp_path: Path, *args: str, app: str = PID_APP, command: list[str] | None = None, **popen: Any
    ) -> None:
        (tmp_path / "process_app.py").write_text(app)
        if command is None:
            command = [sys.executable, "-m", "asgiws", "process_app:app", "--app-dir", str(tmp_path)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
        self.process = subprocess.Popen(
            [*command, *args], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, **popen
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.log: list[str] = []
        self.websockets = contextlib.ExitStack()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.websockets.close()
        self.exit_status = self.stop()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.put(line)

    def wait_for(self, text: str, count: int = 1) -> str:
        """The `count`-th log line from now on that contains `text`."""
        found = 0
        deadline = time.monotonic() + LOG_TIMEOUT
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no log line with {text!r}; log so far:\n{''.join(self.log)}") from None
            self.log.append(line)
            if text in line:
                found += 1
                if found == count:
                    return line

    def wait_for_port(self, count: int = 1) -> int:
        """The port of the "running on" line, once `count` workers have logged it."""
        line = self.wait_for("asgiws running on http://127.0.0.1:", count=count)
        return int(line.split("127.0.0.1:")[1].split()[0])

    def signal(self, sig: int) -> None:
        os.kill(self.process.pid, sig)

    def wait(self, timeout: float = 30) -> int:
        """The exit status, once the process has ended."""
        status = self.process.wait(timeout=timeout)
        self.reader.join(timeout=5)
        while not self.lines.empty():
            self.log.append(self.lines.get())
        return status

    def connect_to_each_worker(self, port: int, workers: int, attempts: int = 40) -> dict[int, ClientConnection]:
        """One WebSocket per worker, by pid, open until the block ends; the kernel hands connections out: try some."""
        held: dict[int, ClientConnection] = {}
        for _ in range(attempts):
            websocket = self.websockets.enter_context(connect(f"ws://127.0.0.1:{port}/", open_timeout=10))
            pid = pid_of(websocket)
            if pid in held:
                websocket.close()
            else:
                held[pid] = websocket
            if len(held) == workers:
                return held
        raise AssertionError(f"{attempts} connections reached only workers {sorted(held)}")

    def stop(self) -> int:
        """Stop it with SIGINT (unless it has ended already); its exit status."""
        try:
            if self.process.poll() is None:
                self.signal(signal.SIGINT)
            return self.wait()
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


def need_descriptors(count: int) -> None:
    """Raise the soft RLIMIT_NOFILE to the hard limit (processes started later inherit it), or skip the test
    when even the hard limit is below the `count` descriptors it needs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= count:
        return
    if hard != resource.RLIM_INFINITY and hard < count:
        pytest.skip(f"RLIMIT_NOFILE's hard limit ({hard}) is below the {count} descriptors this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def logged_pids(log: list[str], text: str) -> list[int]:
    """The bracketed pids of the log lines that contain `text`."""
    return [int(match) for line in log if text in line for match in re.findall(r"\[(\d+)\]", line)]


def pid_of(websocket: ClientConnection) -> int:
    """The pid of the worker that serves `websocket` (of PID_APP)."""
    websocket.send("pid?")
    return int(websocket.recv(timeout=10))


def close_code(websocket: ClientConnection) -> int | None:
    """The close code the server sent on `websocket` once it closes it (None: closed without a close frame)."""
    try:
        message = websocket.recv(timeout=20)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None
    raise AssertionError(f"the connection is still open: received {message!r}")


def is_running(pid: int) -> bool:
    """Whether process `pid` exists and has not exited (a zombie, not reaped yet, has exited)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
