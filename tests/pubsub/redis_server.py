"""A real `redis-server` for the tests: its own port on 127.0.0.1, its own temporary directory.

It keeps nothing on disk unless a test asks for it (`save()`), and it can
be killed and started again on the same port, with or without the data it
saved, which is how the tests break a PubSub's connection for real.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """One redis-server process at a time, always on the same port and directory."""

    def __init__(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            # In CI (.ci/run installs it) a missing redis-server is a failure, not a skip.
            if os.environ.get("CI"):
                raise RuntimeError("redis-server is not installed (.ci/run installs Debian's redis-server)")
            pytest.skip("redis-server is not installed (Debian package redis-server)")
        self.executable = executable
        self.port = free_port()
        # A short path: a unix socket's path must fit in 108 bytes.
        self.directory = Path(tempfile.mkdtemp(prefix="redis-"))
        self.unix_socket = str(self.directory / "redis.sock")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def unix_url(self) -> str:
        return f"unix://{self.unix_socket}?db=0"

    def start(self, *, listen: bool = True) -> None:
        """Start on the port (loading what `save()` wrote, if anything).

        With `listen=False`, on the unix socket only.
        """
        command = [
            self.executable,
            "--port", str(self.port if listen else 0),
            "--bind", "127.0.0.1",
            "--unixsocket", self.unix_socket,
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "no",
            "--loglevel", "warning",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client().ping():
                    return
            except redis.exceptions.RedisError as exc:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from exc
                time.sleep(0.01)

    def listen(self) -> None:
        """Open the TCP port of a server started with `listen=False`."""
        self.client().config_set("port", self.port)

    def client(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=self.unix_socket, socket_timeout=5)

    def save(self) -> None:
        """Write the data to disk, for the next `start()` to load."""
        self.client().save()

    def kill(self) -> None:
        """SIGKILL: the server vanishes at once, as in a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)
