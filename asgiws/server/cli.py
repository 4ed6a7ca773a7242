"""The command line: `asgiws module:attr [options]`, options named as uvicorn's.

Each option maps one to one onto a `Config` keyword (dashes for
underscores); `--help` documents them with their defaults.
"""

from __future__ import annotations

import argparse
import ssl
import sys
import traceback
from typing import Any

from .config import AppLoadError, Config, import_from_string


def _on_off(parser: argparse.ArgumentParser, name: str, default: bool, help: str) -> None:
    """A --name/--no-name pair."""
    parser.add_argument(f"--{name}", default=default, action=argparse.BooleanOptionalAction, help=help)


def _boolean(value: str) -> bool:
    """uvicorn's BOOLEAN option values: true/false, 1/0, yes/no, on/off."""
    lowered = value.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{value!r} is not a boolean")


def _optional_float(value: str) -> float | None:
    return None if value.lower() in ("none", "off") else float(value)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser for the `asgiws` command."""
    parser = argparse.ArgumentParser(
        prog="asgiws",
        description="Serve an ASGI application (HTTP/1.1 and WebSocket).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("app", metavar="APP", help='the ASGI application, as "module:attribute"')
    add("--host", default="127.0.0.1", help="bind the socket to this host")
    add("--port", type=int, default=8000, help="bind the socket to this port (0: any free port)")
    add("--uds", default=None, help="bind to this unix domain socket path")
    add("--fd", type=int, default=None, help="serve on this already bound socket file descriptor")
    add("--loop", choices=["auto", "asyncio", "uvloop"], default="auto", help="event loop (auto: uvloop if installed)")
    add("--http", default="auto", help="accepted for uvicorn compatibility; asgiws has one HTTP/1.1 implementation")
    add(
        "--ws",
        choices=["auto", "none", "websockets", "websockets-sansio", "wsproto"],
        default="auto",
        help="WebSocket support (none: upgrades are plain HTTP; uvicorn's implementation names mean auto)",
    )
    add("--ws-max-size", type=int, default=16 * 1024 * 1024, help="largest WebSocket message, in bytes")
    add("--ws-max-queue", type=int, default=32, help="received WebSocket messages queued before reading pauses")
    add("--ws-ping-interval", type=_optional_float, default=20.0, help="seconds between keep-alive pings (none: off)")
    add("--ws-ping-timeout", type=_optional_float, default=20.0, help="seconds to wait for a pong (none: forever)")
    add("--ws-close-timeout", type=_optional_float, default=10.0, help="seconds to wait for the closing handshake")
    add(
        "--ws-per-message-deflate",
        type=_boolean,
        default=True,
        metavar="BOOLEAN",
        help="negotiate permessage-deflate compression (true/false, as uvicorn's)",
    )
    add("--no-ws-per-message-deflate", dest="ws_per_message_deflate", action="store_false", help=argparse.SUPPRESS)
    add("--lifespan", choices=["auto", "on", "off"], default="auto", help="run the ASGI lifespan protocol")
    add("--log-config", default="default", help="logging config file (.json or .ini); default: asgiws's own")
    add(
        "--log-level",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        default=None,
        help="log level (default: info)",
    )
    _on_off(parser, "access-log", True, "log one line per request")
    _on_off(parser, "use-colors", None, "accepted for uvicorn compatibility (no colors)")  # type: ignore[arg-type]
    add("--interface", choices=["auto", "asgi3", "asgi2"], default="auto", help="the application interface")
    add("--workers", type=int, default=None, help="number of worker processes")
    _on_off(parser, "proxy-headers", True, "trust X-Forwarded-For/-Proto from --forwarded-allow-ips")
    _on_off(parser, "server-header", True, "send a Server header")
    _on_off(parser, "date-header", True, "send a Date header")
    add(
        "--forwarded-allow-ips",
        default=None,
        help='comma-separated proxy IPs/networks to trust, or "*" (default: $FORWARDED_ALLOW_IPS or 127.0.0.1)',
    )
    add("--root-path", default="", help="the path prefix the app is mounted under behind a proxy")
    add("--limit-concurrency", type=int, default=None, help="connections+tasks before answering 503")
    add("--limit-max-requests", type=int, default=None, help="requests to serve before exiting")
    add("--backlog", type=int, default=2048, help="listen() backlog")
    add("--timeout-keep-alive", type=float, default=5, help="seconds an idle keep-alive connection is kept")
    add(
        "--timeout-request-head",
        type=_optional_float,
        default=10,
        help="seconds to receive a full request head, from connection or previous response (none: forever)",
    )
    add(
        "--timeout-graceful-shutdown",
        type=_optional_float,
        default=30,
        help="seconds to let connections finish at shutdown (none: forever)",
    )
    add("--limit-request-line", type=int, default=8192, help="longest request line, in bytes (414 beyond)")
    add("--limit-request-header-block", type=int, default=65536, help="largest header block, in bytes (431 beyond)")
    add("--limit-request-headers", type=int, default=128, help="most header fields (431 beyond)")
    add("--limit-request-body", type=int, default=None, help="largest request body, in bytes (413 beyond)")
    add("--ssl-keyfile", default=None, help="TLS private key file")
    add("--ssl-certfile", default=None, help="TLS certificate (chain) file")
    add("--ssl-keyfile-password", default=None, help="password of the TLS private key")
    add("--ssl-version", type=int, default=int(ssl.PROTOCOL_TLS_SERVER), help="TLS protocol (ssl.PROTOCOL_*)")
    add("--ssl-cert-reqs", type=int, default=0, help="client certificate requirement (ssl.CERT_*)")
    add("--ssl-ca-certs", default=None, help="CA certificates file for client certificates")
    add("--ssl-ciphers", default="TLSv1", help="TLS ciphers (OpenSSL syntax)")
    add(
        "--header",
        "--headers",
        dest="headers",
        action="append",
        default=None,
        metavar="NAME:VALUE",
        help="a default response header (repeatable)",
    )
    _on_off(parser, "factory", False, "APP is a factory: call it to get the application")
    add("--app-dir", default="", help="directory put first on sys.path to import APP (default: current directory)")
    return parser


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Config keywords from parsed arguments."""
    settings = vars(args).copy()
    settings.pop("app")
    headers = settings.pop("headers") or []
    settings["headers"] = [tuple(item.split(":", 1)) for item in headers if ":" in item]
    return settings


def main(argv: list[str] | None = None) -> int:
    """Run the server from command-line arguments; the process exit status."""
    from .server import run  # the server module imports the event loop machinery

    args = build_parser().parse_args(argv)
    settings = config_from_args(args)
    sys.path.insert(0, settings.pop("app_dir") or ".")
    try:
        import_from_string(args.app)
    except AppLoadError as exc:
        print(f"Error loading ASGI app. {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the app's own module raised while being imported: show where
        traceback.print_exc()
        print(f"Error loading ASGI app. {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    try:
        run(args.app, **settings)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


__all__ = ["Config", "build_parser", "main"]
