"""Prometheus metrics (`--metrics-port`): /metrics scraped during real traffic counts what the clients did.

One process through `LiveServer`, several through `python -m asgiws
--workers 2`, whose supervisor serves the figures of both workers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from asgiws.testing import LiveServer

from .raw_client import connect, exchange

pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families

#: The figures' labels are strings: a sample is (name, frozenset of label pairs).
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

#: This module, as the command line names the app below.
APP = f"{__name__}:app"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """HTTP: /status/N answers N, /raise fails, the body is the pid; WebSocket: /deny refuses, /bye closes with 4001,
    anything else echoes, but "pid" is answered with the pid."""
    if scope["type"] == "http":
        path = scope["path"]
        if path == "/raise":
            raise RuntimeError("the app failed")
        status = int(path.rpartition("/")[2]) if path.startswith("/status/") else 200
        body = str(os.getpid()).encode()
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-length", b"%d" % len(body))]}
        )
        await send({"type": "http.response.body", "body": body})
    elif scope["type"] == "websocket":
        await receive()
        if scope["path"] == "/deny":
            await send({"type": "websocket.close"})
            return
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if scope["path"] == "/bye":
                await send({"type": "websocket.close", "code": 4001})
                return
            if message.get("text") == "pid":
                message = {"text": str(os.getpid())}
            reply = {key: message[key] for key in ("text", "bytes") if message.get(key) is not None}
            await send({"type": "websocket.send", **reply})


def scrape(port: int) -> Samples:
    """Every sample of http://127.0.0.1:PORT/metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def wait_for(port: int, expected: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> Samples:
    """Scrape until every expected sample has its value (the WebSocket counts reach Prometheus every tick)."""
    deadline = time.monotonic() + 10
    while True:
        samples = scrape(port)
        if all(samples.get(key, 0.0) == wanted for key, wanted in expected.items()):
            return samples
        if time.monotonic() > deadline:
            wrong = {key: (samples.get(key), wanted) for key, wanted in expected.items() if samples.get(key) != wanted}
            raise AssertionError(f"(got, expected) by sample: {wrong}")
        time.sleep(0.05)


def sample(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return (name, frozenset(labels.items()))


@pytest.fixture
def server() -> Iterator[LiveServer]:
    with LiveServer(app, metrics_port=0, log_level="warning") as live:
        yield live


def metrics_port(live: LiveServer) -> int:
    metrics = live.server.server_state.metrics
    assert metrics is not None and metrics.exporter is not None
    return metrics.exporter.port


def test_http_requests_and_connections_are_counted(server: LiveServer) -> None:
    port = metrics_port(server)
    with httpx.Client(base_url=server.url) as client:
        for _ in range(5):
            assert client.get("/").status_code == 200
        for _ in range(3):
            assert client.post("/status/404", content=b"x").status_code == 404
        assert client.get("/raise").status_code == 500
        assert client.request("BREW", "/status/201").status_code == 201  # not a method of its own: "other"
        # The client's keep-alive connection is open while it scrapes.
        samples = wait_for(port, {sample("asgiws_http_connections"): 1})
    assert value(samples, "asgiws_http_requests_total", method="GET", status="2xx") == 5
    assert value(samples, "asgiws_http_requests_total", method="POST", status="4xx") == 3
    assert value(samples, "asgiws_http_requests_total", method="GET", status="5xx") == 1
    assert value(samples, "asgiws_http_requests_total", method="other", status="2xx") == 1
    assert value(samples, "asgiws_http_request_duration_seconds_count") == 10
    assert value(samples, "asgiws_http_request_duration_seconds_bucket", le="+Inf") == 10
    wait_for(port, {sample("asgiws_http_connections"): 0})


def test_websocket_messages_refusals_and_closes_are_counted(server: LiveServer) -> None:
    port = metrics_port(server)
    texts = ["hello", "héllo ✓", "x" * 1000]
    blobs = [b"\x00" * 10, b"\xff" * 300]
    sent_bytes = sum(len(text.encode()) for text in texts) + sum(len(blob) for blob in blobs)

    async def traffic() -> Samples:
        async with (
            websockets.connect(server.ws_url + "/echo") as first,
            websockets.connect(server.ws_url + "/echo") as second,
        ):
            for ws in (first, second):
                for message in [*texts, *blobs]:
                    await ws.send(message)
                    assert await ws.recv() == message
            # Scraped while both are open.
            return await asyncio.to_thread(
                wait_for,
                port,
                {
                    sample("asgiws_websocket_connections"): 2,
                    sample("asgiws_websocket_messages_received_total"): 10,
                    sample("asgiws_websocket_messages_sent_total"): 10,
                    sample("asgiws_websocket_received_bytes_total"): 2 * sent_bytes,
                    sample("asgiws_websocket_sent_bytes_total"): 2 * sent_bytes,
                },
            )

    asyncio.run(traffic())

    async def refusals_and_closes() -> None:
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(server.ws_url + "/deny"):
                pass
        assert refused.value.response.status_code == 403
        async with websockets.connect(server.ws_url + "/bye") as ws:
            await ws.send("bye")
            await ws.wait_closed()
        assert ws.close_code == 4001

    asyncio.run(refusals_and_closes())
    # An invalid handshake (no Sec-WebSocket-Version) is refused by the server itself, with 426.
    upgrade = (
        b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    )
    responses, _ = exchange(server.port, upgrade + b"\r\n")
    assert [response.status for response in responses] == [426]
    # A client that vanishes without a close frame: 1006.
    with connect(server.port) as sock:
        sock.sendall(upgrade + b"Sec-WebSocket-Version: 13\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 101 ")

    samples = wait_for(
        port,
        {
            sample("asgiws_websocket_connections"): 0,
            sample("asgiws_websocket_closes_total", code="1000"): 2,
            sample("asgiws_websocket_closes_total", code="4001"): 1,
            sample("asgiws_websocket_closes_total", code="1006"): 1,
            sample("asgiws_websocket_handshake_refusals_total", status="403"): 1,
            sample("asgiws_websocket_handshake_refusals_total", status="426"): 1,
            sample("asgiws_websocket_messages_received_total"): 11,  # and "bye"
            sample("asgiws_http_connections"): 0,
        },
    )
    assert value(samples, "asgiws_http_requests_total", method="GET", status="2xx") == 0  # upgrades are not requests


def test_metrics_off_imports_no_prometheus_client() -> None:
    script = textwrap.dedent(
        """
        import sys, httpx
        from asgiws.testing import LiveServer

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 204})
            await send({"type": "http.response.body"})

        with LiveServer(app, lifespan="off") as live:
            assert httpx.get(live.url).status_code == 204
            assert live.server.server_state.metrics is None
        assert "prometheus_client" not in sys.modules, "imported"
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)


def test_metrics_without_prometheus_client_is_a_one_line_error() -> None:
    script = (
        "import sys; sys.modules['prometheus_client'] = None\n"  # as if not installed: importing it fails
        "from asgiws.server.cli import main\n"
        "sys.exit(main(['examples.echo:app', '--port', '0', '--metrics-port', '0']))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert "pip install 'asgiws[metrics]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_workers_are_counted_together() -> None:
    """The supervisor serves the sum of its workers' figures, a killed worker's open connections dropped."""
    command = [
        sys.executable,
        "-m",
        "asgiws",
        APP,
        "--workers",
        "2",
        "--port",
        "0",
        "--metrics-port",
        "0",
        "--no-access-log",
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        assert process.stderr is not None
        ports: dict[str, int] = {}
        for line in process.stderr:
            if "Metrics at http://127.0.0.1:" in line:
                ports["metrics"] = int(line.split("127.0.0.1:")[1].split("/")[0])
            elif "asgiws running on http://127.0.0.1:" in line:
                ports.setdefault("server", int(line.split("127.0.0.1:")[1].split()[0]))
                ports["workers"] = ports.get("workers", 0) + 1
            if ports.get("workers") == 2 and "metrics" in ports:
                break
        url = f"http://127.0.0.1:{ports['server']}"
        # A new connection per request, until both workers answered some.
        pids: list[int] = []
        while len(set(pids)) < 2:
            assert len(pids) < 200, "one worker answered every request"
            pids.append(int(httpx.get(url, headers={"Connection": "close"}, timeout=5).text))

        async def websockets_across_a_worker_death() -> None:
            connections = [await websockets.connect(url.replace("http", "ws") + "/echo") for _ in range(6)]
            owners = []
            for ws in connections:
                await ws.send("pid")
                owners.append(int(await ws.recv()))
            await asyncio.to_thread(
                wait_for,
                ports["metrics"],
                {
                    sample("asgiws_http_requests_total", method="GET", status="2xx"): len(pids),
                    sample("asgiws_websocket_connections"): 6,
                    sample("asgiws_websocket_messages_received_total"): 6,
                },
            )
            # A worker killed with its connections open: they stop counting, what it counted stays.
            os.kill(owners[0], signal.SIGKILL)
            survivors = [ws for ws, owner in zip(connections, owners, strict=True) if owner != owners[0]]
            await asyncio.to_thread(
                wait_for,
                ports["metrics"],
                {
                    sample("asgiws_websocket_connections"): len(survivors),
                    sample("asgiws_websocket_messages_received_total"): 6,
                },
            )
            for ws in survivors:
                await ws.close()
            await asyncio.to_thread(
                wait_for,
                ports["metrics"],
                {
                    sample("asgiws_websocket_connections"): 0,
                    sample("asgiws_websocket_closes_total", code="1000"): len(survivors),
                },
            )
            for ws in connections:
                await ws.close()

        asyncio.run(websockets_across_a_worker_death())
    finally:
        os.kill(process.pid, signal.SIGINT)
        assert process.wait(timeout=30) == 0
