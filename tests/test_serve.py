"""`asgiws.serve`: the getting-started guide's handler style on a real server, reached by real clients.

In-process tests use port 0 on 127.0.0.1 and the `websockets` client (an
independent implementation) or `asgiws.connect`; the Ctrl-C tests run a
script as a subprocess and send it SIGINT.
"""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from websockets.asyncio.client import connect as websockets_connect

import asgiws

TIMEOUT = 10  # seconds: a bound on every wait, never an assertion
QUIET = {"log_level": "warning"}


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT * 2))


def port_of(server: asgiws.WebSocketServer) -> int:
    return server.sockets[0].getsockname()[1]


async def greet(websocket: Any, path: str) -> None:
    name = await websocket.recv()
    await websocket.send(f"Hello {name}! ({path})")


async def echo(websocket: Any) -> None:
    async for message in websocket:
        await websocket.send(message)


# -- Three ways to start it ----------------------------------------------------------


def test_awaitable_returns_a_running_server() -> None:
    async def main() -> tuple[Any, ...]:
        server = await asgiws.serve(greet, "127.0.0.1", 0, **QUIET)
        port = port_of(server)
        async with websockets_connect(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send("Ada")
            greeting = await ws.recv()
        server.close()
        await server.wait_closed()
        with pytest.raises(OSError):
            await asgiws.connect(f"ws://127.0.0.1:{port}/")
        return greeting, server.sockets

    greeting, sockets = run(main())
    assert greeting == "Hello Ada! (/)"
    assert sockets == []


def test_context_manager_closes_on_exit() -> None:
    async def main() -> tuple[Any, ...]:
        async with asgiws.serve(echo, "127.0.0.1", 0, **QUIET) as server:
            port = port_of(server)
            async with asgiws.connect(f"ws://127.0.0.1:{port}/") as ws:
                await ws.send(b"bytes")
                echoed = await ws.recv()
        with pytest.raises(OSError):
            await asgiws.connect(f"ws://127.0.0.1:{port}/")
        return echoed

    assert run(main()) == b"bytes"


def test_guide_style_run_until_complete_then_run_forever() -> None:
    loop = asyncio.new_event_loop()
    try:
        start_server = asgiws.serve(greet, "127.0.0.1", 0, **QUIET)
        server = loop.run_until_complete(start_server)
        assert server is start_server
        port = port_of(server)
        results: list[Any] = []

        async def client() -> None:
            try:
                async with asgiws.connect(f"ws://127.0.0.1:{port}/guide") as ws:
                    await ws.send("guide")
                    results.append(await ws.recv())
            finally:
                loop.stop()

        loop.create_task(client())  # noqa: RUF006 (the guide's style: run_forever below runs it to its end)
        loop.call_later(TIMEOUT, loop.stop)  # a bound, should the client hang
        loop.run_forever()
        server.close()
        loop.run_until_complete(asyncio.wait_for(server.wait_closed(), TIMEOUT))
    finally:
        loop.close()
    assert results == ["Hello guide! (/guide)"]


def test_address_in_use_raises_oserror() -> None:
    async def main() -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            with pytest.raises(OSError) as raised:
                await asgiws.serve(echo, "127.0.0.1", taken.getsockname()[1], log_level="critical")
            assert raised.value.errno == errno.EADDRINUSE

    run(main())


# -- The handler --------------------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["/", "/a/b", "/a%20b/c?x=1&y=%2F", "/?only=query"]
)
def test_path_argument_is_the_raw_target(target: str) -> None:
    seen: list[Any] = []

    async def handler(websocket: Any, path: str) -> None:
        seen.append((path, websocket.path))

    async def main() -> None:
        async with asgiws.serve(handler, "127.0.0.1", 0, **QUIET) as server:
            async with websockets_connect(f"ws://127.0.0.1:{port_of(server)}{target}") as ws:
                await ws.wait_closed()

    run(main())
    assert seen == [(target, target)]


def test_one_argument_handler() -> None:
    seen: list[Any] = []

    async def handler(websocket: Any) -> None:
        seen.append(websocket.path)
        await websocket.send("one argument")

    async def main() -> Any:
        async with asgiws.serve(handler, "127.0.0.1", 0, **QUIET) as server:
            async with asgiws.connect(f"ws://127.0.0.1:{port_of(server)}/p?q=1") as ws:
                return await ws.recv()

    assert run(main()) == "one argument"
    assert seen == ["/p?q=1"]


def test_handler_return_closes_1000_and_raise_closes_1011() -> None:
    async def handler(websocket: Any, path: str) -> None:
        if path == "/raise":
            raise RuntimeError("boom (expected by the test)")

    async def main() -> tuple[Any, Any]:
        async with asgiws.serve(handler, "127.0.0.1", 0, log_level="critical") as server:
            codes = []
            for path in ("/return", "/raise"):
                async with asgiws.connect(f"ws://127.0.0.1:{port_of(server)}{path}") as ws:
                    assert await ws.recv() is None
                    codes.append(ws.close_code)
            return tuple(codes)

    assert run(main()) == (1000, 1011)


def test_recv_right_after_cancelling_a_recv_gets_the_message_handed_to_it() -> None:
    """Cancel a pending recv() a few loop turns after its message was sent, then call recv() at once.

    Client and handler share one event loop, so each turn count lands the
    cancel at a known point: before the message came, after it was handed
    to the cancelled recv() but before that one ran, or after.
    """
    count = 40
    collected: list[Any] = []
    go: asyncio.Queue[int] = asyncio.Queue()

    async def handler(websocket: Any) -> None:
        for i in range(count):
            task = asyncio.ensure_future(websocket.recv())
            await asyncio.sleep(0)  # the task now waits for a message
            go.put_nowait(i)
            for _ in range(i % 8):
                await asyncio.sleep(0)
            completed = task.done()
            task.cancel()
            collected.append(task.result() if completed else await websocket.recv())

    async def main() -> None:
        async with asgiws.serve(handler, "127.0.0.1", 0, **QUIET) as server:
            async with asgiws.connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                for _ in range(count):
                    await ws.send(f"m{await go.get()}")
                assert await ws.recv() is None  # the handler returned: it received all of them

    run(main())
    assert collected == [f"m{i}" for i in range(count)]


def test_close_tells_clients_the_server_is_going_away() -> None:
    async def main() -> tuple[Any, ...]:
        server = await asgiws.serve(echo, "127.0.0.1", 0, **QUIET)
        ws = await asgiws.connect(f"ws://127.0.0.1:{port_of(server)}/")
        server.close()
        received = await ws.recv()
        await server.wait_closed()
        return received, ws.close_code

    assert run(main()) == (None, 1001)


def test_settings_are_config_keywords() -> None:
    async def main() -> tuple[Any, ...]:
        async with asgiws.serve(echo, "127.0.0.1", 0, ws_max_size=10, **QUIET) as server:
            async with asgiws.connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                await ws.send("0123456789")  # exactly the limit
                fits = await ws.recv()
                await ws.send("0123456789+")
                return fits, await ws.recv(), ws.close_code

    assert run(main()) == ("0123456789", None, 1009)


def test_tls_settings_serve_wss(tmp_path: Path) -> None:
    authority = trustme.CA()
    cert = authority.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(certfile)
    cert.private_key_pem.write_to_path(keyfile)
    context = ssl.create_default_context()
    authority.configure_trust(context)

    async def main() -> tuple[Any, Any]:
        async with asgiws.serve(greet, "127.0.0.1", 0, ssl_certfile=certfile, ssl_keyfile=keyfile, **QUIET) as server:
            uri = f"wss://127.0.0.1:{port_of(server)}/tls"
            async with asgiws.connect(uri, ssl=context) as ws:
                await ws.send("TLS")
                return await ws.recv(), ws.transport.get_extra_info("ssl_object") is not None

    assert run(main()) == ("Hello TLS! (/tls)", True)


def test_plain_http_gets_426() -> None:
    async def main() -> httpx.Response:
        async with asgiws.serve(echo, "127.0.0.1", 0, **QUIET) as server:
            async with httpx.AsyncClient() as client:
                return await client.get(f"http://127.0.0.1:{port_of(server)}/", timeout=TIMEOUT)

    response = run(main())
    assert response.status_code == 426
    assert response.headers["upgrade"].lower() == "websocket"


# -- Ctrl-C ---------------------------------------------------------------------------

SCRIPTS = {
    "async_with": """
        async def main():
            async with asgiws.serve(hello, "127.0.0.1", PORT, log_level="warning"):
                print("serving", flush=True)
                await asyncio.get_running_loop().create_future()
            print("stopped cleanly", flush=True)

        asyncio.run(main())
    """,
    "await_wait_closed": """
        async def main():
            server = await asgiws.serve(hello, "127.0.0.1", PORT, log_level="warning")
            print("serving", flush=True)
            await server.wait_closed()
            print("stopped cleanly", flush=True)

        asyncio.run(main())
    """,
    "serve_forever": """
        async def main():
            server = asgiws.serve(hello, "127.0.0.1", PORT, log_level="warning")
            await server.start()
            print("serving", flush=True)
            await server.serve_forever()
            print("stopped cleanly", flush=True)

        asyncio.run(main())
    """,
    "guide": """
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        start_server = asgiws.serve(hello, "127.0.0.1", PORT, log_level="warning")
        asyncio.get_event_loop().run_until_complete(start_server)
        print("serving", flush=True)
        asyncio.get_event_loop().run_forever()
        print("stopped cleanly", flush=True)
    """,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("style", sorted(SCRIPTS))
def test_ctrl_c_stops_cleanly(style: str, tmp_path: Path) -> None:
    port = free_port()
    script = tmp_path / "serve_script.py"
    script.write_text(
        "import asyncio\nimport asgiws\n\n"
        "async def hello(websocket, path):\n"
        "    async for message in websocket:\n        await websocket.send(message)\n"
        + textwrap.dedent(SCRIPTS[style]).replace("PORT", str(port))
    )
    process = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "serving\n"

        async def talk() -> tuple[Any, Any]:
            ws = await asgiws.connect(f"ws://127.0.0.1:{port}/")
            await ws.send("before")
            echoed = await ws.recv()
            process.send_signal(signal.SIGINT)
            after = (await ws.recv(), ws.close_code)
            await ws.wait_closed()
            return echoed, after

        echoed, after = run(talk())
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert echoed == "before"
    assert after == (None, 1001)  # the open connection was closed as "going away"
    assert process.returncode == 0, stderr
    assert "stopped cleanly" in stdout
    assert "Traceback" not in stderr
