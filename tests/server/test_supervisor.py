"""`--workers N` is supervised: real worker processes, real signals, real WebSocket and HTTP clients.

A killed or hung worker is replaced while the others keep their connections;
SIGHUP replaces the workers one at a time while a client keeps getting
answers; SIGTERM closes every worker's WebSockets with 1001 and exits 0;
`--limit-max-requests` recycles one worker; a worker that keeps dying right
after starting makes the supervisor back off, then give up.
"""

from __future__ import annotations

import os
import re
import signal
import textwrap
import threading
import time

import httpx
import pytest

import asgiws
from asgiws.server.server import Server

from .processes import ServerProcess, close_code, is_running, logged_pids, pid_of


def wait_until_gone(pid: int) -> None:
    deadline = time.monotonic() + 20
    while is_running(pid):
        assert time.monotonic() < deadline, f"process {pid} is still running"
        time.sleep(0.05)


def test_a_killed_worker_is_replaced_and_the_others_keep_their_connections(tmp_path):
    with ServerProcess(tmp_path, "--workers", "2", "--port", "0") as server:
        port = server.wait_for_port(count=2)
        held = server.connect_to_each_worker(port, 2)
        victim, survivor = held
        os.kill(victim, signal.SIGKILL)
        assert f"[{victim}] was killed by SIGKILL" in server.wait_for("was killed by")
        server.wait_for("asgiws running on")  # its replacement serves
        replacement = logged_pids(server.log, "Started server process")[-1]
        assert replacement not in held
        assert close_code(held[victim]) is None  # gone without a closing handshake
        assert pid_of(held[survivor]) == survivor  # still open, still served
        assert set(server.connect_to_each_worker(port, 2)) == {survivor, replacement}
    assert server.exit_status == 0


def test_a_hung_worker_is_killed_and_replaced(tmp_path):
    with ServerProcess(tmp_path, "--workers", "2", "--port", "0", "--timeout-worker-healthcheck", "1") as server:
        port = server.wait_for_port(count=2)
        held = server.connect_to_each_worker(port, 2)
        hung, other = held
        os.kill(hung, signal.SIGSTOP)
        assert f"[{hung}]" in server.wait_for("did not answer the health check")
        wait_until_gone(hung)
        server.wait_for("asgiws running on")
        assert pid_of(held[other]) == other
    assert server.exit_status == 0


def test_sighup_replaces_the_workers_one_at_a_time_while_a_client_keeps_getting_answers(tmp_path):
    answers: list[int] = []
    failures: list[Exception] = []
    stop = threading.Event()
    with ServerProcess(tmp_path, "--workers", "2", "--port", "0") as server:
        port = server.wait_for_port(count=2)
        held = server.connect_to_each_worker(port, 2)

        def client() -> None:
            with httpx.Client(headers={"Connection": "close"}, timeout=10) as session:  # a new connection each
                while not stop.is_set():
                    try:
                        answers.append(int(session.get(f"http://127.0.0.1:{port}/").text))
                    except httpx.HTTPError as exc:
                        failures.append(exc)

        thread = threading.Thread(target=client)
        thread.start()
        try:
            server.signal(signal.SIGHUP)
            first = server.wait_for("replaces worker")
            second = server.wait_for("replaces worker")
            for websocket in held.values():
                assert close_code(websocket) == 1012  # service restart: reconnect
            new = set(logged_pids(server.log, "Started server process")) - set(held)
            deadline = time.monotonic() + 20
            while not new <= set(answers[-50:]) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            thread.join()
    assert server.exit_status == 0
    assert failures == []
    assert new <= set(answers)
    replaced = [tuple(int(pid) for pid in re.findall(r"\[(\d+)\]", line)) for line in (first, second)]
    assert {old for _, old in replaced} == set(held)
    # One at a time: the second new worker was started after the first old one was told to stop.
    log = "".join(server.log)
    assert log.index(first) < log.index(f"Started server process [{replaced[1][0]}]")


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 0), (signal.SIGKILL, -signal.SIGKILL)])
def test_stopping_the_supervisor_closes_every_workers_websockets_with_1001(tmp_path, sig, status):
    """SIGTERM: a graceful stop, exit status 0. SIGKILL: the workers see their pipe close and stop too."""
    with ServerProcess(tmp_path, "--workers", "2", "--port", "0") as server:
        port = server.wait_for_port(count=2)
        held = server.connect_to_each_worker(port, 2)
        server.signal(sig)
        assert [close_code(websocket) for websocket in held.values()] == [1001, 1001]
        for pid in held:
            wait_until_gone(pid)
        assert server.wait() == status


def test_limit_max_requests_recycles_one_worker(tmp_path):
    limit = 40
    with ServerProcess(tmp_path, "--workers", "2", "--port", "0", "--limit-max-requests", str(limit)) as server:
        port = server.wait_for_port(count=2)
        held = server.connect_to_each_worker(port, 2, attempts=30)  # each handshake counts: fewer than the limit
        with httpx.Client() as client:  # one keep-alive connection: its requests all go to one worker
            recycled = int(client.get(f"http://127.0.0.1:{port}/").text)
            for _ in range(limit):
                client.get(f"http://127.0.0.1:{port}/")
        (other,) = set(held) - {recycled}
        assert f"[{recycled}]" in server.wait_for("reached its request limit")
        server.wait_for("asgiws running on")  # its replacement
        assert close_code(held[recycled]) == 1012
        wait_until_gone(recycled)
        assert pid_of(held[other]) == other  # the other worker was not touched
        assert server.process.poll() is None
    assert server.exit_status == 0


def test_limit_max_requests_jitter_is_drawn_per_server():
    config = asgiws.Config("m:app", limit_max_requests=100, limit_max_requests_jitter=50, log_level="warning")
    limits = {Server(config).max_requests for _ in range(200)}
    assert limits <= set(range(100, 151)) and len(limits) > 1
    assert Server(asgiws.Config("m:app", limit_max_requests=100, log_level="warning")).max_requests == 100


CRASHING_APP = textwrap.dedent(
    """
    import asyncio, os

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            await receive()
            asyncio.get_running_loop().call_later(0.1, os._exit, 7)  # dies right after starting
            await send({"type": "lifespan.startup.complete"})
            await receive()
    """
)


def test_a_crash_loop_backs_off_then_gives_up_with_the_workers_status(tmp_path):
    with ServerProcess(tmp_path, "--workers", "2", "--port", "0", app=CRASHING_APP) as server:
        assert server.wait(timeout=60) == 7
    log = "".join(server.log)
    for backoff in ("0.1", "0.2", "0.4", "0.8"):
        assert f"restarting it in {backoff} s" in log
    assert "crash loop" in log
    assert log.count("Started server process") >= 5
