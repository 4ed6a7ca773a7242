"""The settings table: every server setting, written once, with its type, default, bounds and help.

`Settings` is the table: one dataclass field per setting, in the form

    ws_max_size: int | None = setting(limits.MAX_MESSAGE_SIZE, Group.WEBSOCKET, "largest message ...", min=0)

so its name, type and default are the field's, and `setting()` adds the rest
(CLI group, help text, choices, bounds, how the option is spelled). Both
users are built from it: `asgiws.Config` (server/config.py) is a subclass,
so every row is a `Config` keyword and attribute, validated here; the
command line (server/cli.py) makes one option per row, grouped by `Group`,
with the row's help and its default shown once.

Adding a setting is adding one row here, in its group, and using it where it
does something. Its type says what the command line accepts: `bool` is a
``--name/--no-name`` flag, `int`/`float` a number, `... | None` also takes
``none``, a `Literal` its values (also enforced on `Config`). A default the
protocol core or the client needs too is a constant of `protocol/limits.py`,
named here, never a second literal. `unsupported="why"` marks a uvicorn
setting asgiws does not do: it is accepted with uvicorn's default (and the
values in `accepts`), so every uvicorn call runs, and any other value is
refused with `UnsupportedSetting` naming it and saying why; nothing a
uvicorn user sets is silently ignored. Rows after `app`, `host` and `port`
are keyword-only, so a new row never shifts a positional argument.

`tests/server/test_settings.py` holds README.md's settings table, the
options and `--help` to this table.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import ssl
import types
import typing
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from ..protocol import limits
from .logs import LOG_LEVELS

#: What `lifespan=` accepts: run it if the app supports it, always, never.
LifespanMode = Literal["auto", "on", "off"]
LoopName = Literal["auto", "asyncio", "uvloop"]
Interface = Literal["auto", "asgi3", "asgi2"]

#: Texts the command line reads as None for an `int | None` or `float | None` setting.
NONE_TEXTS = ("none", "off")


class Group(enum.Enum):
    """The command line's option groups, in the order `--help` shows them."""

    SERVER = "server"
    HTTP = "HTTP"
    WEBSOCKET = "WebSocket"
    TLS = "TLS"
    PROCESSES = "processes"
    LOGGING = "logging"


class InvalidSetting(ValueError):
    """A setting's value has the wrong type or is out of its bounds; `name` says which."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name} {problem}")
        self.name = name
        self.problem = problem


class UnsupportedSetting(InvalidSetting):
    """A uvicorn setting asgiws does not do was given a value other than uvicorn's default."""


#: How a row appears on the command line: "option" (``--name VALUE``),
#: "flag" (``--name/--no-name``), "boolean" (``--name BOOLEAN`` as uvicorn
#: spells some, plus ``--no-name``), "append" (repeatable ``--name VALUE``),
#: "positional", or "none" (no option).
CLIForm = Literal["option", "flag", "boolean", "append", "positional", "none"]


@dataclasses.dataclass(frozen=True)
class Setting:
    """What a row says beside its name, type and default; see `setting()`."""

    group: Group
    help: str
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    cli: CLIForm | None = None
    aliases: tuple[str, ...] = ()
    metavar: str | None = None
    parser: Callable[[str], Any] | None = None
    default_text: str | None = None
    unsupported: str | None = None
    accepts: tuple[Any, ...] = ()


def setting(
    default: Any,
    group: Group,
    help: str,
    *,
    choices: Sequence[str] = (),
    min: float | None = None,
    max: float | None = None,
    cli: CLIForm | None = None,
    aliases: Sequence[str] = (),
    metavar: str | None = None,
    parser: Callable[[str], Any] | None = None,
    default_text: str | None = None,
    unsupported: str | None = None,
    accepts: Sequence[Any] = (),
    secret: bool = False,
) -> Any:
    """One row of `Settings`: its default (`dataclasses.MISSING`: required), CLI group and help, and when needed:

    `choices` the string values allowed (a `Literal` type gives them too);
    `min`/`max` inclusive numeric bounds; `cli` the option's form (derived
    from the type when None); `aliases` more option strings; `metavar`;
    `parser` text to value for the command line (derived from the type when
    None); `default_text` what `--help` says the default is, when the value
    itself would mislead; `unsupported` why asgiws refuses any value but the
    default and `accepts` (see the module docstring); `secret` kept out of
    `repr()`.
    """
    row = Setting(
        group=group,
        help=help,
        choices=tuple(choices),
        min=min,
        max=max,
        cli=cli,
        aliases=tuple(aliases),
        metavar=metavar,
        parser=parser,
        default_text=default_text,
        unsupported=unsupported,
        accepts=(default, *accepts),
    )
    return dataclasses.field(default=default, repr=not secret, metadata={"setting": row})


def parse_boolean(text: str) -> bool:
    """uvicorn's BOOLEAN option values: true/false, 1/0, yes/no, on/off."""
    lowered = text.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"{text!r} is not a boolean")


def parse_header(text: str) -> tuple[str, str]:
    """A ``NAME:VALUE`` default response header."""
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise ValueError(f"{text!r} is not NAME:VALUE")
    return name.strip(), value.strip()


@dataclasses.dataclass(eq=False)
class Settings:
    """Every server setting with its default; see the module docstring. `asgiws.Config` is this table."""

    # -- server --
    app: Any = setting(
        dataclasses.MISSING,
        Group.SERVER,
        'the ASGI application, as "module:attribute"',
        cli="positional",
        metavar="APP",
    )
    host: str = setting("127.0.0.1", Group.SERVER, "bind the socket to this host")
    port: int = setting(8000, Group.SERVER, "bind the socket to this port (0: any free port)", min=0, max=65535)
    _: dataclasses.KW_ONLY
    uds: str | None = setting(None, Group.SERVER, "bind to this unix domain socket path")
    fd: int | None = setting(None, Group.SERVER, "serve on this already bound socket file descriptor", min=0)
    backlog: int = setting(2048, Group.SERVER, "listen() backlog", min=0)
    loop: LoopName = setting("auto", Group.SERVER, "event loop (auto: uvloop if installed)")
    lifespan: LifespanMode = setting(
        "auto", Group.SERVER, "run the ASGI lifespan protocol (auto: if the app supports it)"
    )
    interface: Interface = setting("auto", Group.SERVER, "the application interface")
    factory: bool = setting(False, Group.SERVER, "APP is a factory: call it to get the application")
    app_dir: str | None = setting(
        None, Group.SERVER, "directory put first on sys.path to import APP", default_text="the current directory"
    )
    root_path: str = setting("", Group.SERVER, "the path prefix the app is mounted under behind a proxy")
    limit_concurrency: int | None = setting(
        None, Group.SERVER, "connections+tasks before answering 503 (none: no limit)", min=1
    )
    timeout_graceful_shutdown: float | None = setting(
        30, Group.SERVER, "seconds to let connections finish at shutdown (none: forever)", min=0
    )
    env_file: str | os.PathLike[str] | None = setting(
        None, Group.SERVER, "load environment variables from this .env file (python-dotenv) before loading the app"
    )
    reset_contextvars: bool = setting(
        False,
        Group.SERVER,
        "uvicorn's fresh context per request (refused)",
        unsupported="asgiws runs each request in a copy of the server's context",
    )

    # -- HTTP --
    http: Any = setting(
        "auto",
        Group.HTTP,
        "uvicorn's HTTP implementations: asgiws serves each name with its own HTTP/1.1",
        choices=("auto", "h11", "httptools"),
    )
    http2: bool = setting(
        False, Group.HTTP, "uvicorn's HTTP/2 (refused)", unsupported="asgiws serves HTTP/1.1 only"
    )
    limit_request_line: int = setting(
        limits.MAX_REQUEST_LINE, Group.HTTP, "longest request line, in bytes (414 beyond)", min=1
    )
    limit_request_header_block: int = setting(
        limits.MAX_HEADER_BLOCK, Group.HTTP, "largest request head, in bytes (431 beyond)", min=1
    )
    limit_request_headers: int = setting(limits.MAX_HEADERS, Group.HTTP, "most header fields (431 beyond)", min=0)
    limit_request_body: int | None = setting(
        None, Group.HTTP, "largest request body, in bytes (413 beyond; none: no limit)", min=0
    )
    h11_max_incomplete_event_size: int | None = setting(
        None,
        Group.HTTP,
        "uvicorn's name for --limit-request-header-block; overrides it when given",
        min=1,
    )
    timeout_keep_alive: float = setting(5, Group.HTTP, "seconds an idle keep-alive connection is kept", min=0)
    timeout_request_head: float | None = setting(
        10,
        Group.HTTP,
        "seconds to receive a full request head, from connection or previous response (none: forever)",
        min=0,
    )
    timeout_request_body: float | None = setting(
        30,
        Group.HTTP,
        "seconds without a byte of the request body while the app waits for it (408; none: forever)",
        min=0,
    )
    proxy_headers: bool = setting(True, Group.HTTP, "trust X-Forwarded-For/-Proto from --forwarded-allow-ips")
    forwarded_allow_ips: list[str] | str | None = setting(
        None,
        Group.HTTP,
        'comma-separated proxy IPs/networks to trust, or "*"',
        default_text="$FORWARDED_ALLOW_IPS or 127.0.0.1",
    )
    server_header: bool = setting(True, Group.HTTP, "send a Server header")
    date_header: bool = setting(True, Group.HTTP, "send a Date header")
    headers: Sequence[tuple[str, str]] | None = setting(
        None,
        Group.HTTP,
        "a default response header (repeatable)",
        cli="append",
        aliases=("--header",),
        metavar="NAME:VALUE",
        parser=parse_header,
    )

    # -- WebSocket --
    ws: Any = setting(
        "auto",
        Group.WEBSOCKET,
        "WebSocket support (none: upgrades are plain HTTP; uvicorn's implementation names mean auto)",
        choices=("auto", "none", "websockets", "websockets-sansio", "wsproto"),
    )
    ws_max_size: int | None = setting(
        limits.MAX_MESSAGE_SIZE, Group.WEBSOCKET, "largest message, in bytes (1009 beyond; none: no limit)", min=0
    )
    ws_max_queue: int | None = setting(
        limits.MAX_QUEUE, Group.WEBSOCKET, "received messages queued before reading pauses (none: no limit)", min=1
    )
    ws_ping_interval: float | None = setting(
        limits.PING_INTERVAL, Group.WEBSOCKET, "seconds between keep-alive pings (none: no pings)", min=0
    )
    ws_ping_timeout: float | None = setting(
        limits.PING_TIMEOUT,
        Group.WEBSOCKET,
        "seconds to wait for a pong before closing with 1011 (none: forever)",
        min=0,
    )
    ws_close_timeout: float | None = setting(
        limits.CLOSE_TIMEOUT, Group.WEBSOCKET, "seconds to wait for the closing handshake (none: forever)", min=0
    )
    ws_origins: list[str | None] | str | None = setting(
        None,
        Group.WEBSOCKET,
        'comma-separated origins that may open a WebSocket, e.g. "https://a.example" '
        "(a handshake with any other Origin, or none, gets 403)",
        metavar="ORIGINS",
        default_text="none: no check",
    )
    ws_per_message_deflate: bool = setting(
        True,
        Group.WEBSOCKET,
        "negotiate permessage-deflate compression (true/false, as uvicorn's)",
        cli="boolean",
        metavar="BOOLEAN",
    )

    # -- TLS --
    ssl_keyfile: str | os.PathLike[str] | None = setting(None, Group.TLS, "TLS private key file")
    ssl_certfile: str | os.PathLike[str] | None = setting(None, Group.TLS, "TLS certificate (chain) file")
    ssl_keyfile_password: str | None = setting(None, Group.TLS, "password of the TLS private key", secret=True)
    ssl_version: int = setting(ssl.PROTOCOL_TLS_SERVER, Group.TLS, "TLS protocol (an ssl.PROTOCOL_* number)")
    ssl_cert_reqs: int = setting(ssl.CERT_NONE, Group.TLS, "client certificate requirement (an ssl.CERT_* number)")
    ssl_ca_certs: str | os.PathLike[str] | None = setting(
        None, Group.TLS, "CA certificates file for client certificates"
    )
    ssl_ciphers: str | None = setting("TLSv1", Group.TLS, "TLS ciphers (OpenSSL syntax)")
    ssl_context_factory: Callable[..., ssl.SSLContext] | None = setting(
        None,
        Group.TLS,
        "factory(config, default_factory) -> ssl.SSLContext, to build the TLS context yourself",
        cli="none",
    )

    # -- processes --
    workers: int | None = setting(
        None, Group.PROCESSES, "number of worker processes", min=1, default_text="$WEB_CONCURRENCY or 1"
    )
    limit_max_requests: int | None = setting(
        None,
        Group.PROCESSES,
        "requests to serve before exiting; a supervised worker is replaced (none: no limit)",
        min=1,
    )
    limit_max_requests_jitter: int = setting(
        0,
        Group.PROCESSES,
        "up to this many more requests, drawn per process, so that workers do not all restart at once",
        min=0,
    )
    timeout_worker_healthcheck: float = setting(
        5,
        Group.PROCESSES,
        "seconds a worker's event loop has to answer the supervisor's health check before it is killed and replaced",
        min=0.01,
    )
    timeout_notify: float = setting(
        30,
        Group.PROCESSES,
        "seconds a new worker has to start serving before it is killed; how often callback_notify is called",
        min=0.01,
    )
    callback_notify: Callable[[], Awaitable[None]] | None = setting(
        None, Group.PROCESSES, "awaited every timeout_notify seconds while serving (gunicorn's heartbeat)", cli="none"
    )
    reload: bool = setting(
        False,
        Group.PROCESSES,
        "restart the server when a watched file changes; open WebSockets close with 1012 (needs watchfiles)",
    )
    reload_dirs: list[str] | str | None = setting(
        None,
        Group.PROCESSES,
        "a directory to watch for --reload (repeatable)",
        cli="append",
        aliases=("--reload-dir",),
        metavar="PATH",
        default_text="the current directory",
    )
    reload_includes: list[str] | str | None = setting(
        None,
        Group.PROCESSES,
        "a glob of files whose change reloads, besides *.py (repeatable)",
        cli="append",
        aliases=("--reload-include",),
        metavar="GLOB",
    )
    reload_excludes: list[str] | str | None = setting(
        None,
        Group.PROCESSES,
        "a glob or directory whose changes never reload, besides .*, .py[cod], .sw.* and ~* (repeatable)",
        cli="append",
        aliases=("--reload-exclude",),
        metavar="GLOB",
    )
    reload_delay: float = setting(
        0.25, Group.PROCESSES, "seconds to wait after a change for more before restarting, once", min=0
    )

    # -- logging --
    log_config: dict[str, Any] | str | None = setting(
        "default", Group.LOGGING, 'logging config file (.json or .ini); "default" is asgiws\'s own'
    )
    log_level: str | int | None = setting(
        None,
        Group.LOGGING,
        "log level (debug: also a line when a connection opens, is upgraded or closes, and why; "
        "trace: also every ASGI message)",
        choices=tuple(LOG_LEVELS),
        default_text="info",
    )
    access_log: bool = setting(
        True, Group.LOGGING, "log one line per HTTP request and two per WebSocket (its handshake and its close)"
    )
    use_colors: bool | None = setting(
        None,
        Group.LOGGING,
        "colour the level names and status codes of the default log format",
        default_text="auto: on a terminal",
    )
    metrics_port: int | None = setting(
        None,
        Group.LOGGING,
        "serve Prometheus metrics at http://127.0.0.1:PORT/metrics, for all workers together "
        "(0: any free port, logged; needs the metrics extra: pip install 'asgiws[metrics]')",
        min=0,
        max=65535,
        metavar="PORT",
    )

    def __post_init__(self) -> None:
        """Check every row's value: InvalidSetting (UnsupportedSetting) naming the first wrong one."""
        for row in ROWS:
            row.check(getattr(self, row.name))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Row(Setting):
    """One row of `Settings`, resolved: its `Setting`, plus the field's name, type (`hint`) and default.

    `classes` are what a value may be an instance of (None: anything),
    `nullable` whether it may be None; `choices` includes a `Literal`'s
    values and `cli` is never None.
    """

    name: str
    hint: Any
    default: Any
    classes: tuple[type, ...] | None
    nullable: bool

    @property
    def option(self) -> str:
        """The option string: ``--ws-max-size`` for ws_max_size."""
        return "--" + self.name.replace("_", "-")

    @property
    def numeric(self) -> bool:
        """True for int and float rows (and their `| None`)."""
        classes = self.classes or ()
        return str not in classes and (int in classes or float in classes)

    @property
    def help_default(self) -> str | None:
        """The default as `--help` shows it (None: no default to show)."""
        if self.default_text is not None:
            return self.default_text
        if self.default is dataclasses.MISSING:
            return None
        return format_value(self.default)

    def check(self, value: Any) -> None:
        """Raise InvalidSetting unless `value` has the row's type, choices and bounds, and is supported."""
        if self.unsupported is not None:
            if not any(value is accepted or value == accepted for accepted in self.accepts):
                raise UnsupportedSetting(self.name, f"is not supported: {self.unsupported}")
            return
        if value is None:
            if not self.nullable:
                raise InvalidSetting(self.name, "may not be None")
            return
        classes = self.classes
        if classes is not None and (
            not isinstance(value, classes) or (isinstance(value, bool) and bool not in classes)
        ):
            raise InvalidSetting(self.name, f"must be {self.describe_type()}, got {value!r}")
        if self.choices and isinstance(value, str) and value not in self.choices:
            raise InvalidSetting(self.name, f"must be one of {', '.join(self.choices)}, got {value!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if self.min is not None and value < self.min:
                raise InvalidSetting(self.name, f"must be at least {self.min:g}, got {value!r}")
            if self.max is not None and value > self.max:
                raise InvalidSetting(self.name, f"must be at most {self.max:g}, got {value!r}")

    def describe_type(self) -> str:
        """The row's type in words, for error messages: "an integer or None"."""
        classes = [cls for cls in self.classes or () if not (cls is int and float in (self.classes or ()))]
        names = [_CLASS_NAMES.get(cls, cls.__name__) for cls in classes]
        if self.nullable:
            names.append("None")
        return " or ".join(names)

    def parse(self, text: str) -> Any:
        """The value of command-line `text` for this row; ValueError (InvalidSetting) when invalid."""
        classes = self.classes or ()
        value: Any
        if self.parser is not None:
            value = self.parser(text)
        elif self.numeric and self.nullable and text.lower() in NONE_TEXTS:
            value = None
        elif bool in classes:
            value = parse_boolean(text)
        elif self.numeric:
            try:
                value = int(text) if int in classes and float not in classes else float(text)
            except ValueError:
                raise InvalidSetting(self.name, f"must be {self.describe_type()}, got {text!r}") from None
        else:
            value = text
        if self.cli != "append":
            self.check(value)
        return value


_CLASS_NAMES: dict[type, str] = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "True or False",
    dict: "a dict",
    list: "a list",
    os.PathLike: "a path",
}


def format_value(value: Any) -> str:
    """A setting's value as the command line spells it: none, true, 16777216, 20, auto."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))  # also ssl's IntEnums
    if isinstance(value, float):
        return f"{value:g}"
    if value == "":
        return '""'
    return str(value)


def _resolve(field: dataclasses.Field[Any], hint: Any) -> Row:
    """The `Row` of a `Settings` field: its `Setting` and what its type allows."""
    meta: Setting = field.metadata["setting"]
    members = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    classes: list[type] = []
    nullable = anything = False
    choices = meta.choices
    for member in members:
        origin = typing.get_origin(member)
        if member is type(None):
            nullable = True
        elif member is Any:
            anything = nullable = True
        elif origin is Literal:
            choices = choices or tuple(typing.get_args(member))
            classes.append(str)
        elif origin is not None:
            classes.append(origin)  # list[str] -> list, os.PathLike[str] -> os.PathLike, ...
        else:
            classes.append(member)
            if member is float:
                classes.append(int)
    cli = meta.cli
    if cli is None:
        cli = "flag" if set(classes) == {bool} else "option"
    given = {item.name: getattr(meta, item.name) for item in dataclasses.fields(Setting)}
    return Row(
        **{**given, "choices": choices, "cli": cli},
        name=field.name,
        hint=hint,
        default=field.default,
        classes=None if anything else tuple(classes),
        nullable=nullable,
    )


def _rows() -> tuple[Row, ...]:
    hints = typing.get_type_hints(Settings)
    return tuple(_resolve(field, hints[field.name]) for field in dataclasses.fields(Settings))


#: The table's rows, in order.
ROWS: tuple[Row, ...] = _rows()

#: The rows by name.
BY_NAME: dict[str, Row] = {row.name: row for row in ROWS}

#: uvicorn settings asgiws does not do, with the one value (uvicorn's default) it accepts for each.
UNSUPPORTED_SETTINGS: dict[str, Any] = {row.name: row.default for row in ROWS if row.unsupported is not None}

__all__ = [
    "BY_NAME",
    "ROWS",
    "UNSUPPORTED_SETTINGS",
    "Group",
    "InvalidSetting",
    "Row",
    "Setting",
    "Settings",
    "UnsupportedSetting",
    "format_value",
    "setting",
]
