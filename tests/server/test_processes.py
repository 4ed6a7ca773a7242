"""The command line in a real process: --workers N on one port, --fd, and exit 0 on a signal."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import textwrap
import threading

import httpx

APP_MODULE = textwrap.dedent(
    """
    import os

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = str(os.getpid()).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})
    """
)


class ServerProcess:
    """`python -m asgiws` with a thread collecting its log lines."""

    def __init__(self, tmp_path, *args: str, **popen) -> None:
        (tmp_path / "process_app.py").write_text(APP_MODULE)
        command = [sys.executable, "-m", "asgiws", "process_app:app", "--app-dir", str(tmp_path), *args]
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, **popen)
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(
            target=lambda: [self.lines.put(line) for line in self.process.stderr], daemon=True
        )
        self.reader.start()
        self.log: list[str] = []

    def wait_for(self, text: str, count: int = 1) -> str:
        found = 0
        while True:
            line = self.lines.get(timeout=20)
            self.log.append(line)
            if text in line:
                found += 1
                if found == count:
                    return line

    def stop(self) -> int:
        try:
            os.kill(self.process.pid, signal.SIGINT)
            return self.process.wait(timeout=20)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


def test_workers_share_one_port(tmp_path):
    server = ServerProcess(tmp_path, "--workers", "2", "--port", "0")
    try:
        line = server.wait_for("asgiws running on http://127.0.0.1:", count=2)
        port = int(line.split("127.0.0.1:")[1].split()[0])
        pids = set()
        for _ in range(20):
            response = httpx.get(f"http://127.0.0.1:{port}/", headers={"Connection": "close"}, timeout=5)
            pids.add(int(response.text))
        assert server.process.pid not in pids
        assert len(pids) >= 1
    finally:
        assert server.stop() == 0


def test_serve_on_inherited_fd(tmp_path):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    with sock:
        server = ServerProcess(tmp_path, "--fd", str(sock.fileno()), pass_fds=[sock.fileno()])
        try:
            server.wait_for("asgiws running on")
            response = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
            assert int(response.text) == server.process.pid
        finally:
            assert server.stop() == 0


def test_workers_that_cannot_start_give_their_exit_status(tmp_path):
    (tmp_path / "failing_startup.py").write_text(
        "async def app(scope, receive, send):\n"
        "    await receive()\n"
        "    await send({'type': 'lifespan.startup.failed', 'message': 'database down'})\n"
    )
    command = [sys.executable, "-m", "asgiws", "failing_startup:app", "--app-dir", str(tmp_path)]
    result = subprocess.run(
        [*command, "--port", "0", "--workers", "2", "--lifespan", "on"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 3
    assert result.stderr.count("database down") == 2
