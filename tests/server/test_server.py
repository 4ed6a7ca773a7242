"""`Server`'s lifecycle raises typed errors; only `asgiws.run()` turns them into exit statuses."""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any

import httpx
import pytest

import asgiws
from asgiws.server.errors import AppLoadError, StartupFailed

QUIET = {"log_level": "critical"}


def lifespan_app(events: list[str], fail_startup: bool = False) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    kind = "failed" if fail_startup else "complete"
                    await send({"type": f"lifespan.startup.{kind}", "message": "database down"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def test_lifecycle_driven_by_the_caller() -> None:
    events: list[str] = []

    async def main() -> tuple[int, bool]:
        server = asgiws.Server(asgiws.Config(lifespan_app(events), port=0, lifespan="on", **QUIET))
        await server.startup()
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/")
        server.should_exit = True
        await server.main_loop()
        await server.shutdown()
        return response.status_code, server.started

    assert asyncio.run(main()) == (200, True)
    assert events == ["lifespan.startup", "lifespan.shutdown"]


def test_unloadable_app_raises_app_load_error() -> None:
    server = asgiws.Server(asgiws.Config("no_such_module_xyz:app", port=0, **QUIET))
    with pytest.raises(AppLoadError, match="no_such_module_xyz"):
        asyncio.run(server.serve())
    assert not server.started


def test_failed_lifespan_startup_raises_startup_failed() -> None:
    events: list[str] = []
    server = asgiws.Server(asgiws.Config(lifespan_app(events, fail_startup=True), port=0, lifespan="on", **QUIET))
    with pytest.raises(StartupFailed):
        asyncio.run(server.serve())
    assert not server.started and server.servers == []


def test_address_in_use_raises_oserror_after_lifespan_shutdown() -> None:
    events: list[str] = []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = asgiws.Server(asgiws.Config(lifespan_app(events), port=port, lifespan="on", **QUIET))
        with pytest.raises(OSError) as raised:
            asyncio.run(server.serve())
    assert raised.value.errno == errno.EADDRINUSE
    assert events == ["lifespan.startup", "lifespan.shutdown"]


@pytest.mark.parametrize(
    "app, settings, status",
    [
        ("no_such_module_xyz:app", {}, 1),
        (lifespan_app([], fail_startup=True), {"lifespan": "on"}, 3),
    ],
    ids=["app-not-loadable", "startup-failed"],
)
def test_run_exits_with_uvicorns_statuses(app: Any, settings: dict[str, Any], status: int) -> None:
    with pytest.raises(SystemExit) as exited:
        asgiws.run(app, port=0, **settings, **QUIET)
    assert exited.value.code == status


def test_run_exits_1_when_the_address_is_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(SystemExit) as exited:
            asgiws.run(lifespan_app([]), port=taken.getsockname()[1], lifespan="off", **QUIET)
    assert exited.value.code == 1


def test_callback_notify_is_awaited_every_timeout_notify_while_serving() -> None:
    calls: list[bool] = []

    async def notify() -> None:
        calls.append(server.should_exit)

    config = asgiws.Config(lifespan_app([]), port=0, callback_notify=notify, timeout_notify=0.01, **QUIET)
    server = asgiws.Server(config)

    async def three_calls() -> None:
        while len(calls) < 3:
            await asyncio.sleep(0.01)

    async def main() -> None:
        await server.startup()
        try:
            await asyncio.wait_for(three_calls(), 10)
        finally:
            server.should_exit = True
        await server.main_loop()
        await server.shutdown()

    asyncio.run(main())
    assert calls[:3] == [False, False, False]
