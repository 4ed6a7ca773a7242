"""Helpers to test ASGI apps: `TestClient` in process, `LiveServer` on a real socket, a pytest plugin.

`TestClient` needs httpx (``pip install 'asgiws[testing]'``); it is imported
only when asked for, so `LiveServer` and the pytest plugin (loaded by every
pytest run where asgiws is installed) cost no httpx import.
"""

from __future__ import annotations

from typing import Any

from .live import LiveServer

__all__ = ["InProcessWebSocket", "LiveServer", "TestClient"]


def __getattr__(name: str) -> Any:
    if name == "TestClient":
        from .client import TestClient

        return TestClient
    if name == "InProcessWebSocket":
        from .websocket import InProcessWebSocket

        return InProcessWebSocket
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
