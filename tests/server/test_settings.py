"""The settings table: README.md, `--help`, `Config` and the protocol objects all agree with it."""

from __future__ import annotations

import inspect
import os
import pathlib
import re
import subprocess
import sys
from typing import Any

import pytest

import asgiws
from asgiws.protocol import limits
from asgiws.protocol.connection import Side, WebSocketConnection
from asgiws.protocol.deflate import DeflateSettings
from asgiws.protocol.handshake import ClientHandshake
from asgiws.protocol.http11 import RequestParser
from asgiws.server.cli import build_parser, config_from_args
from asgiws.server.settings import BY_NAME, ROWS, UNSUPPORTED_SETTINGS, InvalidSetting, UnsupportedSetting

README = pathlib.Path(__file__).parents[2] / "README.md"

OPTION_ROWS = [row for row in ROWS if row.cli not in ("none", "positional")]
NULLABLE_NUMBERS = [row for row in OPTION_ROWS if row.numeric and row.nullable]


# -- README.md --------------------------------------------------------------------------

UNITS = {"KiB": 2**10, "MiB": 2**20, "s": 1, "messages": 1}


def readme_value(text: str) -> Any:
    """A default as README.md writes it: "16 MiB", "20 s", "32 messages", "128", "on (...)", "none"."""
    text = re.sub(r"\s*\(.*\)$", "", text.strip())
    if text in ("on", "off", "none"):
        return {"on": True, "off": False, "none": None}[text]
    number, _, unit = text.partition(" ")
    return float(number) * UNITS[unit] if unit else float(number)


def readme_settings() -> list[tuple[str, str]]:
    """(setting name, default text) for each setting in README.md's "Settings" table."""
    section = README.read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]
    pairs = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`(\w+)`", cells[0])
        defaults = cells[1].split(" / ")
        assert len(names) == len(defaults), line
        pairs += zip(names, defaults, strict=True)
    return pairs


def test_readme_lists_settings():
    assert len(readme_settings()) >= 10


@pytest.mark.parametrize("name, text", readme_settings())
def test_readme_defaults_are_the_tables(name: str, text: str):
    assert name in BY_NAME, f"README.md documents {name}, which is not a setting"
    assert readme_value(text) == BY_NAME[name].default


def test_readme_deflate_parameters_are_the_protocols():
    line = next(line for line in README.read_text().splitlines() if line.startswith("| `ws_per_message_deflate`"))
    bits, level = re.search(r"window bits (\d+), memLevel (\d+)", line).groups()
    assert (int(bits), int(level)) == (limits.DEFLATE_WINDOW_BITS, limits.DEFLATE_MEM_LEVEL)
    assert (DeflateSettings().window_bits, DeflateSettings().mem_level) == (int(bits), int(level))


# -- the command line ----------------------------------------------------------------------


def help_blocks() -> dict[str, str]:
    """`asgiws --help` (unwrapped), the text of each option by its first option string."""
    result = subprocess.run(
        [sys.executable, "-m", "asgiws", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "COLUMNS": "1000"},
    )
    assert result.returncode == 0, result.stderr
    blocks: dict[str, str] = {}
    current = None
    for line in result.stdout.splitlines():
        match = re.match(r"  (-[-\w]+)", line)
        if match:
            current = match.group(1)
            blocks[current] = line
        elif current is not None and line.startswith("    "):
            blocks[current] += " " + line.strip()
        else:
            current = None
    return blocks


def test_every_setting_has_an_option_showing_its_default_once():
    blocks = help_blocks()
    for row in OPTION_ROWS:
        assert row.option in blocks, f"{row.name} has no {row.option} option"
        block = blocks[row.option]
        assert block.count("(default:") == 1, block
        assert f"(default: {row.help_default})" in block, block


def test_options_are_grouped():
    groups = [group.title for group in build_parser()._action_groups]
    assert {"server", "HTTP", "WebSocket", "TLS", "processes", "logging"} <= set(groups)


def test_option_defaults_are_the_tables():
    settings = config_from_args(build_parser().parse_args(["m:app"]))
    assert set(settings) == {row.name for row in OPTION_ROWS}
    for name, value in settings.items():
        assert value == BY_NAME[name].default, name


@pytest.mark.parametrize("row", NULLABLE_NUMBERS, ids=lambda row: row.name)
def test_none_on_the_command_line(row):
    args = build_parser().parse_args(["m:app", row.option, "none"])
    assert config_from_args(args)[row.name] is None


def test_timeout_notify_and_h11_name_have_options():
    settings = config_from_args(
        build_parser().parse_args(["m:app", "--timeout-notify", "7", "--h11-max-incomplete-event-size", "4096"])
    )
    assert settings["timeout_notify"] == 7
    settings.pop("app_dir")
    assert asgiws.Config("m:app", **settings).limit_request_header_block == 4096


@pytest.mark.parametrize(
    "argv", [["--ws-max-size", "-5"], ["--ws-max-size", "big"], ["--loop", "bogus"], ["--port", "70000"]]
)
def test_invalid_values_are_argparse_errors(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["m:app", *argv])
    assert exited.value.code == 2
    assert argv[0] in capsys.readouterr().err


# -- Config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings, name",
    [
        ({"loop": "bogus"}, "loop"),
        ({"ws_max_size": -5}, "ws_max_size"),
        ({"ws_max_queue": 0}, "ws_max_queue"),
        ({"lifespan": "sometimes"}, "lifespan"),
        ({"port": "8000"}, "port"),
        ({"timeout_keep_alive": None}, "timeout_keep_alive"),
        ({"access_log": "yes"}, "access_log"),
        ({"ws": "bogus"}, "ws"),
    ],
)
def test_config_refuses_invalid_values_naming_the_setting(settings, name):
    with pytest.raises(ValueError, match=rf"^{name} ") as raised:
        asgiws.Config("m:app", **settings)
    assert isinstance(raised.value, InvalidSetting) and raised.value.name == name


def test_config_defaults_are_the_tables():
    config = asgiws.Config("m:app")
    derived = {"workers", "forwarded_allow_ips", "headers"}  # normalised by Config, see its docstring
    for row in ROWS[1:]:
        if row.name not in derived:
            assert getattr(config, row.name) == row.default, row.name


def test_config_accepts_every_uvicorn_keyword():
    uvicorn = pytest.importorskip("uvicorn")
    ours = inspect.signature(asgiws.Config).parameters
    missing = [name for name in inspect.signature(uvicorn.Config).parameters if name not in ours]
    assert missing == []


def test_config_accepts_uvicorns_defaults():
    """Every uvicorn.Config keyword with uvicorn's default runs, also those asgiws does not do."""
    uvicorn = pytest.importorskip("uvicorn")
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(uvicorn.Config).parameters.items()
        if name not in ("app", "log_config")  # uvicorn's log_config names uvicorn's formatters
    }
    config = asgiws.Config("m:app", log_config=None, **defaults)
    assert config.workers == 1 and config.http2 is False


@pytest.mark.parametrize(
    "settings, name",
    [
        ({"http2": True}, "http2"),
        ({"reset_contextvars": True}, "reset_contextvars"),
    ],
)
def test_what_asgiws_does_not_do_is_refused_naming_it(settings, name):
    assert name in UNSUPPORTED_SETTINGS
    with pytest.raises(UnsupportedSetting, match=rf"^{name} is not supported: ") as raised:
        asgiws.Config("m:app", **settings)
    assert raised.value.name == name


@pytest.mark.parametrize("use_colors", [None, True, False])
def test_use_colors_takes_uvicorns_values(use_colors):
    assert asgiws.Config("m:app", use_colors=use_colors).use_colors is use_colors


@pytest.mark.parametrize("argv", [["--http2"], ["--reset-contextvars"]])
def test_an_unsupported_option_is_a_one_line_error_naming_it(argv):
    result = subprocess.run(
        [sys.executable, "-m", "asgiws", "m:app", *argv], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"asgiws: error: {argv[0]} is not supported: "), result.stderr


# -- the protocol objects and the client ----------------------------------------------------


def test_protocol_and_client_defaults_are_the_servers():
    """Both ends of a connection start from the same limits as the settings table."""
    default = {name: row.default for name, row in BY_NAME.items()}
    parser = RequestParser()
    assert (parser.max_request_line, parser.max_header_block, parser.max_headers) == (
        default["limit_request_line"],
        default["limit_request_header_block"],
        default["limit_request_headers"],
    )
    assert WebSocketConnection(Side.SERVER).max_size == default["ws_max_size"]
    handshake = ClientHandshake("localhost")
    assert (handshake.max_head_size, handshake.max_headers) == (
        default["limit_request_header_block"],
        default["limit_request_headers"],
    )
    client = {name: p.default for name, p in inspect.signature(asgiws.connect).parameters.items()}
    assert (client["max_size"], client["max_queue"]) == (default["ws_max_size"], default["ws_max_queue"])
    assert (client["ping_interval"], client["ping_timeout"], client["close_timeout"]) == (
        default["ws_ping_interval"],
        default["ws_ping_timeout"],
        default["ws_close_timeout"],
    )
