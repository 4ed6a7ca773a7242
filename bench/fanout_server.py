"""The fan-out benchmark's servers: the same subscribers and control channel on each library.

    python bench/fanout_server.py KIND --port PORT [--redis URL]

KIND is one of:

- ``asgiws``: an `asgiws.App` on asgiws's server, `asgiws.broadcast()`;
- ``asgiws-uvicorn``: the same App on uvicorn (plain ASGI ``send``), `asgiws.broadcast()`;
- ``websockets``: the `websockets` library's asyncio server and its own `broadcast()`;
- ``aiohttp``: aiohttp's server, ``asyncio.gather`` of ``send_str`` (it has no broadcast);
- ``asgiws-join``: an `asgiws.App` whose subscribers ``PubSub.join()`` a topic on Redis
  (``--redis``); messages are published by the benchmark, not by this server.

Every one runs on uvloop and serves ``/sub`` (a subscriber: registered, never
sent anything but the broadcasts) and ``/control``, a WebSocket taking JSON
commands: ``count`` (subscribers), ``single`` (broadcast one message),
``burst`` (``n`` broadcasts in one go, without yielding where the library
allows it; with ``count_tasks``, also the tasks alive after it minus
before), ``gc`` (garbage collections since the last ``gc``, timed with
`gc.callbacks`). The asgiws-join server serves ``/topics/{topic}`` instead
of ``/sub``. A message is 32 bytes of text: its sequence number in ten
digits, then dots. Times are `time.monotonic()` (CLOCK_MONOTONIC, the same
clock in every process of the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
from collections.abc import Awaitable, Callable
from time import monotonic, perf_counter
from typing import Any

import uvloop

MESSAGE_SIZE = 32


def message(seq: int) -> str:
    return f"{seq:010d}".ljust(MESSAGE_SIZE, ".")


class GCWatch:
    """Counts and times the garbage collector's passes, by generation, through `gc.callbacks`."""

    def __init__(self) -> None:
        self.started = 0.0
        self.reset()
        gc.callbacks.append(self.callback)

    def reset(self) -> None:
        self.count = [0, 0, 0]
        self.longest = [0.0, 0.0, 0.0]
        self.total = 0.0

    def callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = perf_counter()
            return
        elapsed = perf_counter() - self.started
        generation = info["generation"]
        self.count[generation] += 1
        self.longest[generation] = max(self.longest[generation], elapsed)
        self.total += elapsed

    def report(self) -> dict[str, Any]:
        report = {
            "collections": self.count,
            "longest_ms": [round(t * 1e3, 2) for t in self.longest],
            "total_ms": round(self.total * 1e3, 1),
        }
        self.reset()
        return report


class Control:
    """Runs the control commands against a set of subscribers and a way to reach them all."""

    def __init__(self, subscribers: Any, send_all: Callable[[str], Awaitable[None] | None]) -> None:
        self.subscribers = subscribers
        self.send_all = send_all
        self.gc = GCWatch()

    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        command = request["cmd"]
        if command == "count":
            return {"count": len(self.subscribers)}
        if command == "gc":
            return self.gc.report()
        if command in ("single", "burst"):
            seq, n = request["seq"], request.get("n", 1)
            messages = [message(seq + i) for i in range(n)]
            count_tasks = request.get("count_tasks", False)  # costs ~1 µs per task alive: not while timed
            tasks_before = len(asyncio.all_tasks()) if count_tasks else 0
            t0 = monotonic()
            for text in messages:
                pending = self.send_all(text)
                if pending is not None:
                    await pending
            call = monotonic() - t0
            answer = {"t0": t0, "call": call}
            if count_tasks:
                answer["tasks"] = len(asyncio.all_tasks()) - tasks_before
            return answer
        raise ValueError(f"unknown command {command!r}")


async def subscribed(subscribers: set[Any], websocket: Any) -> None:
    """Keep `websocket` in `subscribers` until it ends (a subscriber sends nothing)."""
    subscribers.add(websocket)
    try:
        async for _ in websocket:
            pass
    finally:
        subscribers.discard(websocket)


def asgiws_app(redis_url: str | None) -> Any:
    import asgiws

    app = asgiws.App()
    subscribers: set[Any] = set()
    control = Control(subscribers, lambda text: asgiws.broadcast(subscribers, text) and None)

    @app.websocket("/sub")
    async def sub(websocket: Any) -> None:
        await subscribed(subscribers, websocket)

    if redis_url is not None:
        pubsub = asgiws.PubSub(redis_url)

        @app.websocket("/topics/{topic}")
        async def joined(websocket: Any) -> None:
            async with pubsub.join(websocket.path_params["topic"], websocket):
                await sub(websocket)

    @app.websocket("/control")
    async def control_channel(websocket: Any) -> None:
        async for request in websocket:
            await websocket.send(json.dumps(await control.run(json.loads(request))))

    return app


def serve_asgiws(port: int, redis_url: str | None) -> None:
    import asgiws

    asgiws.run(asgiws_app(redis_url), host="127.0.0.1", port=port, loop="uvloop", log_level="warning", access_log=False)


def serve_asgiws_on_uvicorn(port: int) -> None:
    import uvicorn

    uvicorn.run(
        asgiws_app(None), host="127.0.0.1", port=port, loop="uvloop", http="httptools",
        log_level="warning", access_log=False,
    )  # fmt: skip


async def serve_websockets(port: int) -> None:
    from websockets.asyncio.server import broadcast, serve

    subscribers: set[Any] = set()
    control = Control(subscribers, lambda text: broadcast(subscribers, text))

    async def handler(websocket: Any) -> None:
        if websocket.request.path == "/control":
            async for request in websocket:
                await websocket.send(json.dumps(await control.run(json.loads(request))))
            return
        subscribers.add(websocket)
        try:
            await websocket.wait_closed()
        finally:
            subscribers.discard(websocket)

    async with serve(handler, "127.0.0.1", port, max_size=None, backlog=4096):
        await asyncio.get_running_loop().create_future()


async def serve_aiohttp(port: int) -> None:
    from aiohttp import WSMsgType, web

    subscribers: set[Any] = set()

    async def send_all(text: str) -> None:
        await asyncio.gather(*(ws.send_str(text) for ws in subscribers), return_exceptions=True)

    control = Control(subscribers, send_all)

    async def sub(request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse()
        await websocket.prepare(request)
        await subscribed(subscribers, websocket)
        return websocket

    async def control_channel(request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse()
        await websocket.prepare(request)
        async for frame in websocket:
            if frame.type == WSMsgType.TEXT:
                await websocket.send_str(json.dumps(await control.run(json.loads(frame.data))))
        return websocket

    app = web.Application()
    app.add_routes([web.get("/sub", sub), web.get("/control", control_channel)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=4096).start()
    await asyncio.get_running_loop().create_future()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["asgiws", "asgiws-uvicorn", "websockets", "aiohttp", "asgiws-join"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", help="Redis URL (asgiws-join)")
    args = parser.parse_args(argv)
    if args.kind == "asgiws":
        serve_asgiws(args.port, None)
    elif args.kind == "asgiws-join":
        serve_asgiws(args.port, args.redis)
    elif args.kind == "asgiws-uvicorn":
        serve_asgiws_on_uvicorn(args.port)
    elif args.kind == "websockets":
        uvloop.run(serve_websockets(args.port))
    else:
        uvloop.run(serve_aiohttp(args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
