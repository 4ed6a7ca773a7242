"""Default limits and timeouts that both ends of a connection share: plain numbers, written once.

The protocol core (the HTTP parser, the handshake, the WebSocket state
machine, permessage-deflate), the client (`asgiws.connect`) and the server's
settings table (`asgiws.server.settings`) all read their defaults from here,
so that the client and the server agree and a default is changed in one
place. This is the lowest module every one of them may import: it imports
nothing. A default that only the server uses (the keep-alive timeout, the
listen backlog, ...) is not here but in the settings table alone.

Sizes are in bytes, times in seconds; "no limit" is never a default (None
is the caller's explicit choice).
"""

from __future__ import annotations

#: Largest WebSocket message, reassembled and inflated (`ws_max_size`, `connect(max_size=)`).
#: uvicorn's default; Autobahn's 9.* cases send messages up to 16 MiB.
MAX_MESSAGE_SIZE = 16 * 2**20

#: Received WebSocket messages queued before reading from the socket pauses
#: (`ws_max_queue`, `connect(max_queue=)`).
MAX_QUEUE = 32

#: Seconds between keep-alive pings, and to wait for their pong (`ws_ping_interval`, `ws_ping_timeout`).
PING_INTERVAL = 20.0
PING_TIMEOUT = 20.0

#: Seconds to wait for the closing handshake before dropping TCP (`ws_close_timeout`, `connect(close_timeout=)`).
CLOSE_TIMEOUT = 10.0

#: Seconds the client waits for the opening handshake (`connect(open_timeout=)`).
OPEN_TIMEOUT = 10.0

#: Bytes the client lets wait in the transport before `send()` waits, and
#: coalesces before writing (`connect(write_limit=)`).
WRITE_LIMIT = 64 * 2**10

#: permessage-deflate: LZ77 window bits and zlib memLevel we ask for and
#: accept, about 50 KiB per connection instead of zlib's ~300 KiB.
DEFLATE_WINDOW_BITS = 12
DEFLATE_MEM_LEVEL = 5
#: permessage-deflate: zlib level of what we send. 3 costs ~20 % less CPU per
#: message than zlib's default 6 (compression is ~3/4 of a compressed echo's
#: server CPU), for output ~15 % larger on 1 KiB JSON (0.235 of the input, not 0.205).
DEFLATE_LEVEL = 3

#: Longest HTTP request line (`limit_request_line`; 414 beyond).
MAX_REQUEST_LINE = 8 * 2**10

#: Largest head (request line or status line, and header fields): a
#: request's (`limit_request_header_block`; 431 beyond) or, on the client,
#: the handshake response's.
MAX_HEADER_BLOCK = 64 * 2**10

#: Most header fields in a head (`limit_request_headers`; 431 beyond).
MAX_HEADERS = 128

#: Bytes of a refused handshake's response body the client keeps for `InvalidStatus`.
MAX_REFUSAL_BODY = 64 * 2**10
