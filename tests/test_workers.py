"""`gunicorn -k asgiws.workers.AsgiwsWorker`: a real gunicorn, real clients, real signals."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator

import gunicorn.config as gunicorn_config
import httpx
import pytest
from gunicorn.glogging import Logger

from asgiws.workers import AsgiwsWorker

from .server.processes import ServerProcess, close_code, pid_of

#: Recent gunicorns keep a control socket in ~/.gunicorn unless told not to, and tests run side by side.
NO_CONTROL_SOCKET = (
    ["--no-control-socket"]
    if any(setting.name == "control_socket_disable" for setting in gunicorn_config.KNOWN_SETTINGS)
    else []
)


@pytest.fixture
def gunicorn_workers(tmp_path):
    """Start `gunicorn -k asgiws.workers.AsgiwsWorker` with two workers and more options; yields (server, port)."""

    @contextlib.contextmanager
    def start(*args: str) -> Iterator[tuple[ServerProcess, int]]:
        command = [sys.executable, "-m", "gunicorn", "-k", "asgiws.workers.AsgiwsWorker", "process_app:app"]
        options = ["--bind", "127.0.0.1:0", "--workers", "2", *NO_CONTROL_SOCKET, *args]
        with ServerProcess(tmp_path, *options, command=command) as server:
            line = server.wait_for("Listening at: http://127.0.0.1:")
            server.wait_for("asgiws running on", count=2)
            yield server, int(line.split("127.0.0.1:")[1].split()[0])

    return start


def test_gunicorn_serves_http_and_websocket_and_sigterm_closes_websockets_with_1001(gunicorn_workers):
    with gunicorn_workers("--graceful-timeout", "5") as (server, port):
        response = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert response.status_code == 200 and int(response.text) != server.process.pid
        held = server.connect_to_each_worker(port, 2)
        server.signal(signal.SIGTERM)
        assert [close_code(websocket) for websocket in held.values()] == [1001, 1001]
        assert server.wait() == 0


def test_gunicorn_timeout_kills_a_hung_worker_and_not_a_healthy_one(gunicorn_workers):
    with gunicorn_workers("--timeout", "2") as (server, port):
        held = server.connect_to_each_worker(port, 2)
        hung, healthy = held
        os.kill(hung, signal.SIGSTOP)
        assert f"(pid:{hung})" in server.wait_for("WORKER TIMEOUT")
        server.wait_for("asgiws running on")  # gunicorn's replacement
        assert pid_of(held[healthy]) == healthy  # its heartbeat kept it alive past the timeout
        assert "WORKER TIMEOUT" not in "".join(line for line in server.log if f"pid:{healthy}" in line)
    assert server.exit_status == 0


def test_the_servers_settings_come_from_gunicorns(tmp_path):
    cfg = gunicorn_config.Config()
    for name, value in {
        "graceful_timeout": 7,
        "keepalive": 3,
        "max_requests": 100,
        "max_requests_jitter": 0,
        "backlog": 64,
        "forwarded_allow_ips": "10.0.0.1",
    }.items():
        cfg.set(name, value)
    worker = AsgiwsWorker(1, os.getpid(), [], None, 15, cfg, Logger(cfg))
    worker.wsgi = object()
    config = worker.asgiws_config()
    assert config.timeout_graceful_shutdown == 7
    assert config.timeout_keep_alive == 3
    assert config.limit_max_requests == 100
    assert config.backlog == 64
    assert config.forwarded_allow_ips == ["10.0.0.1"]
    assert config.timeout_notify == 15 and config.callback_notify is not None
