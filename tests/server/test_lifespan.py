"""The ASGI lifespan protocol: startup, shutdown, state, and the auto/on/off modes."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

import asgiws
from tests.conftest import running_server


def lifespan_app(events: list[str]):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    scope["state"]["greeting"] = "hello"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = scope["state"]["greeting"].encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    return app


def test_startup_state_and_shutdown(server_kind):
    events: list[str] = []
    with running_server(lifespan_app(events), server_kind, lifespan="on") as (host, port):
        assert events == ["lifespan.startup"]
        assert httpx.get(f"http://{host}:{port}/").text == "hello"
    assert events == ["lifespan.startup", "lifespan.shutdown"]


def test_auto_tolerates_app_without_lifespan(server_kind):
    async def app(scope, receive, send):
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    with running_server(app, server_kind, lifespan="auto") as (host, port):
        assert httpx.get(f"http://{host}:{port}/").status_code == 204


def serve_until_done(app, **settings) -> asgiws.Server:
    """Run a server that is expected to stop by itself; returns it once stopped."""
    config = asgiws.Config(app, port=0, log_level="critical", **settings)
    server = asgiws.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():
        server.should_exit = True
        thread.join(10)
        pytest.fail("the server did not stop by itself")
    return server


def test_on_fails_startup_when_app_raises():
    async def app(scope, receive, send):
        raise RuntimeError("no lifespan here")

    server = serve_until_done(app, lifespan="on")
    assert not server.started


def test_startup_failed_message_stops_server():
    async def app(scope, receive, send):
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "database down"})

    server = serve_until_done(app, lifespan="auto")
    assert not server.started


def test_off_never_sends_lifespan(server_kind):
    scopes: list[str] = []

    async def app(scope, receive, send):
        scopes.append(scope["type"])
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    with running_server(app, server_kind, lifespan="off") as (host, port):
        httpx.get(f"http://{host}:{port}/")
    assert scopes == ["http"]
