"""Config: loading "module:attr" apps (factory, app_dir, ASGI 2), TLS, and trusted proxies."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

import asgiws
from asgiws.server.config import AppLoadError
from asgiws.server.proxy_headers import TrustedHosts

MODULE = textwrap.dedent(
    """
    async def app(scope, receive, send):
        pass

    def create_app():
        return app

    class ASGI2App:
        def __init__(self, scope):
            self.scope = scope

        async def __call__(self, receive, send):
            await send({"type": "seen", "path": self.scope["path"]})
    """
)


@pytest.fixture
def app_dir(tmp_path, monkeypatch):
    (tmp_path / "config_app_module.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def unwrap(config: asgiws.Config):
    app = config.loaded_app
    return getattr(app, "app", app)  # the proxy headers middleware wraps it


def test_defaults_follow_design():
    config = asgiws.Config("m:app")
    assert config.host == "127.0.0.1" and config.port == 8000
    assert config.ws_max_size == 16 * 1024 * 1024 and config.ws_max_queue == 32
    assert (config.ws_ping_interval, config.ws_ping_timeout, config.ws_close_timeout) == (20.0, 20.0, 10.0)
    assert config.timeout_keep_alive == 5 and config.timeout_request_head == 10
    assert config.timeout_graceful_shutdown == 30
    assert (config.limit_request_line, config.limit_request_header_block, config.limit_request_headers) == (
        8192,
        65536,
        128,
    )
    assert config.backlog == 2048


def test_load_import_string(app_dir):
    config = asgiws.Config("config_app_module:app", proxy_headers=False)
    config.load()
    import config_app_module

    assert config.loaded_app is config_app_module.app


def test_load_factory(app_dir):
    config = asgiws.Config("config_app_module:create_app", factory=True, proxy_headers=False)
    config.load()
    import config_app_module

    assert config.loaded_app is config_app_module.app


def test_app_dir(tmp_path):
    (tmp_path / "app_dir_module.py").write_text(MODULE)
    config = asgiws.Config("app_dir_module:app", app_dir=str(tmp_path))
    config.load()
    assert unwrap(config).__name__ == "app"


def test_asgi2_class_is_wrapped(app_dir):
    config = asgiws.Config("config_app_module:ASGI2App", proxy_headers=False)
    config.load()
    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {}

    asyncio.run(config.loaded_app({"type": "http", "path": "/x"}, receive, send))
    assert sent == [{"type": "seen", "path": "/x"}]


@pytest.mark.parametrize("target", ["no_module_here:app", "config_app_module:missing", "no_colon"])
def test_load_errors(app_dir, target):
    with pytest.raises(AppLoadError):
        asgiws.Config(target).load()


def test_trusted_hosts():
    trusted = TrustedHosts("127.0.0.1, 10.0.0.0/8, ::1, unix-proxy")
    assert "127.0.0.1" in trusted and "10.1.2.3" in trusted and "::1" in trusted and "unix-proxy" in trusted
    assert "11.0.0.1" not in trusted and None not in trusted
    assert trusted.client_host("1.1.1.1, 10.0.0.2, 127.0.0.1") == "1.1.1.1"
    assert trusted.client_host("6.6.6.6, 1.1.1.1, 10.0.0.2") == "1.1.1.1"  # spoofed entries left of it ignored
    assert TrustedHosts("*").client_host("1.1.1.1, 2.2.2.2") == "1.1.1.1"


def test_uvicorn_keywords_with_uvicorns_defaults_accepted_unknown_rejected():
    asgiws.Config("m:app", reload=False, http2=False, limit_max_requests_jitter=0)
    with pytest.raises(TypeError):
        asgiws.Config("m:app", no_such_setting=1)


def test_workers_default_to_web_concurrency(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert asgiws.Config("m:app").workers == 3
    assert asgiws.Config("m:app", workers=2).workers == 2
    monkeypatch.delenv("WEB_CONCURRENCY")
    assert asgiws.Config("m:app").workers == 1
