"""TLS (https scheme) and unix domain sockets, on asgiws and uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import threading
import time

import httpx
import pytest

from tests.conftest import running_server

trustme = pytest.importorskip("trustme")


async def scope_app(scope, receive, send):
    body = f"{scope['scheme']} {scope['server']!r}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


def certificate(tmp_path) -> tuple[str, str, ssl.SSLContext]:
    """A certificate for 127.0.0.1: its chain and key files, and a client context that trusts it."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    return str(certfile), str(keyfile), client_context


def test_tls_https_scheme(server_kind, tmp_path):
    certfile, keyfile, client_context = certificate(tmp_path)
    with running_server(scope_app, server_kind, ssl_certfile=certfile, ssl_keyfile=keyfile) as (host, port):
        response = httpx.get(f"https://{host}:{port}/", verify=client_context)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"https://{host}:{port}/")  # not trusted by default
    assert response.status_code == 200
    assert response.text.startswith("https ")


def test_ssl_context_factory_builds_the_context(server_kind, tmp_path):
    certfile, keyfile, client_context = certificate(tmp_path)
    calls = []

    def factory(config, default_factory):
        calls.append(config)
        context = default_factory()  # from ssl_certfile/ssl_keyfile, adjusted here
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        return context

    settings = {"ssl_certfile": certfile, "ssl_keyfile": keyfile, "ssl_context_factory": factory}
    with running_server(scope_app, server_kind, **settings) as (host, port):
        response = httpx.get(f"https://{host}:{port}/", verify=client_context)
        client_context.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"https://{host}:{port}/", verify=client_context)
    assert response.text.startswith("https ")
    assert len(calls) == 1 and calls[0].ssl_context_factory is factory


@contextlib.contextmanager
def serving_uds(kind: str, path: str):
    if kind == "uvicorn":
        import uvicorn as module
    else:
        import asgiws as module
    server = module.Server(module.Config(scope_app, uds=path, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, f"{kind} did not start"
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(15)
        assert not thread.is_alive()


def test_unix_socket(server_kind, tmp_path):
    path = str(tmp_path / "server.sock")
    with serving_uds(server_kind, path), httpx.Client(transport=httpx.HTTPTransport(uds=path)) as client:
        response = client.get("http://localhost/")
    assert response.status_code == 200
    assert response.text.startswith("http ")
    if server_kind == "asgiws":
        assert not os.path.exists(path)  # removed at shutdown (uvicorn leaves it behind)
