"""The command line: `asgiws module:attr [options]`, options named as uvicorn's.

The parser is built from the settings table (server/settings.py): one
option per row, dashes for underscores, in the row's group, with its help
and its default shown once. Parsed arguments are `Config` keywords as they
are (`config_from_args`).
"""

from __future__ import annotations

import argparse
import platform
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from .config import AppLoadError, Config, import_from_string
from .settings import BY_NAME, ROWS, Group, InvalidSetting, Row


def _convert(row: Row) -> Any:
    """argparse's `type=` for `row`: its text parser, with argparse's error on invalid text."""

    def convert(text: str) -> Any:
        try:
            return row.parse(text)
        except InvalidSetting as exc:
            raise argparse.ArgumentTypeError(exc.problem) from None
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"invalid value {text!r} ({exc})") from None

    convert.__name__ = row.name  # argparse names it in some errors
    return convert


def _add_row(group: argparse._ArgumentGroup, row: Row) -> None:
    """The option (or positional argument) of one row."""
    if row.cli == "positional":
        group.add_argument(row.name, metavar=row.metavar, help=row.help)
        return
    help_text = row.help if row.help_default is None else f"{row.help} (default: {row.help_default})"
    flags = [row.option, *row.aliases]
    options: dict[str, Any] = {"dest": row.name, "help": help_text.replace("%", "%%")}
    if row.cli == "flag":
        options["action"] = argparse.BooleanOptionalAction
    else:
        options.update(type=_convert(row), metavar=row.metavar, choices=row.choices or None)
        if row.cli == "append":
            options["action"] = "append"
    # The default is set once the action exists: BooleanOptionalAction would add it to the help again.
    group.add_argument(*flags, **options).default = row.default
    if row.cli == "boolean":  # uvicorn spells it `--name false`; `--no-name` works too
        group.add_argument(f"--no-{row.option[2:]}", dest=row.name, action="store_false", help=argparse.SUPPRESS)


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors are one line naming what is wrong (exit status 2), without the usage.

    An option asgiws does not have (a uvicorn option with no row in the
    settings table, say) is named alone: "asgiws: error: unknown option
    --reload-delay-ms (asgiws --help lists the options)".
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help lists the options)\n")

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]  # typeshed's overloads; one signature here
        parsed, unknown = self.parse_known_args(args, namespace)
        if unknown:
            options = [arg for arg in unknown if arg.startswith("-")]
            if options:
                self.error(f"unknown option {options[0].partition('=')[0]}")
            self.error(f"unexpected argument {unknown[0]!r}")
        return parsed


def version_text() -> str:
    """What `asgiws --version` prints: asgiws's version, and the Python that runs it."""
    from .. import __version__  # the package's one version number

    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"asgiws {__version__} with {python} on {platform.system()}"


def build_parser() -> Parser:
    """The argparse parser for the `asgiws` command, one option per row of the settings table."""
    parser = Parser(
        prog="asgiws",
        usage="%(prog)s [options] APP",
        description="Serve an ASGI application (HTTP/1.1 and WebSocket).",
    )
    parser.add_argument("--version", action="version", version=version_text(), help="print the version and exit")
    groups = {group: parser.add_argument_group(group.value) for group in Group}
    for row in ROWS:
        if row.cli != "none":
            _add_row(groups[row.group], row)
    return parser


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Config keywords from parsed arguments (the app excluded)."""
    settings = vars(args).copy()
    settings.pop("app")
    return settings


def main(argv: list[str] | None = None) -> int:
    """Run the server from command-line arguments; the process exit status."""
    from .runner import run_config  # the server and its protocols: imported only to serve

    args = build_parser().parse_args(argv)
    settings = config_from_args(args)
    sys.path.insert(0, settings.pop("app_dir") or ".")
    try:
        config = Config(args.app, **settings)  # loads --env-file before the app is imported
        if not config.reload:  # under --reload an app that does not import yet waits for a fix
            import_from_string(args.app)
    except InvalidSetting as exc:
        return setting_error(exc)
    except AppLoadError as exc:
        print(f"Error loading ASGI app. {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the app's own module raised while being imported: show where
        traceback.print_exc()
        print(f"Error loading ASGI app. {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    try:
        return run_config(config)
    except InvalidSetting as exc:
        return setting_error(exc)


def setting_error(error: InvalidSetting) -> int:
    """Say on one line which option is wrong and why (as argparse does for a bad value); exit status 2."""
    row = BY_NAME.get(error.name)
    name = row.option if row is not None and row.cli != "none" else error.name
    print(f"asgiws: error: {name} {error.problem}", file=sys.stderr)
    return 2


__all__ = ["Config", "build_parser", "main"]
