"""Talking to a running server from app tests: raw HTTP requests and a bounded event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

TIMEOUT = 10.0


def run(coroutine: Coroutine[Any, Any, T], timeout: float = TIMEOUT) -> T:
    """Run a client coroutine to completion; fail (never hang) after `timeout` seconds."""

    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, timeout)

    return asyncio.run(bounded())


def raw_request(
    host: str, port: int, target: str, method: str = "GET", headers: str = ""
) -> tuple[int, dict[str, str], bytes]:
    """Send a request line exactly as given (no client-side normalisation of `..`)."""
    request = f"{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n{headers}\r\n"
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sock.sendall(request.encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return status, fields, body


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def captured_log(name: str) -> Iterator[list[logging.LogRecord]]:
    """Records logged to `name`, whatever logging config the server installs (caplog may not see them)."""
    handler = _ListHandler()
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
