"""The deployment page's files (docs/snippets/deploy/) do what the page says, with the real programs.

nginx and Caddy run their config as shown, only re-pointed at free ports of
127.0.0.1 and a test certificate, in front of a real asgiws server: HTTP
and WebSocket go through, and the app sees the scheme the client used
(X-Forwarded-Proto). The systemd unit passes `systemd-analyze verify`, and
the asgiws command lines of the unit and the Dockerfile parse with asgiws's
own command line. A program that is missing skips its test, except in CI
(.ci/run installs nginx and Caddy), where it fails.
"""

from __future__ import annotations

import asyncio
import configparser
import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import asgiws
from asgiws.server.cli import build_parser
from asgiws.testing import LiveServer
from tests.examples.test_examples import free_port
from tests.server.test_tls_uds import certificate

DEPLOY = Path(__file__).parents[2] / "docs" / "snippets" / "deploy"
TIMEOUT = 15  # seconds: a bound on every wait, never an assertion

app = asgiws.App()


@app.route("/whoami")
async def whoami(request: asgiws.Request) -> dict[str, str]:
    return {"scheme": request.url.scheme}


@app.websocket("/echo")
async def echo(websocket: asgiws.WebSocket) -> None:
    await websocket.send(websocket.scope["scheme"])
    async for message in websocket:
        await websocket.send(message)


def program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            raise RuntimeError(f"{name} is not installed (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return path


def substitute(text: str, replacements: dict[str, str]) -> str:
    """`text` with each key replaced by its value; each key must occur exactly once."""
    for old, new in replacements.items():
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the shown file"
        text = text.replace(old, new)
    return text


@contextlib.contextmanager
def running(command: list[str], port: int, **popen: object) -> Iterator[subprocess.Popen[str]]:
    """Run `command` until the block ends, once it accepts connections on `port`."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    raise AssertionError(f"{command[0]} did not start:\n{process.communicate()[0]}") from None
                time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def websocket_through(url: str, context: ssl.SSLContext | None = None) -> tuple[str, str, int | None]:
    """The scheme the app saw, an echo, and the close code, over a WebSocket to `url`."""
    async with asgiws.connect(url, ssl=context) as websocket:
        scheme = await websocket.recv()
        await websocket.send("through the proxy")
        echoed = await websocket.recv()
    assert isinstance(scheme, str) and isinstance(echoed, str)
    return scheme, echoed, websocket.close_code


def test_nginx_proxies_http_and_websockets_over_tls(tmp_path: Path) -> None:
    nginx = program("nginx")
    certfile, keyfile, client_context = certificate(tmp_path)
    http_port, https_port = free_port(), free_port()
    with LiveServer(app) as server:
        site = substitute(
            (DEPLOY / "nginx.conf").read_text(),
            {
                "server 127.0.0.1:8000;": f"server 127.0.0.1:{server.port};",
                "listen 80;": f"listen 127.0.0.1:{http_port};",
                "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
                "/etc/letsencrypt/live/example.com/fullchain.pem": certfile,
                "/etc/letsencrypt/live/example.com/privkey.pem": keyfile,
            },
        )
        (tmp_path / "site.conf").write_text(site)
        (tmp_path / "logs").mkdir()
        (tmp_path / "nginx.conf").write_text(
            f"error_log {tmp_path}/logs/error.log;\n"
            f"pid {tmp_path}/nginx.pid;\n"
            "events {}\n"
            "http {\n"
            f"    access_log {tmp_path}/logs/access.log;\n"
            f"    client_body_temp_path {tmp_path}/body;\n"
            f"    proxy_temp_path {tmp_path}/proxy;\n"
            f"    include {tmp_path}/site.conf;\n"
            "}\n"
        )
        configuration = str(tmp_path / "nginx.conf")
        command = [nginx, "-p", str(tmp_path), "-c", configuration, "-g", "daemon off; master_process off;"]
        with running(command, https_port):
            redirect = httpx.get(f"http://127.0.0.1:{http_port}/whoami", timeout=TIMEOUT)
            response = httpx.get(f"https://127.0.0.1:{https_port}/whoami", verify=client_context, timeout=TIMEOUT)
            through = asyncio.run(websocket_through(f"wss://127.0.0.1:{https_port}/echo", client_context))
    assert (redirect.status_code, redirect.headers["location"]) == (301, "https://127.0.0.1/whoami")
    assert response.json() == {"scheme": "https"}
    assert through == ("wss", "through the proxy", 1000)


def test_caddy_proxies_http_and_websockets_over_tls(tmp_path: Path) -> None:
    caddy = program("caddy")
    certfile, keyfile, client_context = certificate(tmp_path)
    port = free_port()
    with LiveServer(app) as server:
        site = substitute(
            (DEPLOY / "Caddyfile").read_text(),
            {
                "example.com {": f"https://127.0.0.1:{port} {{",
                # The test certificate stands in for the one Caddy would obtain.
                "reverse_proxy 127.0.0.1:8000": f"tls {certfile} {keyfile}\n    reverse_proxy 127.0.0.1:{server.port}",
            },
        )
        (tmp_path / "Caddyfile").write_text("{\n\tadmin off\n}\n" + site)  # no admin endpoint on :2019
        home = str(tmp_path)  # where Caddy keeps its state
        environment = {**os.environ, "HOME": home, "XDG_DATA_HOME": home, "XDG_CONFIG_HOME": home}
        command = [caddy, "run", "--config", str(tmp_path / "Caddyfile"), "--adapter", "caddyfile"]
        with running(command, port, env=environment):
            response = httpx.get(f"https://127.0.0.1:{port}/whoami", verify=client_context, timeout=TIMEOUT)
            through = asyncio.run(websocket_through(f"wss://127.0.0.1:{port}/echo", client_context))
    assert response.json() == {"scheme": "https"}
    assert through == ("wss", "through the proxy", 1000)


def asgiws_arguments(argv: list[str]) -> list[str]:
    """The arguments of an `asgiws` command line, checked to parse as asgiws's command line does."""
    assert Path(argv[0]).name == "asgiws", argv
    build_parser().parse_args(argv[1:])  # an unknown option or a bad value exits
    return argv[1:]


def test_systemd_unit(tmp_path: Path) -> None:
    text = (DEPLOY / "myapp.service").read_text()
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # systemd's keys are case-sensitive
    unit.read_string(text)
    command = shlex.split(unit["Service"]["ExecStart"])
    assert "--workers" in asgiws_arguments(command)
    assert unit["Service"]["ExecReload"] == "/bin/kill -HUP $MAINPID"  # the supervisor's rolling restart
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # verify wants the program to exist: this environment's asgiws stands in for the venv's.
    executable = shutil.which("asgiws") or str(Path(sys.executable).with_name("asgiws"))
    (tmp_path / "myapp.service").write_text(text.replace(command[0], executable))
    result = subprocess.run([analyze, "verify", str(tmp_path / "myapp.service")], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout and not result.stderr, result.stdout + result.stderr


def test_dockerfile() -> None:
    instructions = [
        line.split(maxsplit=1)
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    known = {"FROM", "WORKDIR", "COPY", "RUN", "USER", "EXPOSE", "ENV", "CMD"}
    assert {keyword for keyword, _ in instructions} <= known
    base = dict(instructions)["FROM"]
    version = re.fullmatch(r"python:(\d+)\.(\d+)-slim", base)
    assert version is not None and (int(version[1]), int(version[2])) >= (3, 11), base
    arguments = asgiws_arguments(json.loads(dict(instructions)["CMD"]))  # exec form: asgiws is PID 1, gets SIGTERM
    assert arguments[arguments.index("--host") + 1] == "0.0.0.0"  # reachable from outside the container
    assert dict(instructions)["EXPOSE"] == arguments[arguments.index("--port") + 1]
