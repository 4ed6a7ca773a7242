"""The handler-style WebSocket object over a real server, with the websockets client."""

from __future__ import annotations

import asyncio
import json
import queue
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed as ClientConnectionClosed
from websockets.exceptions import InvalidStatus

import asgiws
from asgiws.app import App, WebSocket, WebSocketRoute, websocket_app
from tests.app.wire import captured_log, run
from tests.conftest import running_server

TIMEOUT = 10


def make_app(events: queue.Queue[Any]) -> App:
    app = App()

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        async for message in websocket:
            await websocket.send(message)
        # The loop ended cleanly at close; recv keeps returning None.
        events.put(
            ("echo done", await websocket.recv(), websocket.closed, websocket.close_code, websocket.close_reason)
        )

    @app.websocket("/where/{room}")
    async def where(websocket: WebSocket, path: str) -> None:
        await websocket.send(
            json.dumps(
                {
                    "path": path,
                    "ws.path": websocket.path,
                    "params": websocket.path_params,
                    "query": websocket.query_params.getlist("a"),
                    "multi": websocket.request_headers.get_all("X-Multi"),
                    "first": websocket.request_headers["x-multi"],
                    "remote": websocket.remote_address[0] if websocket.remote_address else None,
                    "open": websocket.open,
                }
            )
        )

    @app.websocket("/returns")
    async def returns(websocket: WebSocket) -> None:
        await websocket.send("bye")

    @app.websocket("/raises")
    async def raises(websocket: WebSocket) -> None:
        await websocket.send("about to fail")
        raise ValueError("handler bug")

    @app.websocket("/send-after-close")
    async def send_after_close(websocket: WebSocket) -> None:
        assert await websocket.recv() is None
        try:
            await websocket.send("too late")
        except asgiws.ConnectionClosed as exc:
            events.put(("raised", type(exc).__name__, exc.code))
        else:
            events.put(("no error",))

    @app.websocket("/keeps-sending")
    async def keeps_sending(websocket: WebSocket) -> None:
        # Never receives, so only send() can notice that the client went away.
        try:
            for _ in range(1000):
                await websocket.send("tick")
                await asyncio.sleep(0.01)
        except asgiws.ConnectionClosed:
            events.put(("raised",))
        else:
            events.put(("no error",))

    @app.websocket("/choose", accept=False)
    async def choose(websocket: WebSocket) -> None:
        offered = websocket.subprotocols
        if "reject" in offered:
            await websocket.close()
            return
        await websocket.accept(subprotocol=offered[-1])
        await websocket.send(websocket.subprotocol or "")

    @app.websocket("/auto", subprotocols=["chat.v2", "chat.v1"])
    async def auto(websocket: WebSocket) -> None:
        await websocket.send(websocket.subprotocol or "none")

    @app.websocket("/close-custom")
    async def close_custom(websocket: WebSocket) -> None:
        await websocket.close(4000, "custom")
        events.put(("closed", websocket.open, websocket.closed, await websocket.recv()))

    return app


def test_websocket_object(server_kind: str) -> None:
    events: queue.Queue[Any] = queue.Queue()
    with running_server(make_app(events), server_kind) as (host, port), captured_log("asgiws.app") as records:
        base = f"ws://{host}:{port}"

        async def client() -> None:
            async with connect(f"{base}/echo") as ws:
                await ws.send("text")
                assert await ws.recv() == "text"
                await ws.send(b"\x00bin")
                assert await ws.recv() == b"\x00bin"
                await ws.close(1001, "going")
            assert events.get(timeout=TIMEOUT) == ("echo done", None, True, 1001, "going")

            async with connect(
                f"{base}/where/blue%20room?a=1&a=2", additional_headers=[("X-Multi", "one"), ("X-Multi", "two")]
            ) as ws:
                info = json.loads(await ws.recv())
            assert info["path"] == "/where/blue%20room?a=1&a=2" == info["ws.path"]
            assert info["params"] == {"room": "blue room"}
            assert info["query"] == ["1", "2"]
            assert info["multi"] == ["one", "two"] and info["first"] == "one"
            assert info["remote"] == "127.0.0.1" and info["open"] is True

            async with connect(f"{base}/returns") as ws:
                assert await ws.recv() == "bye"
                with pytest.raises(ClientConnectionClosed):
                    await ws.recv()
                assert ws.close_code == 1000

            async with connect(f"{base}/raises") as ws:
                assert await ws.recv() == "about to fail"
                with pytest.raises(ClientConnectionClosed):
                    await ws.recv()
                assert ws.close_code == 1011

            async with connect(f"{base}/send-after-close") as ws:
                pass
            assert events.get(timeout=TIMEOUT) == ("raised", "ConnectionClosedOK", 1000)

            async with connect(f"{base}/keeps-sending") as ws:
                assert await ws.recv() == "tick"
            assert events.get(timeout=TIMEOUT) == ("raised",)

            async with connect(f"{base}/choose", subprotocols=["x", "y"]) as ws:
                assert ws.subprotocol == "y" and await ws.recv() == "y"
            with pytest.raises(InvalidStatus) as info:
                async with connect(f"{base}/choose", subprotocols=["reject"]):
                    pass
            assert info.value.response.status_code == 403

            async with connect(f"{base}/auto", subprotocols=["chat.v1", "chat.v2"]) as ws:
                assert ws.subprotocol == "chat.v2" and await ws.recv() == "chat.v2"
            async with connect(f"{base}/auto") as ws:
                assert ws.subprotocol is None and await ws.recv() == "none"

            async with connect(f"{base}/close-custom") as ws:
                with pytest.raises(ClientConnectionClosed):
                    await ws.recv()
                assert (ws.close_code, ws.close_reason) == (4000, "custom")
            assert events.get(timeout=TIMEOUT) == ("closed", False, True, None)

        run(client())
        # The handler's exception was logged with its traceback.
        assert any(r.exc_info and isinstance(r.exc_info[1], ValueError) for r in records)


def test_websocket_app_for_a_plain_handler(server_kind: str) -> None:
    """`websocket_app(handler)`: a guide-style `handler(websocket, path)` as an ASGI app, on any path."""

    async def hello(websocket: WebSocket, path: str) -> None:
        name = await websocket.recv()
        await websocket.send(f"Hello {name} at {path}!")

    with running_server(websocket_app(hello), server_kind) as (host, port):

        async def client() -> None:
            async with connect(f"ws://{host}:{port}/any/path?x=1") as ws:
                await ws.send("you")
                assert await ws.recv() == "Hello you at /any/path?x=1!"

        run(client())
        import httpx

        assert httpx.get(f"http://{host}:{port}/", timeout=10).status_code == 426


def _scope() -> dict[str, Any]:
    return {"type": "websocket", "path": "/", "raw_path": b"/", "query_string": b"", "headers": [], "subprotocols": []}


def test_out_of_order_messages_are_refused() -> None:
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return incoming.pop() if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def main() -> None:
        ws = WebSocket(_scope(), receive, send)
        assert not ws.open and not ws.closed
        with pytest.raises(RuntimeError, match="accept"):
            await ws.send("early")
        with pytest.raises(RuntimeError, match="accept"):
            await ws.recv()
        await ws.accept()
        assert ws.open
        with pytest.raises(RuntimeError, match="already connected"):
            await ws.accept()
        with pytest.raises(TypeError):
            await ws.send(42)  # type: ignore[arg-type]
        assert await ws.recv() is None  # the disconnect
        assert ws.closed and ws.close_code == 1000
        with pytest.raises(asgiws.ConnectionClosed):
            await ws.send("late")
        await ws.close()  # closing a closed connection does nothing

    asyncio.run(asyncio.wait_for(main(), TIMEOUT))
    assert [m["type"] for m in sent] == ["websocket.accept"]


def test_server_send_errors_become_connection_closed() -> None:
    """A server's own disconnect error (uvicorn raises ClientDisconnected, an OSError) is translated."""

    class ServerSpecificDisconnect(OSError):
        pass

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            raise ServerSpecificDisconnect()

    async def main() -> None:
        ws = WebSocket(_scope(), receive, send)
        await ws.accept()
        with pytest.raises(asgiws.ConnectionClosed) as info:
            await ws.send("x")
        assert info.value.code == 1006 and ws.closed

    asyncio.run(asyncio.wait_for(main(), TIMEOUT))


def test_connection_closed_from_another_connection_is_a_handler_error() -> None:
    """Only this connection being closed ends the handler quietly; any other ConnectionClosed is a bug: 1011."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def handler(websocket: WebSocket) -> None:
        raise asgiws.ConnectionClosedError(1006, "")

    async def main() -> None:
        from asgiws.app.websocket import run_handler

        with captured_log("asgiws.app") as records:
            await run_handler(handler, WebSocket(_scope(), receive, send), pass_path=False)
        assert len(records) == 1

    asyncio.run(asyncio.wait_for(main(), TIMEOUT))
    assert sent[-1] == {"type": "websocket.close", "code": 1011, "reason": ""}


def test_recv_can_be_cancelled_each_turn_as_in_the_guides_both_pattern(server_kind: str) -> None:
    """Like the guide's "Both" handler: race recv() against a producer and cancel the loser each turn."""

    async def both(websocket: WebSocket, path: str) -> None:
        ticks = 0

        async def producer() -> str:
            await asyncio.sleep(0.001)
            return "tick"

        while True:
            listener_task = asyncio.ensure_future(websocket.recv())
            producer_task = asyncio.ensure_future(producer())
            done, pending = await asyncio.wait([listener_task, producer_task], return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            if listener_task in done:
                message = listener_task.result()
                if message is None:
                    break
                await websocket.send(f"echo {message}")
            if producer_task in done and ticks < 5:  # few: the client stops reading at the end
                ticks += 1
                await websocket.send(producer_task.result())

    with running_server(App(routes=[WebSocketRoute("/", both)]), server_kind) as (host, port):

        async def client() -> None:
            async with connect(f"ws://{host}:{port}/") as ws:
                echoes = []
                for i in range(20):
                    await ws.send(str(i))
                    await asyncio.sleep(0.002)
                while len(echoes) < 20:
                    message = await ws.recv()
                    if message.startswith("echo"):
                        echoes.append(message)
                assert echoes == [f"echo {i}" for i in range(20)]

        run(client())


def test_open_turns_false_when_the_client_leaves_and_unread_messages_remain() -> None:
    """On asgiws, a handler that never reads sees `open` turn False; `recv()` still returns what came first."""
    events: queue.Queue[Any] = queue.Queue()

    async def handler(websocket: WebSocket) -> None:
        events.put(websocket.open)
        for _ in range(TIMEOUT * 100):  # bounded: it turns False as soon as the close frame is read
            if not websocket.open:
                break
            await asyncio.sleep(0.01)
        events.put((websocket.open, websocket.closed, [await websocket.recv() for _ in range(3)]))

    with running_server(App(routes=[WebSocketRoute("/", handler)]), "asgiws") as (host, port):

        async def client() -> None:
            async with connect(f"ws://{host}:{port}/") as ws:
                await ws.send("a")
                await ws.send(b"b")

        run(client())
        assert events.get(timeout=TIMEOUT) is True
        assert events.get(timeout=TIMEOUT) == (False, True, ["a", b"b", None])
