"""The `asgiws` command line: --help documents the options; a bad app path is one line, a module that raises its traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from asgiws.server.cli import build_parser, config_from_args

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


def test_version():
    import asgiws

    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith(f"asgiws {asgiws.__version__} with ")


@pytest.mark.parametrize(
    "argv, error",
    [
        (["--reload"], "--reload is a uvicorn option asgiws does not have"),
        (["--reload-dir", "src"], "--reload-dir is a uvicorn option asgiws does not have"),
        (["--env-file=.env"], "--env-file is a uvicorn option asgiws does not have"),
        (["--no-such-option"], "unknown option --no-such-option"),
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
