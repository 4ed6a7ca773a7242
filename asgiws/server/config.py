"""`Config`: every server setting, with its default, in one place.

Names follow uvicorn 0.54 where the two overlap, so a `uvicorn.Config(...)`
call runs unchanged as `asgiws.Config(...)`; the settings uvicorn lacks
(close and request-head timeouts, HTTP head limits) are ours. "No limit" is
always an explicit `None`.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import ssl
import sys
from typing import Any, Callable, Literal

from asgiref.compatibility import double_to_single_callable

from .logs import configure_logging

logger = logging.getLogger("asgiws.error")

#: What `lifespan=` accepts: run it if the app supports it, always, never.
LifespanMode = Literal["auto", "on", "off"]


class AppLoadError(Exception):
    """The `module:attr` application string could not be imported."""


def import_from_string(import_str: str) -> Any:
    """Import `module:attr` (attr may be dotted) and return the object."""
    module_str, _, attrs_str = import_str.partition(":")
    if not module_str or not attrs_str:
        raise AppLoadError(f'Import string "{import_str}" must be in format "<module>:<attribute>".')
    try:
        module = importlib.import_module(module_str)
    except ModuleNotFoundError as exc:
        if exc.name != module_str and not module_str.startswith(f"{exc.name}."):
            raise  # the module exists but one of its own imports is missing
        raise AppLoadError(f'Could not import module "{module_str}".') from None
    instance: Any = module
    try:
        for attr in attrs_str.split("."):
            instance = getattr(instance, attr)
    except AttributeError:
        raise AppLoadError(f'Attribute "{attrs_str}" not found in module "{module_str}".') from None
    return instance


def is_asgi3(app: Any) -> bool:
    """Whether `interface="auto"` runs `app` as ASGI 3, ``app(scope, receive, send)``; else ASGI 2.

    uvicorn's rule: a class is ASGI 3 when its instances are awaitable
    (``await App(scope, receive, send)``), ASGI 2 otherwise (``App(scope)``
    makes the instance to call); a coroutine function (or a method or partial
    of one) is ASGI 3; any other callable is when its `__call__` is a
    coroutine function.
    """
    if inspect.isclass(app):
        return hasattr(app, "__await__")
    return inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(getattr(app, "__call__", None))


#: uvicorn.Config keywords asgiws accepts so that uvicorn calls run unchanged,
#: with their uvicorn defaults; any other value is ignored with a warning.
UVICORN_ONLY_SETTINGS: dict[str, Any] = {
    "http2": False,
    "env_file": None,
    "reload": False,
    "reload_dirs": None,
    "reload_delay": 0.25,
    "reload_includes": None,
    "reload_excludes": None,
    "limit_max_requests_jitter": 0,
    "timeout_worker_healthcheck": 5,
    "callback_notify": None,
    "ssl_context_factory": None,
    "reset_contextvars": False,
}


class Config:
    """All the settings of a `Server`; `load()` resolves the app and TLS context.

    Network: `host`, `port`, or a unix socket path `uds`, or an inherited
    file descriptor `fd`; `backlog` for listen(). `loop` is "auto" (uvloop
    when installed), "asyncio" or "uvloop". `http` is accepted for
    compatibility and ignored (there is one HTTP/1.1 implementation); `ws`
    is "auto" or "none" (WebSocket upgrades answered as plain HTTP).

    WebSocket: `ws_max_size` bytes per message (16 MiB), `ws_max_queue`
    received messages before reading pauses (32), `ws_ping_interval` and
    `ws_ping_timeout` seconds (20/20; None disables), `ws_close_timeout`
    seconds to wait for the closing handshake (10), `ws_per_message_deflate`.

    HTTP limits: `limit_request_line` (8 KiB), `limit_request_header_block`
    (64 KiB), `limit_request_headers` (128), `limit_request_body` (None).
    `h11_max_incomplete_event_size` is uvicorn's name for the header block
    limit and overrides it when given.

    Timeouts, seconds: `timeout_keep_alive` (5) between requests,
    `timeout_request_head` (10) to receive a full request head, counted from
    the connection or the end of the previous response (slowloris),
    `timeout_graceful_shutdown` (30) before remaining connections are
    cancelled (None waits forever).

    Load: `limit_concurrency` connections+tasks before answering 503,
    `limit_max_requests` before the server exits, `workers` processes.

    Logging: `log_level` ("trace", "debug", "info", ...), `log_config` (a
    dict for logging.config.dictConfig, a file path, or None to leave
    logging alone), `access_log`, `use_colors` (accepted, unused).

    Headers: `server_header`, `date_header`, extra default response
    `headers` as (name, value) pairs; `proxy_headers` trusts
    X-Forwarded-For/-Proto from `forwarded_allow_ips` (default: the
    FORWARDED_ALLOW_IPS variable or "127.0.0.1"); `root_path` for apps
    mounted below a prefix.

    App: `app` is an ASGI app or a "module:attr" string; `factory` calls it
    to get the app; `app_dir` is put first on sys.path; `interface` is
    "auto", "asgi3" or "asgi2"; `lifespan` is "auto", "on" or "off".

    TLS: `ssl_certfile`, `ssl_keyfile`, `ssl_keyfile_password`,
    `ssl_version`, `ssl_cert_reqs`, `ssl_ca_certs`, `ssl_ciphers`.

    uvicorn's other keywords (`reload`, `env_file`, `http2`, ... see
    UVICORN_ONLY_SETTINGS) are accepted and ignored, with a warning when
    given a value other than uvicorn's default; unknown ones are a TypeError.
    """

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 8000,
        uds: str | None = None,
        fd: int | None = None,
        loop: str = "auto",
        http: Any = "auto",
        ws: Any = "auto",
        ws_max_size: int | None = 16 * 1024 * 1024,
        ws_max_queue: int | None = 32,
        ws_ping_interval: float | None = 20.0,
        ws_ping_timeout: float | None = 20.0,
        ws_close_timeout: float | None = 10.0,
        ws_per_message_deflate: bool = True,
        lifespan: LifespanMode = "auto",
        log_config: dict[str, Any] | str | None = "default",
        log_level: str | int | None = None,
        access_log: bool = True,
        use_colors: bool | None = None,
        interface: str = "auto",
        workers: int | None = None,
        proxy_headers: bool = True,
        server_header: bool = True,
        date_header: bool = True,
        forwarded_allow_ips: list[str] | str | None = None,
        root_path: str = "",
        limit_concurrency: int | None = None,
        limit_max_requests: int | None = None,
        backlog: int = 2048,
        timeout_keep_alive: float = 5,
        timeout_request_head: float | None = 10,
        timeout_graceful_shutdown: float | None = 30,
        timeout_notify: float = 30,
        limit_request_line: int = 8192,
        limit_request_header_block: int = 65536,
        limit_request_headers: int = 128,
        limit_request_body: int | None = None,
        h11_max_incomplete_event_size: int | None = None,
        ssl_keyfile: str | os.PathLike[str] | None = None,
        ssl_certfile: str | os.PathLike[str] | None = None,
        ssl_keyfile_password: str | None = None,
        ssl_version: int = ssl.PROTOCOL_TLS_SERVER,
        ssl_cert_reqs: int = ssl.CERT_NONE,
        ssl_ca_certs: str | os.PathLike[str] | None = None,
        ssl_ciphers: str | None = "TLSv1",
        headers: list[tuple[str, str]] | None = None,
        factory: bool = False,
        app_dir: str | None = None,
        **uvicorn_only: Any,
    ) -> None:
        for name, value in uvicorn_only.items():
            if name not in UVICORN_ONLY_SETTINGS:
                raise TypeError(f"Config() got an unexpected keyword argument {name!r}")
            if value != UVICORN_ONLY_SETTINGS[name]:
                logger.warning("The uvicorn setting %s=%r is not supported by asgiws and is ignored.", name, value)
        self.app = app
        self.host = host
        self.port = port
        self.uds = uds
        self.fd = fd
        self.loop = loop
        self.http = http
        self.ws = ws
        self.ws_max_size = ws_max_size
        self.ws_max_queue = ws_max_queue
        self.ws_ping_interval = ws_ping_interval
        self.ws_ping_timeout = ws_ping_timeout
        self.ws_close_timeout = ws_close_timeout
        self.ws_per_message_deflate = ws_per_message_deflate
        self.lifespan = lifespan
        self.log_config = log_config
        self.log_level = log_level
        self.access_log = access_log
        self.use_colors = use_colors
        self.interface = interface
        self.workers = workers or 1
        self.proxy_headers = proxy_headers
        self.server_header = server_header
        self.date_header = date_header
        if forwarded_allow_ips is None:
            forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
        self.forwarded_allow_ips = forwarded_allow_ips
        self.root_path = root_path
        self.limit_concurrency = limit_concurrency
        self.limit_max_requests = limit_max_requests
        self.backlog = backlog
        self.timeout_keep_alive = timeout_keep_alive
        self.timeout_request_head = timeout_request_head
        self.timeout_graceful_shutdown = timeout_graceful_shutdown
        self.timeout_notify = timeout_notify
        self.limit_request_line = limit_request_line
        self.limit_request_header_block = (
            h11_max_incomplete_event_size if h11_max_incomplete_event_size is not None else limit_request_header_block
        )
        self.limit_request_headers = limit_request_headers
        self.limit_request_body = limit_request_body
        self.ssl_keyfile = ssl_keyfile
        self.ssl_certfile = ssl_certfile
        self.ssl_keyfile_password = ssl_keyfile_password
        self.ssl_version = ssl_version
        self.ssl_cert_reqs = ssl_cert_reqs
        self.ssl_ca_certs = ssl_ca_certs
        self.ssl_ciphers = ssl_ciphers
        self.headers: list[tuple[str, str]] = list(headers or [])
        self.factory = factory
        self.app_dir = app_dir

        self.loaded = False
        self.loaded_app: Any = None
        self.ssl: ssl.SSLContext | None = None
        self.encoded_headers: list[tuple[bytes, bytes]] = []
        configure_logging(log_config, log_level, access_log)

    @property
    def is_ssl(self) -> bool:
        return bool(self.ssl_keyfile or self.ssl_certfile)

    @property
    def scheme(self) -> str:
        """"https" when TLS is configured, else "http" (ws/wss for WebSocket scopes)."""
        return "https" if self.is_ssl else "http"

    @property
    def ws_enabled(self) -> bool:
        """False when `ws="none"`: upgrade requests are then plain HTTP."""
        return self.ws not in ("none", None, False)

    def load(self) -> None:
        """Resolve the app (import, factory, ASGI2 wrap, proxy headers), TLS and headers.

        Raises AppLoadError when the app cannot be imported or built.
        """
        if self.loaded:
            return
        if self.is_ssl:
            self.ssl = self.create_ssl_context()
        self.encoded_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers]

        if self.app_dir is not None:
            sys.path.insert(0, self.app_dir)
        app = self.app
        if isinstance(app, str):
            app = import_from_string(app)
        if self.factory:
            if not callable(app):
                raise AppLoadError("The app factory is not callable.")
            try:
                app = app()
            except TypeError as exc:
                raise AppLoadError(f"Error calling the app factory: {exc}") from exc
        if not callable(app):
            raise AppLoadError("The app is not callable.")
        interface = self.interface
        if interface == "auto":
            interface = "asgi3" if is_asgi3(app) else "asgi2"
        if interface == "asgi2":
            app = double_to_single_callable(app)
        if self.proxy_headers:
            from .proxy_headers import ProxyHeadersMiddleware

            app = ProxyHeadersMiddleware(app, trusted_hosts=self.forwarded_allow_ips)
        self.loaded_app = app
        self.loaded = True

    def create_ssl_context(self) -> ssl.SSLContext:
        """A server-side SSLContext from the ssl_* settings."""
        context = ssl.SSLContext(self.ssl_version)
        password: Callable[[], str] | None = None
        if self.ssl_keyfile_password:
            secret = self.ssl_keyfile_password
            password = lambda: secret  # noqa: E731
        assert self.ssl_certfile is not None, "ssl_certfile is required for TLS"
        context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile, password)
        context.verify_mode = ssl.VerifyMode(self.ssl_cert_reqs)
        if self.ssl_ca_certs:
            context.load_verify_locations(self.ssl_ca_certs)
        if self.ssl_ciphers:
            context.set_ciphers(self.ssl_ciphers)
        return context
