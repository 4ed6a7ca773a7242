"""Descriptor exhaustion, in a real server process whose RLIMIT_NOFILE is lowered, with real clients.

The server raises its soft limit to the hard one at start (and says so);
clients then take every descriptor it has. It must go on serving them, log
the shortage once, and accept the clients waiting in its backlog as soon as
some connections close: on both event loops.
"""

from __future__ import annotations

import resource
import socket
from typing import Any

import pytest

from .processes import ServerProcess
from .raw_client import answered

SOFT, HARD = 40, 64  # the server starts with SOFT, raises it to HARD
CLIENTS = 90  # more connections than HARD descriptors
REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def lower_limit() -> None:
    """In the server process, before exec: a small descriptor limit, soft below hard."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (SOFT, HARD))


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_out_of_descriptors_the_server_serves_what_it_has_and_accepts_again(tmp_path: Any, loop: str) -> None:
    pytest.importorskip(loop)
    server = ServerProcess(tmp_path, "--port", "0", "--loop", loop, "--log-level", "info", preexec_fn=lower_limit)
    socks: list[socket.socket] = []
    try:
        assert f"from {SOFT} to {HARD}" in server.wait_for("Raised the open file limit")
        port = server.wait_for_port()
        for _ in range(CLIENTS):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(REQUEST)
            socks.append(sock)
        # Some are served, the rest wait in the backlog while the server retries (several times in 1.5 s).
        served = answered(socks, within=1.5)
        waiting = [sock for sock in socks if sock not in served]
        assert 0 < len(served) < HARD and waiting
        # The connections it has are still served.
        kept = served[0]
        kept.sendall(REQUEST)
        assert answered([kept], within=5) == [kept]
        # Descriptors free up: every waiting client is accepted and answered.
        for sock in served[: len(waiting) + 10]:
            if sock is not kept:
                sock.close()
        assert set(answered(waiting, within=10)) == set(waiting)
        server.wait_for("Accepting connections again")
    finally:
        for sock in socks:
            sock.close()
        status = server.stop()
    shortages = [line for line in server.log if "Cannot accept connections" in line]
    assert len(shortages) == 1, shortages
    assert "Too many open files" in shortages[0]
    assert "Traceback" not in "".join(server.log)
    assert status == 0

