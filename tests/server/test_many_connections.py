"""A thousand concurrent echoing WebSockets on one server process, with and without permessage-deflate.

This runs the 10,000-connection benchmark, `bench/many_connections.py`,
small: a real ``python -m asgiws examples.echo:app`` process, clients in two
other processes, every connection open at once while each echoes three
messages, then closed with 1000; no error on either side. The benchmark
prints the server's RSS per connection (issue 10, item 6).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .processes import need_descriptors

BENCH = Path(__file__).resolve().parents[2] / "bench"
CONNECTIONS = 1000
MESSAGES = 2  # echoed by each connection with all of them open, after the one it echoes on opening


def test_a_thousand_websockets_echo_at_once():
    need_descriptors(CONNECTIONS + 100)
    command = [sys.executable, str(BENCH / "many_connections.py"), "--connections", str(CONNECTIONS),
               "--processes", "2", "--messages", str(MESSAGES), "--timeout", "120", "--json"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout, result.stderr
    modes = json.loads(result.stdout)["modes"]
    assert set(modes) == {"plain", "deflate"}
    for mode, figures in modes.items():
        print(f"{mode}: server RSS per connection {figures['rss_per_connection_kib']} KiB")  # `pytest -rP`
        assert figures["opened"] == CONNECTIONS, mode
        assert figures["deflate"] == (CONNECTIONS if mode == "deflate" else 0), mode
        assert figures["echoed"] == CONNECTIONS * (1 + MESSAGES), mode
        assert figures["closed_1000"] == CONNECTIONS, mode
        assert figures["errors"] == {}, mode
        assert figures["server_errors"] == [], mode
        assert figures["server_alive_to_the_end"], mode
