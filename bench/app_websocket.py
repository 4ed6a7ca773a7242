"""Per-message cost of the framework's WebSocket object: `python bench/app_websocket.py`.

Every message an `App` handler sees goes through `WebSocket.recv()` and
`WebSocket.send()`. This times them over an ASGI receive/send that do nothing,
so the figure is the framework's own overhead per message, next to
Starlette's `WebSocket.receive_text()`/`send_text()` on the same channel.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.websockets import WebSocket as StarletteWebSocket

from asgiws.app import WebSocket

N = 200_000
MESSAGE = {"type": "websocket.receive", "text": "hello"}


def channel() -> tuple[Any, Any]:
    connected = [False]

    async def receive() -> dict[str, Any]:
        if not connected[0]:
            connected[0] = True
            return {"type": "websocket.connect"}
        return MESSAGE

    async def send(message: dict[str, Any]) -> None:
        pass

    return receive, send


async def rate(step: Any) -> float:
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(N):
            await step()
        best = max(best, N / (time.perf_counter() - start))
    return best


async def main() -> None:
    scope = {"type": "websocket", "path": "/", "headers": []}
    ours = WebSocket(scope, *channel())
    await ours.accept()
    theirs = StarletteWebSocket(scope, *channel())
    await theirs.accept()
    print(
        f"asgiws    recv {await rate(ours.recv):>12,.0f} msg/s   "
        f"send {await rate(lambda: ours.send('hello')):>12,.0f} msg/s"
    )
    print(
        f"starlette recv {await rate(theirs.receive_text):>12,.0f} msg/s   "
        f"send {await rate(lambda: theirs.send_text('hello')):>12,.0f} msg/s"
    )


if __name__ == "__main__":
    asyncio.run(main())
