"""Soak, small: echoed messages of random sizes, text and binary, with and without permessage-deflate.

This runs the soak benchmark, `bench/soak.py` (1,000 WebSockets x 1,000
messages), small: 40 WebSockets x 100 messages through a real
``python -m asgiws examples.echo:app`` process, from clients in two other
processes. Every message carries its sequence number and the CRC-32 of its
payload; the clients find none corrupted, duplicated, reordered or lost,
and the server's RSS after the run is within 10 % of its RSS after the
warm-up (issue 10, item 8).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .processes import need_descriptors

BENCH = Path(__file__).resolve().parents[2] / "bench"
CONNECTIONS = 40
MESSAGES = 100


def test_soak_small():
    need_descriptors(CONNECTIONS + 100)
    command = [sys.executable, str(BENCH / "soak.py"), "--connections", str(CONNECTIONS), "--messages", str(MESSAGES),
               "--processes", "2", "--stall", "30", "--timeout", "120", "--json"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.stdout, result.stderr
    modes = json.loads(result.stdout)["modes"]
    assert set(modes) == {"plain", "deflate"}
    for mode, figures in modes.items():
        print(f"{mode}: {figures['verified']} verified, server RSS growth after warm-up {figures['rss_growth']:+.1%}")
        assert figures["opened"] == CONNECTIONS, mode
        assert figures["deflate"] == (CONNECTIONS if mode == "deflate" else 0), mode
        assert figures["verified"] == CONNECTIONS * MESSAGES, mode
        assert (figures["corrupted"], figures["duplicated"], figures["reordered"], figures["lost"]) == (0, 0, 0, 0)
        assert figures["closed_1000"] == CONNECTIONS, mode
        assert figures["errors"] == {}, mode
        assert figures["server_errors"] == [], mode
        assert figures["rss_growth"] <= 0.10, mode
    assert result.returncode == 0, result.stderr
