"""asgiws.testing: TestClient in process (App, Starlette, raw ASGI), LiveServer with real clients, the pytest plugin."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import socket
import subprocess
import sys
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import websockets.asyncio.client
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse as StarlettePlainText
from starlette.responses import Response as StarletteResponse
from starlette.routing import Route as StarletteRoute
from starlette.routing import WebSocketRoute as StarletteWebSocketRoute
from starlette.websockets import WebSocket as StarletteWebSocket
from starlette.websockets import WebSocketDisconnect

import asgiws
from asgiws import App, Request, StreamingResponse, WebSocket
from asgiws.server.errors import AppLoadError, StartupFailed
from asgiws.testing import LiveServer, TestClient
from tests.app.wire import run

pytest_plugins = ["pytester"]

ROOT = Path(__file__).parents[1]
T = TypeVar("T")
PLUGIN = "asgiws.testing.pytest_plugin"


# -- the apps under test ---------------------------------------------------------


def make_app(events: list[Any] | None = None) -> App:
    """An asgiws App with a lifespan, HTTP routes (streaming too) and WebSocket routes."""
    events = events if events is not None else []
    app = App()

    @app.on_startup
    async def startup(state: dict[str, Any]) -> None:
        events.append("startup")
        state["db"] = "connected"

    @app.on_shutdown
    async def shutdown() -> None:
        events.append("shutdown")

    @app.get("/")
    async def home(request: Request) -> str:
        return "home"

    @app.get("/items/{item_id:int}")
    async def item(request: Request) -> dict[str, Any]:
        return {"id": request.path_params["item_id"], "q": request.query_params.get("q")}

    @app.post("/echo")
    async def echo(request: Request) -> bytes:
        return await request.body()

    @app.get("/state")
    async def state(request: Request) -> str:
        return request.state.get("db", "none")

    @app.websocket("/echo")
    async def ws_echo(websocket: WebSocket) -> None:
        async for message in websocket:
            await websocket.send(message)
        events.append(("echo closed", websocket.close_code, websocket.close_reason))

    @app.websocket("/chat", subprotocols=["chat.v2", "chat.v1"])
    async def chat(websocket: WebSocket) -> None:
        await websocket.send(
            json.dumps({"token": websocket.request_headers.get_all("x-token"), "db": websocket.state.get("db")})
        )

    @app.websocket("/private", accept=False)
    async def private(websocket: WebSocket) -> None:
        await websocket.close()

    @app.websocket("/custom-close")
    async def custom_close(websocket: WebSocket) -> None:
        await websocket.send("bye")
        await websocket.close(4000, "custom")

    @app.websocket("/returns")
    async def returns(websocket: WebSocket) -> None:
        await websocket.send("done")

    @app.websocket("/raises")
    async def raises(websocket: WebSocket) -> None:
        raise ValueError("handler bug")

    @app.websocket("/never-reads")
    async def never_reads(websocket: WebSocket) -> None:
        # The guide's producer: only `open` tells that the client has gone.
        await websocket.send("tick")
        while websocket.open:
            await asyncio.sleep(0)
        events.append("noticed")

    return app


async def raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A hand-written ASGI app: reports its scope and request body, refuses or accepts WebSockets."""
    if scope["type"] == "http":
        chunks = []
        while True:
            message = await receive()
            chunks.append([message["body"].decode(), message["more_body"]])
            if not message["more_body"]:
                break
        public = {
            key: scope[key]
            for key in (
                *("type", "asgi", "http_version", "method", "scheme", "path", "raw_path", "root_path"),
                *("query_string", "client", "server"),
            )
        }
        public["headers"] = [[name.decode(), value.decode()] for name, value in scope["headers"]]
        body = json.dumps({"scope": public, "chunks": chunks}, default=lambda b: b.decode()).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
    elif scope["type"] == "websocket":
        assert (await receive())["type"] == "websocket.connect"
        if scope["path"] == "/deny":
            await send(
                {"type": "websocket.http.response.start", "status": 401, "headers": [(b"www-authenticate", b"Token")]}
            )
            await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
            await send({"type": "websocket.http.response.body", "body": b"token"})
            return
        if scope["path"] == "/bad-subprotocol":
            await send({"type": "websocket.accept", "subprotocol": "never-offered"})
            return
        await send(
            {"type": "websocket.accept", "subprotocol": scope["subprotocols"][-1], "headers": [(b"x-accepted", b"yes")]}
        )
        await send(
            {
                "type": "websocket.send",
                "text": json.dumps(
                    {
                        "path": scope["path"],
                        "query": scope["query_string"].decode(),
                        "scheme": scope["scheme"],
                        "extensions": sorted(scope["extensions"]),
                    }
                ),
            }
        )
        message = await receive()
        await send({"type": "websocket.send", "bytes": message.get("bytes") or message["text"].encode()})
        disconnect = await receive()
        again = await receive()
        assert disconnect == again and disconnect["type"] == "websocket.disconnect"
        try:
            await send({"type": "websocket.send", "text": "too late"})
        except OSError as exc:
            assert isinstance(exc, asgiws.ConnectionClosed) and exc.code == disconnect["code"]
        else:
            raise AssertionError("send after the disconnect must raise")


# -- TestClient: HTTP -------------------------------------------------------------------------


def test_http_requests_to_an_app() -> None:
    async def main() -> None:
        async with TestClient(make_app()) as client:
            response = await client.get("/")
            assert isinstance(response, httpx.Response)
            assert (response.status_code, response.text, response.headers["content-type"]) == (
                200,
                "home",
                "text/plain; charset=utf-8",
            )
            assert (await client.get("/items/7", params={"q": "x"})).json() == {"id": 7, "q": "x"}
            assert (await client.post("/echo", content=b"payload" * 10000)).content == b"payload" * 10000
            assert (await client.get("/nowhere")).status_code == 404
            assert (await client.delete("/")).status_code == 405
            head = await client.head("/")
            assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == "4"

    run(main())


def test_scope_is_the_servers() -> None:
    async def main() -> dict[str, Any]:
        async with TestClient(raw_app, root_path="/api", client=("10.0.0.1", 1234)) as client:
            response = await client.get("/a%20b/c?x=1&y=2", headers={"X-Custom": "v"})
            return response.json()["scope"]

    scope = run(main())
    assert scope["type"] == "http" and scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1" and scope["method"] == "GET" and scope["scheme"] == "http"
    assert (scope["path"], scope["raw_path"], scope["root_path"]) == ("/api/a b/c", "/api/a%20b/c", "/api")
    assert scope["query_string"] == "x=1&y=2"
    assert scope["client"] == ["10.0.0.1", 1234] and scope["server"] == ["testserver", 80]
    assert ["x-custom", "v"] in scope["headers"] and ["host", "testserver"] in scope["headers"]


def test_request_body_arrives_in_the_chunks_sent() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"one", b"", b"two", b"three"):
            yield part

    async def main() -> tuple[Any, Any]:
        async with TestClient(raw_app) as client:
            streamed = (await client.post("/", content=chunks())).json()["chunks"]
            empty = (await client.get("/")).json()["chunks"]
        return streamed, empty

    streamed, empty = run(main())
    assert streamed == [["one", True], ["two", True], ["three", False]]
    assert empty == [["", False]]


def test_streaming_response_is_read_as_it_is_sent_and_closing_it_disconnects_the_app() -> None:
    """httpx's own ASGITransport waits for the whole body: here the first chunk comes before the second is made."""
    events: list[Any] = []
    release = asyncio.Event()
    app = App()

    @app.get("/events")
    async def stream(request: Request) -> StreamingResponse:
        async def lines() -> AsyncIterator[str]:
            try:
                yield "first\n"
                await release.wait()
                for i in itertools.count():
                    yield f"{i}\n"
                    await asyncio.sleep(0)
            finally:
                events.append("generator closed")

        return StreamingResponse(lines(), media_type="text/event-stream")

    async def main() -> list[str]:
        async with TestClient(app) as client, client.stream("GET", "/events") as response:
            received = []
            async for line in response.aiter_lines():
                received.append(line)
                release.set()  # the app makes more only once the first line was read
                if len(received) == 4:
                    break
            return received

    assert run(main()) == ["first", "0", "1", "2"]
    assert events == ["generator closed"]


async def boom(scope: Any, receive: Any, send: Any) -> None:
    """A raw ASGI app with a bug (an App would answer 500 itself)."""
    if scope["type"] == "http":
        raise ZeroDivisionError("app bug")


def test_app_exceptions_are_raised_or_answered_with_500(caplog: pytest.LogCaptureFixture) -> None:
    app = boom

    async def returns_nothing(scope: Any, receive: Any, send: Any) -> None:
        pass

    async def main() -> tuple[int, str, int]:
        async with TestClient(app) as client:
            with pytest.raises(ZeroDivisionError):
                await client.get("/boom")
        async with TestClient(returns_nothing, lifespan="off") as client:
            with pytest.raises(RuntimeError, match="without starting response"):
                await client.get("/")
        async with TestClient(app, raise_server_exceptions=False) as client:
            response = await client.get("/boom")
        async with TestClient(returns_nothing, lifespan="off", raise_server_exceptions=False) as client:
            nothing = await client.get("/")
        return response.status_code, response.text, nothing.status_code

    with caplog.at_level(logging.ERROR):
        assert run(main()) == (500, "Internal Server Error", 500)


def test_exception_after_the_response_started_is_raised_at_the_end_of_the_body() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise KeyError("mid-stream")

    async def main() -> bytes:
        async with TestClient(app, lifespan="off") as client:
            with pytest.raises(KeyError):
                await client.get("/")
            async with client.stream("GET", "/") as response:
                assert response.status_code == 200
                received = b""
                with pytest.raises(KeyError):
                    async for chunk in response.aiter_bytes():
                        received += chunk
                return received

    assert run(main()) == b"partial"


def test_response_returns_once_the_app_has_returned() -> None:
    """Starlette's background tasks run after the body is sent: they are done when the response returns."""
    done: list[str] = []

    async def record() -> None:
        await asyncio.sleep(0.01)
        done.append("background task")

    async def endpoint(request: StarletteRequest) -> StarlettePlainText:
        return StarlettePlainText("sent", background=BackgroundTask(record))

    async def main() -> str:
        async with TestClient(Starlette(routes=[StarletteRoute("/", endpoint)])) as client:
            return (await client.get("/")).text

    assert run(main()) == "sent"
    assert done == ["background task"]


def test_read_timeout_bounds_an_app_that_never_answers() -> None:
    async def silent(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.Event().wait()

    async def main() -> None:
        async with TestClient(silent, lifespan="off", timeout=0.2) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get("/")

    run(main())


# -- TestClient: lifespan --------------------------------------------------------------------


def test_lifespan_runs_around_the_block_and_its_state_reaches_requests() -> None:
    events: list[Any] = []

    async def main() -> tuple[str, Any, str]:
        async with TestClient(make_app(events)) as client:
            assert events == ["startup"] and client.app_state == {"db": "connected"}
            state = (await client.get("/state")).text
            async with client.websocket_connect("/chat") as ws:
                chat = json.loads(await ws.recv())
        assert events[-1] == "shutdown"
        # Without `async with`, requests work but no lifespan runs.
        without = (await TestClient(make_app()).get("/state")).text
        return state, chat["db"], without

    assert run(main()) == ("connected", "connected", "none")


def test_lifespan_state_is_copied_per_request() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["counter"] = 0
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        scope["state"]["counter"] += 1
        scope["state"]["added"] = True
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(scope["state"]["counter"]).encode()})

    async def main() -> list[str]:
        async with TestClient(app) as client:
            texts = [(await client.get("/")).text for _ in range(2)]
            assert client.app_state == {"counter": 0}
            return texts

    assert run(main()) == ["1", "1"]


def test_lifespan_startup_failure_raises_and_unsupported_lifespan_is_tolerated() -> None:
    app = App()

    @app.on_startup
    async def fail() -> None:
        raise ConnectionError("no database")

    async def http_only(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"unsupported scope {scope['type']}")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    async def main() -> int:
        with pytest.raises(StartupFailed):
            async with TestClient(app):
                pass
        with pytest.raises(StartupFailed):
            async with TestClient(http_only, lifespan="on"):
                pass
        async with TestClient(http_only) as client:  # lifespan="auto"
            return (await client.get("/")).status_code

    assert run(main()) == 204


def test_starlette_app_http_websocket_and_lifespan_state() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        yield {"greeting": "hello"}

    async def home(request: StarletteRequest) -> StarlettePlainText:
        return StarlettePlainText(f"{request.state.greeting} {request.query_params['name']}")

    async def ws(websocket: StarletteWebSocket) -> None:
        if websocket.headers.get("authorization") != "Token ok":
            await websocket.send_denial_response(StarletteResponse("who are you?", status_code=401))
            return
        await websocket.accept(subprotocol="v1")
        name = await websocket.receive_text()
        await websocket.send_text(f"{websocket.state.greeting} {name}")
        try:
            await websocket.receive_text()
        except WebSocketDisconnect as exc:
            closed.append(exc.code)

    closed: list[int] = []
    app = Starlette(routes=[StarletteRoute("/", home), StarletteWebSocketRoute("/ws", ws)], lifespan=lifespan)

    async def main() -> tuple[str, str, int, bytes]:
        async with TestClient(app) as client:
            text = (await client.get("/?name=ada")).text
            async with client.websocket_connect(
                "/ws", subprotocols=["v1"], headers={"Authorization": "Token ok"}
            ) as websocket:
                assert websocket.subprotocol == "v1"
                await websocket.send("bob")
                reply = await websocket.recv()
                await websocket.close(4001)
            with pytest.raises(asgiws.InvalidStatus) as refused:
                await client.websocket_connect("/ws")
            return text, reply, refused.value.status, refused.value.body

    assert run(main()) == ("hello ada", "hello bob", 401, b"who are you?")
    assert closed == [4001]


# -- TestClient: WebSocket ---------------------------------------------------------------


def test_websocket_echo_and_client_close() -> None:
    events: list[Any] = []

    async def main() -> None:
        async with TestClient(make_app(events)) as client:
            async with client.websocket_connect("/echo") as ws:
                assert ws.open and not ws.closed and ws.subprotocol is None and ws.path == "/echo"
                await ws.send("text")
                assert await ws.recv() == "text"
                await ws.send(b"\x00binary")
                assert await ws.recv() == b"\x00binary"
                await ws.close(1001, "going")
                assert ws.closed and not ws.open and (ws.close_code, ws.close_reason) == (1001, "going")
                assert await ws.recv() is None and await ws.recv() is None
                with pytest.raises(asgiws.ConnectionClosedOK):
                    await ws.send("after close")
            # Leaving the block waited for the handler to return.
            assert events[-1] == ("echo closed", 1001, "going")

            ws = await client.websocket_connect("/echo")  # awaited instead of `async with`
            for text in ("a", "b", "c"):
                await ws.send(text)
            received = []
            async for message in ws:
                received.append(message)
                if len(received) == 3:
                    await ws.close()
            assert received == ["a", "b", "c"] and ws.close_code == 1000
            await ws.wait_closed()

    run(main())


def test_websocket_subprotocols_headers_and_scope() -> None:
    async def main() -> None:
        async with TestClient(make_app()) as client:
            async with client.websocket_connect(
                "/chat", subprotocols=["chat.v1", "chat.v2"], headers=[("X-Token", "a"), ("X-Token", "b")]
            ) as ws:
                assert ws.subprotocol == "chat.v2"
                assert json.loads(await ws.recv())["token"] == ["a", "b"]
                assert ws.request_headers["sec-websocket-protocol"] == "chat.v1, chat.v2"
            async with client.websocket_connect("/chat") as ws:
                assert ws.subprotocol is None
        async with TestClient(raw_app) as client:
            async with client.websocket_connect("ws://testserver/room?x=1", subprotocols=["p1", "p2"]) as ws:
                assert ws.subprotocol == "p2" and ws.response_headers["x-accepted"] == "yes"
                info = json.loads(await ws.recv())
                assert info == {
                    "path": "/room",
                    "query": "x=1",
                    "scheme": "ws",
                    "extensions": ["asgiws.connection", "websocket.http.response"],
                }
                await ws.send("echo me")
                assert await ws.recv() == b"echo me"
                await ws.close(4002, "bye")  # the app checks what a send after it does

    run(main())


def test_refused_handshakes_raise_invalid_status() -> None:
    async def main() -> None:
        async with TestClient(make_app()) as client:
            for path in ("/private", "/no-such-route"):
                with pytest.raises(asgiws.InvalidStatus) as refused:
                    async with client.websocket_connect(path):
                        pass
                assert refused.value.status == 403
        async with TestClient(raw_app) as client:
            with pytest.raises(asgiws.InvalidStatus) as refused:
                await client.websocket_connect("/deny")
            assert refused.value.status == 401 and refused.value.body == b"no token"
            assert ("www-authenticate", "Token") in refused.value.headers
            # Accepting a subprotocol the client did not offer is the app's error: raised, or the server's 500.
            with pytest.raises(ValueError, match="did not offer"):
                await client.websocket_connect("/bad-subprotocol", subprotocols=["p1"])
        async with TestClient(raw_app, raise_server_exceptions=False) as client:
            with pytest.raises(asgiws.InvalidStatus) as refused:
                await client.websocket_connect("/bad-subprotocol", subprotocols=["p1"])
            assert refused.value.status == 500

    run(main())


def test_websocket_close_codes() -> None:
    events: list[Any] = []

    async def main() -> None:
        async with TestClient(make_app(events)) as client:
            async with client.websocket_connect("/custom-close") as ws:
                assert await ws.recv() == "bye"
                assert await ws.recv() is None
                assert (ws.close_code, ws.close_reason) == (4000, "custom") and ws.closed
                with pytest.raises(asgiws.ConnectionClosedError) as error:
                    await ws.send("x")
                assert error.value.code == 4000
            async with client.websocket_connect("/returns") as ws:
                assert await ws.recv() == "done" and await ws.recv() is None and ws.close_code == 1000
            async with client.websocket_connect("/never-reads") as ws:
                assert await ws.recv() == "tick"
            assert events[-1] == "noticed"
        async with TestClient(make_app(), raise_server_exceptions=False) as client:
            async with client.websocket_connect("/raises") as ws:
                assert await ws.recv() is None and ws.close_code == 1011

    run(main())


def test_app_exception_after_accept_is_raised_when_the_block_ends() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        raise LookupError("after accept")

    async def main() -> int | None:
        async with TestClient(app, lifespan="off") as client:
            with pytest.raises(LookupError):
                async with client.websocket_connect("/") as ws:
                    assert await ws.recv() is None
            return ws.close_code

    assert run(main()) == 1011


async def receive_cancelling_each(receive: Callable[[], Awaitable[T]], is_last: Callable[[T], bool]) -> list[T]:
    """Call `receive()` until `is_last(message)`, cancelling each pending call a few loop turns after it
    started; then await the cancelled call, or call `receive()` again at once, before the cancelled
    one has even run its cancellation. Returns what was received, `is_last`'s message excluded."""
    received: list[T] = []
    for attempt in itertools.count():
        task = asyncio.ensure_future(receive())
        for _ in range(attempt % 5):
            await asyncio.sleep(0)
        completed = task.done()
        task.cancel()
        if completed:
            message = task.result()
        elif attempt % 2:
            message = await receive()
        else:
            try:
                message = await task
            except asyncio.CancelledError:
                continue
        if is_last(message):
            break
        received.append(message)
    return received


def test_cancelled_recv_loses_and_reorders_nothing() -> None:
    count = 300

    async def producer(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        for i in range(count):
            await send({"type": "websocket.send", "text": str(i)})
            for _ in range(i % 4):
                await asyncio.sleep(0)

    async def main() -> list[Any]:
        async with TestClient(producer, lifespan="off") as client, client.websocket_connect("/") as ws:
            return await receive_cancelling_each(ws.recv, lambda message: message is None)

    assert run(main()) == [str(i) for i in range(count)]


def test_the_apps_cancelled_receive_loses_and_reorders_nothing() -> None:
    """As the guide's "both" pattern does on every turn, on the app's side."""
    count = 300
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        messages = await receive_cancelling_each(receive, lambda message: message["type"] == "websocket.disconnect")
        seen.extend(message["text"] for message in messages)

    async def main() -> None:
        async with TestClient(app, lifespan="off") as client, client.websocket_connect("/") as ws:
            for i in range(count):
                await ws.send(str(i))
                for _ in range(i % 4):
                    await asyncio.sleep(0)

    run(main())
    assert seen == [str(i) for i in range(count)]


def test_concurrent_recvs_all_return_none_at_close() -> None:
    async def main() -> list[Any]:
        async with TestClient(make_app()) as client, client.websocket_connect("/custom-close") as ws:
            waiting = [asyncio.ensure_future(ws.recv()) for _ in range(3)]
            return [*sorted(map(repr, await asyncio.gather(*waiting))), await ws.recv()]

    assert run(main()) == ["'bye'", "None", "None", None]


def test_test_client_is_not_collected_as_a_test_class() -> None:
    assert TestClient.__test__ is False


# -- LiveServer ------------------------------------------------------------------------------


def test_live_server_sync_with_real_clients() -> None:
    with LiveServer(make_app(), log_level="warning") as server:
        assert server.url == f"http://127.0.0.1:{server.port}" and server.ws_url == f"ws://127.0.0.1:{server.port}"
        assert httpx.get(server.url + "/state", timeout=10).text == "connected"  # the lifespan ran

        async def talk() -> tuple[Any, Any]:
            async with websockets.asyncio.client.connect(server.ws_url + "/echo") as ws:
                await ws.send("hi")
                first = await ws.recv()
            async with asgiws.connect(server.ws_url + "/chat", subprotocols=["chat.v1"]) as ws:
                second = (ws.subprotocol, json.loads(await ws.recv())["db"])
            return first, second

        assert run(talk()) == ("hi", ("chat.v1", "connected"))
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    with server:  # started again, on a new port
        assert httpx.get(server.url + "/", timeout=10).text == "home"


def test_live_server_async_with_a_websocket_open_at_exit() -> None:
    async def main() -> tuple[str, int | None]:
        async with LiveServer(make_app(), log_level="warning", timeout_graceful_shutdown=5) as server:
            async with httpx.AsyncClient(base_url=server.url) as client:
                text = (await client.get("/")).text
            ws = await asgiws.connect(server.ws_url + "/echo")
        # The server closed it with 1001 while this loop kept running the client.
        assert await ws.recv() is None
        return text, ws.close_code

    assert run(main()) == ("home", 1001)


def test_live_server_startup_errors_are_raised_in_the_caller() -> None:
    app = App()

    @app.on_startup
    async def fail() -> None:
        raise ConnectionError("no database")

    with pytest.raises(StartupFailed):
        with LiveServer(app, lifespan="on"):
            pass
    with pytest.raises(AppLoadError):
        with LiveServer("tests.nowhere:app"):
            pass
    with pytest.raises(TypeError, match="port"):
        LiveServer(app, port=8000)


def test_live_server_logs_reach_the_logging_module(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in a fresh process: earlier tests here may have applied the server's own log config.
    for name in ("asgiws", "asgiws.error"):
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
    with caplog.at_level(logging.ERROR, logger="asgiws.error"), LiveServer(boom) as server:
        assert httpx.get(server.url + "/boom", timeout=10).status_code == 500
    (failure,) = [record for record in caplog.records if "Exception in ASGI application" in record.getMessage()]
    assert failure.exc_info is not None and failure.exc_info[0] is ZeroDivisionError


def test_live_server_fixture_in_this_suite(live_server: Any) -> None:
    first, second = live_server(make_app()), live_server(raw_app, lifespan="off")
    assert first.port != second.port
    assert httpx.get(first.url + "/", timeout=10).text == "home"
    assert httpx.get(second.url + "/x", timeout=10).json()["scope"]["path"] == "/x"


# -- the pytest plugin -----------------------------------------------------------------------

PLUGIN_TEST = '''
import httpx
from websockets.sync.client import connect

from asgiws import App

app = App()

@app.get("/")
async def home(request):
    return "home"

@app.websocket("/echo")
async def echo(websocket):
    async for message in websocket:
        await websocket.send(message)

SEEN = []

def test_http(live_server):
    server = live_server(app, log_level="warning")
    SEEN.append(server)
    assert httpx.get(server.url + "/").text == "home"

def test_websocket(live_server):
    server = live_server(app)
    with connect(server.ws_url + "/echo") as ws:
        ws.send("hi")
        assert ws.recv() == "hi"

def test_stopped_after_the_test():
    assert SEEN and SEEN[0].thread is None
'''


def test_pytest_plugin_is_loaded_by_the_entry_point_pyproject_declares(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """pytest finds the plugin through the pytest11 entry point, as once asgiws is installed.

    The entry points of pyproject.toml are written into a distribution's
    metadata on PYTHONPATH, which is what installing asgiws does.
    """
    entry_points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["pytest11"]
    assert entry_points == {"asgiws": PLUGIN}
    metadata = tmp_path / "site" / "asgiws_entry_points-0.dist-info"
    metadata.mkdir(parents=True)
    (metadata / "METADATA").write_text("Metadata-Version: 2.1\nName: asgiws-entry-points\nVersion: 0\n")
    (metadata / "entry_points.txt").write_text(
        "[pytest11]\n" + "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(metadata.parent), str(ROOT)]))
    pytester.makepyfile(test_plugin=PLUGIN_TEST)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)


def test_importing_asgiws_imports_neither_httpx_nor_pytest() -> None:
    code = "import sys, asgiws, asgiws.testing; print(sorted({'httpx', 'pytest'} & set(sys.modules)))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert output.stdout.strip() == "[]"
