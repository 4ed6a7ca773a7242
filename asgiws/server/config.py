"""`Config`: every server setting (the table of settings.py), and the app and TLS context they load.

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
import re
import ssl
import sys
from collections.abc import Callable
from typing import Any

from asgiref.compatibility import double_to_single_callable

from ..protocol.grammar import FIELD_VALUE_RE, ORIGIN, TOKEN_RE
from .errors import AppLoadError
from .logs import configure_logging
from .message_log import MessageLog, tracing
from .settings import UNSUPPORTED_SETTINGS, InvalidSetting, LifespanMode, Settings, UnsupportedSetting

__all__ = [
    "UNSUPPORTED_SETTINGS",
    "AppLoadError",
    "Config",
    "InvalidSetting",
    "LifespanMode",
    "UnsupportedSetting",
    "import_from_string",
    "load_env_file",
]

logger = logging.getLogger("asgiws.error")


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


def _is_header_field(name: str, value: str) -> bool:
    """Whether a configured default header can be sent as it is: a token, and a field value (RFC 9110 section 5)."""
    try:
        return TOKEN_RE.fullmatch(name.encode("latin-1")) is not None and (
            FIELD_VALUE_RE.fullmatch(value.encode("latin-1")) is not None
        )
    except (AttributeError, UnicodeEncodeError):
        return False


def _origins(value: list[str | None] | str | None) -> list[str | None] | None:
    """`ws_origins` as a list (a string is comma-separated); InvalidSetting for a value that is no origin."""
    if value is None:
        return None
    origins: list[str | None] = [item.strip() for item in value.split(",")] if isinstance(value, str) else list(value)
    for origin in origins:
        if origin is not None and (not isinstance(origin, str) or re.fullmatch(ORIGIN, origin) is None):
            raise InvalidSetting(
                "ws_origins", f"holds {origin!r}, which is not an origin such as 'https://a.example' (no path)"
            )
    return origins


class Config(Settings):
    """All the settings of a `Server`; `load()` resolves the app and TLS context.

    ``Config(app, host="127.0.0.1", port=8000, **settings)``: `app` is an
    ASGI app or a "module:attr" string, and every other keyword is a row of
    the settings table (`asgiws.server.settings.Settings`, also listed by
    ``asgiws --help``) with its default. A value of the wrong type or out of
    bounds raises `InvalidSetting`, a ValueError naming the setting; the
    uvicorn keywords asgiws does not do (`http2`, ... see
    UNSUPPORTED_SETTINGS) are accepted with uvicorn's default and raise
    `UnsupportedSetting` (an InvalidSetting) with any other value; unknown
    keywords are a TypeError.

    `env_file` is loaded into the environment first (python-dotenv; a
    variable already set wins, as with uvicorn), so that what follows and
    the app see it. Beside the settings as given: `workers` defaults to the
    WEB_CONCURRENCY variable or 1, `forwarded_allow_ips` to the
    FORWARDED_ALLOW_IPS variable or "127.0.0.1",
    `h11_max_incomplete_event_size` (uvicorn's name) overrides
    `limit_request_header_block` when given, and `ws_origins` given as one
    comma-separated string is a list. Each of `ws_origins` must be an origin
    as browsers send it (``https://a.example``, a port when not the scheme's
    default, no path), "null", or None (no Origin header); each of
    `headers` a valid header field: else `InvalidSetting`.
    """

    # What __post_init__ narrows these settings to.
    workers: int
    forwarded_allow_ips: list[str] | str
    headers: list[tuple[str, str]]
    ws_origins: list[str | None] | None

    def __post_init__(self) -> None:
        super().__post_init__()
        configure_logging(self.log_config, self.log_level, self.access_log, self.use_colors)
        if self.env_file is not None:
            load_env_file(self.env_file)
        if self.workers is None and "WEB_CONCURRENCY" in os.environ:
            self.workers = int(os.environ["WEB_CONCURRENCY"])
        self.workers = self.workers or 1
        if self.forwarded_allow_ips is None:
            self.forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
        if self.h11_max_incomplete_event_size is not None:
            self.limit_request_header_block = self.h11_max_incomplete_event_size
        self.headers = list(self.headers or [])
        self.ws_origins = _origins(self.ws_origins)

        for name, value in self.headers:
            if not _is_header_field(name, value):
                raise InvalidSetting("headers", f"holds an invalid header field {name!r}: {value!r}")

        self.loaded = False
        self.loaded_app: Any = None
        self.ssl: ssl.SSLContext | None = None
        self.encoded_headers: list[tuple[bytes, bytes]] = []
        #: `ws_origins` as the handshake compares them (None: no check).
        self.encoded_origins: frozenset[bytes | None] | None = None
        if self.ws_origins is not None:
            self.encoded_origins = frozenset(None if o is None else o.encode("ascii") for o in self.ws_origins)

    @property
    def is_ssl(self) -> bool:
        """Whether TLS is configured: a certificate or key file, or an ssl_context_factory."""
        return bool(self.ssl_keyfile or self.ssl_certfile or self.ssl_context_factory)

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
        if self.ssl_context_factory is not None:
            context = self.ssl_context_factory(self, self.create_ssl_context)
            if not isinstance(context, ssl.SSLContext):
                raise TypeError(f"ssl_context_factory must return an ssl.SSLContext, got {type(context).__name__}")
            self.ssl = context
        elif self.is_ssl:
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
            app = double_to_single_callable(app)  # type: ignore[no-untyped-call]  # asgiref leaves it unannotated
        if tracing():
            app = MessageLog(app)
        if self.proxy_headers:
            from .proxy_headers import ProxyHeadersMiddleware

            app = ProxyHeadersMiddleware(app, trusted_hosts=self.forwarded_allow_ips)
        self.loaded_app = app
        self.loaded = True

    def create_ssl_context(self) -> ssl.SSLContext:
        """A server-side SSLContext from the ssl_* settings (also the default an ssl_context_factory gets)."""
        context = ssl.SSLContext(self.ssl_version)
        password: Callable[[], str] | None = None
        if self.ssl_keyfile_password:
            secret = self.ssl_keyfile_password
            password = lambda: secret  # noqa: E731 (load_cert_chain wants a callable)
        assert self.ssl_certfile is not None, "ssl_certfile is required for TLS"
        context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile, password)
        context.verify_mode = ssl.VerifyMode(self.ssl_cert_reqs)
        if self.ssl_ca_certs:
            context.load_verify_locations(self.ssl_ca_certs)
        if self.ssl_ciphers:
            context.set_ciphers(self.ssl_ciphers)
        return context


def load_env_file(path: str | os.PathLike[str]) -> None:
    """Set the variables of the .env file at `path` that are not set yet; InvalidSetting when it cannot be read."""
    try:
        from dotenv import load_dotenv
    except ImportError:
        raise InvalidSetting("env_file", "needs python-dotenv: pip install 'asgiws[standard]'") from None
    if not os.path.isfile(path):
        raise InvalidSetting("env_file", f"is not a file: {os.fspath(path)!r}")
    logger.info("Loading environment from '%s'", os.fspath(path))
    load_dotenv(dotenv_path=path)
