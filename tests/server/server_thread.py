"""Run an asgiws `Server` on a real socket and hand the test the Server object itself.

tests/conftest.py's `running_server` hides the server behind (host, port);
tests that look inside (connections, buffered bytes) or that expect the
server to stop by itself use `serving` instead. Both stand on
`asgiws.testing.LiveServer`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import asgiws
from asgiws.testing import LiveServer


@contextlib.contextmanager
def serving(app: Any, **settings: Any) -> Iterator[tuple[asgiws.Server, int, threading.Thread]]:
    """Serve `app` on 127.0.0.1; yields (server, port, thread); stops it at the end of the block."""
    settings.setdefault("log_level", "warning")
    settings.setdefault("lifespan", "off")
    with LiveServer(app, **settings) as live:
        assert live.thread is not None
        yield live.server, live.port, live.thread
