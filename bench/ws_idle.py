"""Hold many idle WebSocket connections open, for measuring a server's memory per connection.

Opens ``--connections`` connections with a minimal raw-socket handshake (no
client library, so nothing but the handshake is sent), optionally offering
permessage-deflate the way browsers do. Prints ``ready OPENED DEFLATED`` on
stdout once all handshakes are done, then sends nothing more and keeps every
socket open until stdin closes (or ``--hold`` seconds pass).

With ``--echo-once`` each connection first sends one short text message
(compressed when permessage-deflate was accepted) and reads its echo, so the
server has had to set up whatever it creates lazily (compression contexts,
buffers) before the connection goes idle.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import resource
import struct
import sys
import zlib

import uvloop

DEFLATE_OFFER = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"


def raise_open_files_limit() -> None:
    """Lift the soft RLIMIT_NOFILE to the hard limit: one descriptor per connection."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def client_frame(text: bytes, compress: bool) -> bytes:
    """One masked text frame (RFC 6455 5.2); with RFC 7692 7.2.1 compression and RSV1 if asked."""
    first = 0x81
    if compress:
        encoder = zlib.compressobj(wbits=-9)
        text = (encoder.compress(text) + encoder.flush(zlib.Z_SYNC_FLUSH))[:-4]  # drop 00 00 ff ff
        first |= 0x40
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(text))
    return struct.pack("!BB", first, 0x80 | len(text)) + mask + masked


async def echo_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, compress: bool) -> None:
    writer.write(client_frame(b"hello, idle world", compress))
    head = await reader.readexactly(2)
    if head[0] & 0x0F != 0x1:
        raise ConnectionError(f"expected a text frame back, got opcode {head[0] & 0x0F}")
    await reader.readexactly(head[1] & 0x7F)


async def open_one(host: str, port: int, deflate: bool, echo: bool) -> tuple[asyncio.StreamWriter, bool]:
    """Do one opening handshake; return the writer and whether deflate was accepted."""
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16))
    writer.write(
        b"GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n"
        % (host.encode(), port, key, DEFLATE_OFFER if deflate else b"")
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
    accepted = b"permessage-deflate" in head.lower()
    if echo:
        await echo_once(reader, writer, accepted)
    return writer, accepted


class EndOfInput(asyncio.Protocol):
    """Resolves ``closed`` when the pipe on stdin reaches EOF: the signal to let go."""

    def __init__(self, closed: asyncio.Future) -> None:
        self.closed = closed

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def stdin_closed() -> None:
    loop = asyncio.get_running_loop()
    closed = loop.create_future()
    await loop.connect_read_pipe(lambda: EndOfInput(closed), sys.stdin)
    await closed


async def hold(args: argparse.Namespace) -> None:
    writers: list[asyncio.StreamWriter] = []
    deflated = 0
    batch = 250  # stays under the servers' listen backlogs
    for start in range(0, args.connections, batch):
        opened = await asyncio.gather(
            *(open_one(args.host, args.port, args.deflate, args.echo_once)
              for _ in range(start, min(args.connections, start + batch)))
        )
        writers.extend(writer for writer, _ in opened)
        deflated += sum(accepted for _, accepted in opened)
    print(f"ready {len(writers)} {deflated}", flush=True)

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stdin_closed(), args.hold)
    for writer in writers:
        writer.transport.abort()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate")
    parser.add_argument("--echo-once", action="store_true", help="exchange one message before idling")
    parser.add_argument("--hold", type=float, default=60.0, help="seconds to hold at most")
    args = parser.parse_args(argv)
    raise_open_files_limit()
    uvloop.run(asyncio.wait_for(hold(args), args.hold + 60))
    return 0


if __name__ == "__main__":
    sys.exit(main())
