"""Headless Chromium driven over the DevTools protocol, for page tests.

Debian's `chromium` is started with the flags this machine needs (no
sandbox as root, no background networking: the network is closed) and a
fresh profile; `Browser.evaluate()` runs a JavaScript expression in the page
through the DevTools WebSocket, using the `websockets` client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """The Chromium executable, or None when the machine has none."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Page:
    """One page target, reached over its DevTools WebSocket."""

    def __init__(self, websocket: Any) -> None:
        self._websocket = websocket
        self._next_id = 0

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaiting promises)."""
        self._next_id += 1
        request_id = self._next_id
        await self._websocket.send(
            json.dumps(
                {
                    "id": request_id,
                    "method": "Runtime.evaluate",
                    "params": {"expression": expression, "returnByValue": True, "awaitPromise": True},
                }
            )
        )
        while True:
            reply = json.loads(await asyncio.wait_for(self._websocket.recv(), 10))
            if reply.get("id") == request_id:
                break
        if "exceptionDetails" in reply.get("result", {}):
            raise RuntimeError(f"JavaScript error: {reply['result']['exceptionDetails']}")
        return reply["result"]["result"].get("value")


@contextlib.asynccontextmanager
async def open_page(url: str, timeout: float = 20.0) -> AsyncIterator[Page]:
    """Start headless Chromium on `url` and yield its page; stop Chromium after."""
    executable = chromium_path()
    if executable is None:
        raise RuntimeError("chromium is not installed")
    profile = tempfile.mkdtemp(prefix="asgiws-chromium-")
    process = subprocess.Popen(
        [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while not (os.path.exists(port_file) and Path(port_file).read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            await asyncio.sleep(0.05)
        port = int(Path(port_file).read_text().split()[0])
        page_url = None
        while page_url is None:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
                targets = json.load(response)
            page_url = next((t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page"), None)
            if page_url is None:
                if time.monotonic() > deadline:
                    raise RuntimeError("chromium opened no page")
                await asyncio.sleep(0.05)
        async with connect(page_url, max_size=None) as websocket:
            yield Page(websocket)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)
