"""A minimal HTTP/1.1 client over a raw socket, for what httpx won't send.

Malformed requests, pipelining and half-sent heads need exact bytes on the
wire; `RawResponse.read_from` reads one response (Content-Length, chunked
or close-delimited) from a shared buffered reader, so several pipelined
responses can be read one after the other.
"""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass, field
from typing import BinaryIO

TIMEOUT = 5


def connect(port: int, host: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    return sock


@dataclass
class RawResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @classmethod
    def read_from(cls, reader: BinaryIO, head_request: bool = False) -> RawResponse:
        """Read one response; raises EOFError when the connection closed before a status line."""
        line = reader.readline()
        if not line:
            raise EOFError("connection closed")
        status = int(line.split()[1])
        headers = []
        while True:
            line = reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers.append((name.strip().lower(), value.strip()))
        response = cls(status, headers)
        if head_request or status in (204, 304) or 100 <= status < 200:
            return response
        if response.header("content-length") is not None:
            response.body = reader.read(int(response.header("content-length")))
        elif response.header("transfer-encoding") == "chunked":
            chunks = []
            while True:
                size = int(reader.readline().split(b";")[0], 16)
                if size == 0:
                    while reader.readline() not in (b"\r\n", b""):
                        pass
                    break
                chunks.append(reader.read(size))
                reader.readline()
            response.body = b"".join(chunks)
        else:
            response.body = reader.read()
        return response


def exchange(port: int, data: bytes, timeout: float = TIMEOUT) -> tuple[list[RawResponse], bool]:
    """Send `data`, read responses until the server closes (or `timeout`); (responses, closed)."""
    with connect(port) as sock:
        sock.settimeout(timeout)
        sock.sendall(data)
        reader = sock.makefile("rb")
        responses = []
        try:
            while True:
                responses.append(RawResponse.read_from(reader))
        except EOFError:
            return responses, True
        except TimeoutError:
            return responses, False


def is_closed(sock: socket.socket) -> bool:
    """True once the peer closed (EOF or reset) within the socket's timeout."""
    try:
        while sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def answered(socks: list[socket.socket], within: float) -> list[socket.socket]:
    """The sockets among `socks` that get a 200 to read within `within` seconds, in that order (read and dropped).

    Each answer is one small response, read with one recv.
    """
    waiting = set(socks)
    done: list[socket.socket] = []
    deadline = time.monotonic() + within
    while waiting and (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select(list(waiting), [], [], left)
        for sock in readable:
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
            waiting.discard(sock)
            done.append(sock)
    return done
