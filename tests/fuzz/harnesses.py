"""Every harness, by name: the name is also its corpus folder, ``corpus/NAME``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

#: name -> "module:function" (imported late, so that the fuzzer can instrument asgiws first).
HARNESSES = {
    "http_request": "fuzz_http_request:fuzz",
    "frames": "fuzz_frames:fuzz",
    "connection": "fuzz_connection:fuzz",
    "deflate_negotiation": "fuzz_deflate:fuzz_negotiation",
    "deflate_inflate": "fuzz_deflate:fuzz_inflate",
    "handshake_server": "fuzz_handshake:fuzz_server",
    "handshake_client": "fuzz_handshake:fuzz_client",
    "diff_http": "diff_http:fuzz",
    "diff_http_head": "diff_http_head:fuzz",
    "diff_websocket": "diff_websocket:fuzz",
}

CORPUS = Path(__file__).parent / "corpus"


def load(name: str) -> Callable[[bytes], None]:
    """The harness function called `name`."""
    module, function = HARNESSES[name].split(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), function)


def corpus(name: str) -> Path:
    """The seed corpus folder of harness `name` (seeds, and the inputs that once failed)."""
    return CORPUS / name
