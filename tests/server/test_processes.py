"""The command line in a real process: --workers N on one port, --fd, and exit 0 on a signal."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx

from .processes import ServerProcess


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
