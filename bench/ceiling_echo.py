"""The fastest echo server at hand (picows, Cython, no ASGI), to find the load generator's ceiling.

Served on core 0 like the servers under test: whatever rate the WebSocket
load generator reaches against it is the most it can measure, so a server
figure close to this one says more about the client than the server.

    python bench/ceiling_echo.py --port 8000

It accepts permessage-deflate when offered, and echoes each frame with its
RSV1 bit: a compressed message comes back as the same compressed bytes,
which the sender can inflate as long as it compressed each message on its
own (as `ws_load.py --deflate` does). It never compresses or inflates, so
with deflate it is the client's ceiling, not a server's floor.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

import uvloop
from picows import (
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)


class Echo(WSListener):
    """Sends every data frame straight back with its own type and FIN bit."""

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        if msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()
        elif msg_type in (WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION):
            transport.send(msg_type, frame.get_payload_as_bytes(), frame.fin, frame.rsv1)


def accept(request: WSUpgradeRequest) -> Echo | WSUpgradeResponseWithListener:
    """An echo listener; the 101 response accepts permessage-deflate if the client offered it."""
    offers = request.headers.get("sec-websocket-extensions") or ""
    if "permessage-deflate" not in offers.lower():
        return Echo()
    response = WSUpgradeResponse.create_101_response(
        extra_headers={"Sec-WebSocket-Extensions": "permessage-deflate; server_no_context_takeover"}
    )
    return WSUpgradeResponseWithListener(response, Echo())


async def serve(host: str, port: int) -> None:
    server = await ws_create_server(accept, host, port, max_frame_size=64 << 20)
    await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
