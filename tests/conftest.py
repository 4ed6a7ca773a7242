"""Fixtures shared by every test directory: run an ASGI app on a real server.

`running_server(app, "asgiws" | "uvicorn", **settings)` starts the server in a
thread with its own event loop, on a socket bound to 127.0.0.1 port 0, and
yields the (host, port) it listens on. Both servers take uvicorn's Config
keywords, so one behaviour test runs against either, parametrized with the
`server_kind` fixture.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from typing import Any, Iterator

import pytest

SERVER_KINDS = ["asgiws", "uvicorn"]


def _server_classes(kind: str) -> tuple[Any, Any]:
    if kind == "uvicorn":
        import uvicorn

        return uvicorn.Config, uvicorn.Server
    if kind == "asgiws":
        import asgiws

        if not hasattr(asgiws, "Server"):
            pytest.skip("asgiws.Server does not exist yet")
        return asgiws.Config, asgiws.Server
    raise ValueError(kind)


@contextlib.contextmanager
def running_server(app: Any, kind: str = "asgiws", **settings: Any) -> Iterator[tuple[str, int]]:
    """Serve `app` with server `kind` on 127.0.0.1 until the block ends."""
    config_class, server_class = _server_classes(kind)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    settings.setdefault("log_level", "warning")
    settings.setdefault("lifespan", "off")
    config = config_class(app, host=host, port=port, **settings)
    server = server_class(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to the test below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"{kind}-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if failure or not thread.is_alive():
            raise RuntimeError(f"{kind} did not start") from (failure[0] if failure else None)
        if time.monotonic() > deadline:
            raise RuntimeError(f"{kind} did not start within 10 s")
        time.sleep(0.01)
    try:
        yield host, port
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        if thread.is_alive():
            raise RuntimeError(f"{kind} did not stop within 15 s")


@pytest.fixture(params=SERVER_KINDS)
def server_kind(request: pytest.FixtureRequest) -> str:
    """Parametrizes a test over asgiws and uvicorn."""
    return request.param
