"""Run an asgiws `Server` in a thread and hand the test the Server object itself.

tests/conftest.py's `running_server` hides the server behind (host, port);
tests that look inside (connections, buffered bytes) or that expect the
server to stop by itself use `serving` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from typing import Any, Iterator

import asgiws


@contextlib.contextmanager
def serving(app: Any, **settings: Any) -> Iterator[tuple[asgiws.Server, int, threading.Thread]]:
    """Serve `app` on 127.0.0.1; yields (server, port, thread); stops it at the end of the block."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings.setdefault("log_level", "warning")
    settings.setdefault("lifespan", "off")
    server = asgiws.Server(asgiws.Config(app, port=port, **settings))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("asgiws did not start")
        time.sleep(0.01)
    try:
        yield server, port, thread
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        if thread.is_alive():
            raise RuntimeError("asgiws did not stop within 15 s")
