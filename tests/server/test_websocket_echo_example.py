"""examples/echo.py, the raw ASGI app Autobahn and the benchmarks serve, on asgiws and uvicorn."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from examples.echo import app
from tests.conftest import running_server

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 10


def test_http_hello_and_body_echo(server_kind: str) -> None:
    with running_server(app, server_kind) as (host, port):
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=TIMEOUT) as client:
            hello = client.get("/")
            assert hello.status_code == 200
            assert hello.text == "Hello, world!"
            body = os.urandom(100_000)
            echoed = client.post("/anything", content=body)
            assert echoed.status_code == 200
            assert echoed.content == body


def test_websocket_echo_keeps_message_types(server_kind: str) -> None:
    async def client(host: str, port: int) -> None:
        async with connect(f"ws://{host}:{port}/") as ws:
            for message in ["text", b"bytes", "", b"", "é" * 10_000, os.urandom(70_000)]:
                await ws.send(message)
                assert await ws.recv() == message

    with running_server(app, server_kind) as (host, port):
        asyncio.run(asyncio.wait_for(client(host, port), TIMEOUT))


def test_cli_serves_it_and_ctrl_c_stops_it() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    process = subprocess.Popen(
        [sys.executable, "-m", "asgiws", "examples.echo:app", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        async def client() -> None:
            for _ in range(100):  # until it listens
                try:
                    ws = await connect(f"ws://127.0.0.1:{port}/")
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("the server never listened")
            async with ws:
                await ws.send("hello")
                assert await ws.recv() == "hello"

        asyncio.run(asyncio.wait_for(client(), TIMEOUT * 2))
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output.decode(errors="replace")
    assert b"Traceback" not in output
