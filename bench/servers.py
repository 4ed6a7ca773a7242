"""Start and stop the servers under test: same app, same settings, pinned to core 0.

ASGI servers load the same app: uvicorn with its defaults (``--loop uvloop
--http httptools``, its default WebSocket implementation, i.e.
``websockets``), asgiws with ``--loop auto`` (uvloop), granian (Rust, one
worker, its ASGI interface on uvloop). All log at warning level without
access log, so none pays for logging another does not. Two servers have no
ASGI and serve the same routes their own way: aiohttp's native server
(`aiohttp_server.py`) and the picows echo (`ceiling_echo.py`, WebSocket only:
the floor for a Python server, and the load generator's ceiling).
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from cpu_time import process_tree

ROOT = Path(__file__).resolve().parent.parent
SERVER_CPU = "0"
LOAD_CPU = "1"

COMMON_OPTIONS = ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
#: ASGI servers: the interpreter's arguments before the app and the common options.
ASGI_SERVERS = {
    "asgiws": ["-m", "asgiws", "--loop", "auto"],
    "uvicorn": ["-m", "uvicorn", "--loop", "uvloop", "--http", "httptools"],
    "granian": ["-m", "granian", "--interface", "asgi", "--loop", "uvloop", "--workers", "1"],
}
CEILING = "picows-echo"  # not an ASGI server: the load generator's ceiling (ceiling_echo.py)
#: Servers with no ASGI: the script that serves the benchmark's routes its own way.
NATIVE_SERVERS = {"aiohttp": "aiohttp_server.py", CEILING: "ceiling_echo.py"}
#: Every server, in the order of the results' rows.
SERVERS = [*ASGI_SERVERS, *NATIVE_SERVERS]
#: The servers that take part in every scenario (the ceiling only in WebSocket ones).
DEFAULT_SERVERS = ["asgiws", "uvicorn", "granian", "aiohttp"]
#: The folder each server runs from (its PYTHONPATH and working directory), ROOT unless set here:
#: ``run.py --checkout DIR`` adds a server ``asgiws@NAME`` that runs asgiws from DIR (NAME its
#: last part), so that two commits are measured in one run.
CHECKOUTS: dict[str, Path] = {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_open_files_limit() -> None:
    """Lift the soft RLIMIT_NOFILE to the hard limit (runs in the child before exec)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def pinned(cpu: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *argv]


def server_command(name: str, app: str, port: int) -> list[str]:
    """The command that runs server `name` (with the ASGI `app`, unless it has none) on `port`, on core 0."""
    if name in NATIVE_SERVERS:
        script = str(Path(__file__).with_name(NATIVE_SERVERS[name]))
        return pinned(SERVER_CPU, [sys.executable, script, "--port", str(port)])
    arguments = ASGI_SERVERS["asgiws" if name in CHECKOUTS else name]
    return pinned(SERVER_CPU, [sys.executable, *arguments, "--port", str(port), *COMMON_OPTIONS, app])


class ServerProcess:
    """One server process on a free port; a context manager that always stops it."""

    def __init__(self, name: str, app: str, log_dir: Path) -> None:
        self.name = name
        self.app = app
        self.port = free_port()
        self.log_path = log_dir / f"{name}-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def command(self) -> list[str]:
        return server_command(self.name, self.app, self.port)

    def start(self, timeout: float = 20.0) -> ServerProcess:
        root = CHECKOUTS.get(self.name, ROOT)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command, cwd=root, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=raise_open_files_limit,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not listen on port {self.port} within {timeout} s")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rss_kib(self) -> int:
        """Resident set size (VmRSS) of the server, all its processes added up, in KiB."""
        total = 0
        for pid in process_tree(self.pid):
            with open(f"/proc/{pid}/status") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        return total

    def error_lines(self) -> list[str]:
        """The lines of the server's log that report an error (an ERROR record or a traceback)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if "ERROR" in line or "Traceback" in line]

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
