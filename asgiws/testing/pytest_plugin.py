"""The pytest plugin of asgiws (entry point `pytest11`, name "asgiws"): the `live_server` fixture.

    def test_home(live_server):
        server = live_server(app, ws_max_size=1024)    # a started LiveServer
        assert httpx.get(server.url + "/").status_code == 200

Each server started through the fixture is stopped when the test ends.
Disable the plugin with ``-p no:asgiws``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .live import LiveServer


@pytest.fixture
def live_server() -> Iterator[Callable[..., LiveServer]]:
    """``live_server(app, **config)``: serve `app` on a real asgiws server on 127.0.0.1 until the test ends."""
    with contextlib.ExitStack() as servers:

        def start(app: Any, **config: Any) -> LiveServer:
            return servers.enter_context(LiveServer(app, **config))

        yield start
