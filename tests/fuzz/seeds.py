"""The seed corpus, written from code: ``python -m tests.fuzz.seeds`` rewrites ``corpus/*/seed-*``.

Seeds are valid traffic of each kind (and a few classic invalid ones), with
the option bytes each harness reads first (see `reader`), so that the
fuzzer starts from inputs that reach deep into each parser. Files named
``crash-*`` in the same folders are inputs that once failed a harness:
this script leaves them alone, and the tests replay them.
"""

from __future__ import annotations

import hashlib
import zlib

from asgiws.protocol.deflate import DeflateSettings, PerMessageDeflate, serialize_extensions
from asgiws.protocol.frames import Frame, Opcode, serialize_close
from asgiws.protocol.frames import serialize_frame as serialize_unmasked
from asgiws.protocol.handshake import accept_key
from asgiws.protocol.mask import apply_mask

from .harnesses import HARNESSES, corpus

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
MASK = b"\x37\xfa\x21\x3d"  # RFC 6455 section 5.7's example key


def serialize_frame(frame: Frame, mask: bool) -> bytes:
    """`frames.serialize_frame`, with a fixed masking key so that seeds are the same on every run."""
    raw = serialize_unmasked(frame, mask=False)
    if not mask:
        return raw
    head = {126: 4, 127: 10}.get(raw[1], 2)
    return bytes((raw[0], raw[1] | 0x80)) + raw[2:head] + MASK + apply_mask(raw[head:], MASK)

REQUESTS = [
    b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"GET /path?q=1 HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
    b"POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
    b"PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"
    b"GET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    b"\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx",
    b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
    b"GET / HTTP/1.1\nHost: a\n\n",
    b"GET / HTTP/2.0\r\n\r\n",
]

UPGRADE = (
    b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: " + KEY.encode() + b"\r\nOrigin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, permessage-deflate\r\n\r\n"
)
UPGRADES = [
    UPGRADE,
    UPGRADE + b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
    UPGRADE.replace(b"Version: 13", b"Version: 8"),
    UPGRADE.replace(b"GET", b"POST"),
    UPGRADE.replace(b"Connection: Upgrade", b"Connection: keep-alive, Upgrade"),
    b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
]


def client_frames() -> list[bytes]:
    """Client-to-server streams (masked)."""
    close = serialize_frame(Frame(Opcode.CLOSE, serialize_close(1000, "bye")), mask=True)
    return [
        serialize_frame(Frame(Opcode.TEXT, b"Hello"), mask=True) + close,
        serialize_frame(Frame(Opcode.TEXT, b"Hel", fin=False), mask=True)
        + serialize_frame(Frame(Opcode.PING, b"ping"), mask=True)
        + serialize_frame(Frame(Opcode.CONTINUATION, "lo \u00e9".encode()), mask=True),
        serialize_frame(Frame(Opcode.BINARY, bytes(200)), mask=True)
        + serialize_frame(Frame(Opcode.BINARY, bytes(70000)[:300]), mask=True),
        serialize_frame(Frame(Opcode.PONG, b""), mask=True) + serialize_frame(Frame(Opcode.CLOSE, b""), mask=True),
        serialize_frame(Frame(Opcode.TEXT, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce"), mask=True),
        serialize_frame(Frame(Opcode.CLOSE, b"\x03\xe8\xff"), mask=True),
        b"\x82\xfe\x01\x00" + b"\x00" * 4 + bytes(256),
    ]


def server_frames() -> list[bytes]:
    """Server-to-client streams (unmasked)."""
    return [
        serialize_frame(Frame(Opcode.TEXT, b"Hello"), mask=False)
        + serialize_frame(Frame(Opcode.CLOSE, serialize_close(1001, "going away")), mask=False),
        serialize_frame(Frame(Opcode.BINARY, b"ab", fin=False), mask=False)
        + serialize_frame(Frame(Opcode.PING, b""), mask=False)
        + serialize_frame(Frame(Opcode.CONTINUATION, b"cd"), mask=False),
        b"\x81\x7f" + (10).to_bytes(8, "big") + b"0123456789",
        b"\x8a\x02hi\x88\x02\x0f\xa0",
    ]


def deflated(messages: list[bytes], mask: bool) -> bytes:
    """Messages as a permessage-deflate peer sends them (RSV1, sync tail stripped)."""
    ext = PerMessageDeflate()
    return b"".join(serialize_frame(ext.encode(Frame(Opcode.TEXT, m)), mask=mask) for m in messages)


def bomb() -> bytes:
    """A small compressed payload that inflates to 1 MiB."""
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(bytes(2**20)) + compressor.flush(zlib.Z_SYNC_FLUSH)[:-4]


def responses() -> list[bytes]:
    accept = accept_key(KEY).encode()
    ok = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept
    )
    return [
        ok + b"\r\n\r\n\x81\x02hi",
        ok + b"\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
        ok + b"\r\nSec-WebSocket-Extensions: permessage-deflate; "
        b"server_max_window_bits=12; client_max_window_bits=12\r\n\r\n",
        ok + b"\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n",
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\nContent-Type: text/plain\r\n\r\nforbidden",
        b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\n<html>",
        ok.replace(accept, b"x3JJHMbDL1EzLkh9GBhXDw=="),
    ]


def seeds() -> dict[str, list[bytes]]:
    """Every harness' seeds, option bytes included."""
    frames_server = [bytes([opts, seed]) + s for s in client_frames() for opts, seed in ((1, 0), (0x11, 7))]
    frames_client = [bytes([opts, seed]) + s for s in server_frames() for opts, seed in ((0, 0), (0x40, 200))]
    deflate_client = deflated([b"Hello", b"Hello", bytes(100)], mask=True)
    deflate_server = deflated([b"Hello", b"world"], mask=False)
    offer = serialize_extensions([DeflateSettings().offer()]).encode()
    http_request = [bytes([opts, seed]) + r for r in REQUESTS for opts, seed in ((0, 0), (130, 3))] + [
        bytes([opts, 9]) + u for u in UPGRADES for opts in (0, 128)
    ]
    return {
        "http_request": http_request,
        "frames": frames_server + frames_client,
        "connection": [bytes([0x00, 0]) + s for s in client_frames()]
        + [bytes([0x81, 5]) + s for s in server_frames()]
        + [bytes([0x02, 0]) + deflate_client, bytes([0x07, 9]) + deflate_server, bytes([0x62, 0]) + deflate_client],
        "deflate_negotiation": [
            b"\x00" + offer,
            b"\x00permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate",
            b"\x02permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            b'\x04permessage-deflate; client_max_window_bits="9"; server_max_window_bits=8',
            b"\x01permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
            b"\x03permessage-deflate",
            b"\x05permessage-deflate; server_no_context_takeover; server_max_window_bits=9",
            b"\x01x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=10",
        ],
        "deflate_inflate": [
            b"\x0e\x00" + b"\x07" + bytes([len(p)]) + p
            for p in (PerMessageDeflate().encode(Frame(Opcode.TEXT, b"Hello Hello Hello")).payload,)
        ]
        + [b"\x0e\x03\x07\xff" + bomb()[:255], b"\x0e\x04\x06\x02\xf2\x48\x00\x03\xcd\xc9\xc9\x07\x00"],
        "handshake_server": [bytes([choice]) + u for u in UPGRADES for choice in (0, 1)],
        "handshake_client": [bytes([opts, seed]) + r for r in responses() for opts, seed in ((0x05, 0), (0x01, 4))],
        "diff_http": REQUESTS + UPGRADES,
        "diff_http_head": http_request,
        "diff_websocket": [b"\x00" + s for s in client_frames()] + [b"\x01" + s for s in server_frames()],
    }


def main() -> None:
    all_seeds = seeds()
    assert set(all_seeds) == set(HARNESSES)
    for name, inputs in all_seeds.items():
        folder = corpus(name)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("seed-*"):
            old.unlink()
        for data in inputs:
            (folder / f"seed-{hashlib.sha1(data).hexdigest()[:16]}").write_bytes(data)
        print(f"{name}: {len(inputs)} seeds")


if __name__ == "__main__":
    main()
