"""The `asgiws` command line: --help documents the options.

A bad app path is one line; a module that raises, its traceback; --env-file sets
the variables the app reads.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx
import pytest

import asgiws
from asgiws.server.cli import build_parser, config_from_args

from .processes import ServerProcess

OPTIONS = [
    "--host", "--port", "--uds", "--fd", "--log-level", "--access-log", "--no-access-log", "--root-path",
    "--proxy-headers", "--no-proxy-headers", "--forwarded-allow-ips", "--timeout-keep-alive",
    "--timeout-graceful-shutdown", "--limit-concurrency", "--limit-max-requests", "--lifespan", "--loop",
    "--ws-max-size", "--ws-max-queue", "--ws-ping-interval", "--ws-ping-timeout", "--ws-per-message-deflate",
    "--ssl-keyfile", "--ssl-certfile", "--ssl-keyfile-password", "--headers", "--server-header",
    "--no-server-header", "--date-header", "--no-date-header", "--factory", "--app-dir", "--workers", "--backlog",
    "--timeout-request-head",
]  # fmt: skip


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asgiws", *args], capture_output=True, text=True, timeout=30)


def test_help_documents_every_option():
    result = run_cli("--help")
    assert result.returncode == 0
    for option in OPTIONS:
        assert option in result.stdout, option


@pytest.mark.parametrize("app", ["no_such_module_xyz:app", "asgiws:no_such_attribute", "missing_colon"])
def test_unknown_app_is_a_one_line_error(app):
    result = run_cli(app, "--port", "0")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Error loading ASGI app" in result.stderr


def test_app_module_raising_on_import_shows_its_traceback(tmp_path):
    (tmp_path / "raising_module.py").write_text("x = 1\n\ny = x + undefined_name\n")
    result = run_cli("raising_module:app", "--app-dir", str(tmp_path), "--port", "0")
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert f'File "{tmp_path / "raising_module.py"}", line 3' in result.stderr
    assert "NameError: name 'undefined_name' is not defined" in result.stderr
    assert "Error loading ASGI app" in result.stderr


def test_options_map_onto_config_keywords():
    args = build_parser().parse_args(
        ["m:app", "--no-access-log", "--limit-concurrency", "5", "--header", "X-A:1", "--ws-ping-interval", "none"]
    )
    settings = config_from_args(args)
    assert settings["access_log"] is False
    assert settings["limit_concurrency"] == 5
    assert settings["headers"] == [("X-A", "1")]
    assert settings["ws_ping_interval"] is None
    import asgiws

    settings.pop("app_dir")
    asgiws.Config("m:app", **settings)  # every option is a Config keyword


def test_failed_startup_exits_3(tmp_path):
    (tmp_path / "failing_startup.py").write_text(
        "async def app(scope, receive, send):\n"
        "    await receive()\n"
        "    await send({'type': 'lifespan.startup.failed', 'message': 'database down'})\n"
    )
    result = run_cli("failing_startup:app", "--app-dir", str(tmp_path), "--port", "0", "--lifespan", "on")
    assert result.returncode == 3
    assert "database down" in result.stderr


@pytest.mark.parametrize(
    "argv, expected",
    [
        ([], True),
        (["--ws-per-message-deflate", "false"], False),  # uvicorn's spelling
        (["--ws-per-message-deflate", "True"], True),
        (["--no-ws-per-message-deflate"], False),
    ],
)
def test_per_message_deflate_takes_uvicorns_boolean(argv, expected):
    args = build_parser().parse_args([*argv, "m:app"])
    assert config_from_args(args)["ws_per_message_deflate"] is expected


@pytest.mark.parametrize("implementation", ["websockets", "websockets-sansio", "wsproto"])
def test_uvicorns_ws_implementation_names_are_accepted(implementation):
    import asgiws

    settings = config_from_args(build_parser().parse_args(["m:app", "--ws", implementation]))
    settings.pop("app_dir")
    assert asgiws.Config("m:app", **settings).ws_enabled


ENV_APP = """
import os

async def app(scope, receive, send):
    body = os.environ["ASGIWS_TEST_GREETING"].encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})
"""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_env_file_sets_variables_the_app_reads(tmp_path, workers):
    env_file = tmp_path / "settings.env"
    env_file.write_text("# the app's settings\nASGIWS_TEST_GREETING='hello from .env'\n")
    options = ["--env-file", str(env_file), "--port", "0", "--workers", workers]
    with ServerProcess(tmp_path, *options, app=ENV_APP) as server:
        port = server.wait_for_port()
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text == "hello from .env"
    assert server.exit_status == 0


def test_a_missing_env_file_is_a_one_line_error(tmp_path):
    result = run_cli("m:app", "--env-file", str(tmp_path / "missing.env"))
    assert result.returncode == 2
    expected = f"asgiws: error: --env-file is not a file: '{tmp_path / 'missing.env'}'"
    assert result.stderr.strip().splitlines() == [expected]


def test_config_loads_the_env_file_without_overriding_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ASGIWS_TEST_SET", "from the environment")
    env_file = tmp_path / ".env"
    env_file.write_text("ASGIWS_TEST_SET=from the file\nASGIWS_TEST_NEW=from the file\n")
    try:
        asgiws.Config("m:app", env_file=env_file, log_level="warning")
        assert os.environ["ASGIWS_TEST_SET"] == "from the environment"  # as uvicorn: the environment wins
        assert os.environ["ASGIWS_TEST_NEW"] == "from the file"
    finally:
        os.environ.pop("ASGIWS_TEST_NEW", None)


def test_version():
    import asgiws

    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith(f"asgiws {asgiws.__version__} with ")


@pytest.mark.parametrize(
    "argv, error",
    [
        (["--no-such-option"], "unknown option --no-such-option"),
        (["--bind=0.0.0.0:80"], "unknown option --bind"),  # gunicorn's
        (["--workers", "2", "--threads", "4"], "unknown option --threads"),
        (["extra"], "unexpected argument 'extra'"),
    ],
)
def test_an_option_asgiws_lacks_is_one_line_naming_it(argv, error):
    result = run_cli("m:app", *argv)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"asgiws: error: {error} (asgiws --help lists the options)"]
    assert result.stdout == ""


def test_invalid_value_is_one_line():
    result = run_cli("m:app", "--port", "many")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "asgiws: error: argument --port: must be an integer, got 'many' (asgiws --help lists the options)"
    ]


def test_every_uvicorn_option_is_an_option():
    """A uvicorn command line is never "unknown option": asgiws does it, or refuses it saying why."""
    result = subprocess.run([sys.executable, "-m", "uvicorn", "--help"], capture_output=True, text=True, timeout=30)
    uvicorn_options = set(re.findall(r"^  (--[\w-]+)", result.stdout, re.M))
    assert len(uvicorn_options) > 40
    assert uvicorn_options - set(build_parser()._option_string_actions) == set()
