"""Fixtures shared by every test directory: run an ASGI app on a real server.

`running_server(app, "asgiws" | "uvicorn", **settings)` serves `app` on
127.0.0.1 at a free port until the block ends and yields the (host, port)
it listens on: asgiws through `asgiws.testing.LiveServer`, uvicorn in a thread
of its own. Both servers take uvicorn's Config keywords, so one behaviour
test runs against either, parametrized with the `server_kind` fixture.
Tests here default to `lifespan="off"` and `log_level="warning"`.

asgiws's pytest plugin (its `live_server` fixture) is loaded by its `pytest11`
entry point once asgiws is installed; from a checkout that is not, from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from asgiws.testing import LiveServer

SERVER_KINDS = ["asgiws", "uvicorn"]
PLUGIN = "asgiws.testing.pytest_plugin"


def pytest_configure(config: pytest.Config) -> None:
    manager = config.pluginmanager
    if not any(getattr(plugin, "__name__", None) == PLUGIN for plugin in manager.get_plugins()):
        manager.import_plugin(PLUGIN)


@contextlib.contextmanager
def running_server(app: Any, kind: str = "asgiws", **settings: Any) -> Iterator[tuple[str, int]]:
    """Serve `app` with server `kind` on 127.0.0.1 until the block ends."""
    settings.setdefault("log_level", "warning")
    settings.setdefault("lifespan", "off")
    if kind == "asgiws":
        with LiveServer(app, **settings) as server:
            yield server.host, server.port
    elif kind == "uvicorn":
        with uvicorn_server(app, **settings) as address:
            yield address
    else:
        raise ValueError(kind)


@contextlib.contextmanager
def uvicorn_server(app: Any, **settings: Any) -> Iterator[tuple[str, int]]:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, **settings))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to the test below
            failure.append(exc)

    thread = threading.Thread(target=run, name="uvicorn-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if failure or not thread.is_alive():
            raise RuntimeError("uvicorn did not start") from (failure[0] if failure else None)
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start within 10 s")
        time.sleep(0.01)
    try:
        yield host, port
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        if thread.is_alive():
            raise RuntimeError("uvicorn did not stop within 15 s")


@pytest.fixture(params=SERVER_KINDS)
def server_kind(request: pytest.FixtureRequest) -> str:
    """Parametrizes a test over asgiws and uvicorn."""
    return request.param
