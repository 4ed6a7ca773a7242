"""Trust X-Forwarded-For / X-Forwarded-Proto from known reverse proxies.

When the direct peer is a trusted proxy, the scope's `client` becomes the
first address, walking X-Forwarded-For from the right, that is not itself a
trusted proxy, and `scheme` follows X-Forwarded-Proto (http/https, and
ws/wss for WebSocket scopes). Requests from anyone else are left untouched:
otherwise any client could claim any address.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..types import ASGIApp, Receive, Scope, Send


class TrustedHosts:
    """A set of trusted proxy addresses: "*", IPs, CIDR networks, or literal names (unix sockets)."""

    def __init__(self, trusted_hosts: list[str] | str) -> None:
        if isinstance(trusted_hosts, str):
            trusted_hosts = [item.strip() for item in trusted_hosts.split(",")]
        self.always = "*" in trusted_hosts
        self.addresses: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.literals: set[str] = set()
        for host in trusted_hosts:
            if not host or host == "*":
                continue
            try:
                if "/" in host:
                    self.networks.append(ipaddress.ip_network(host, strict=False))
                else:
                    self.addresses.add(ipaddress.ip_address(host))
            except ValueError:
                self.literals.add(host)

    def __contains__(self, host: str | None) -> bool:
        if self.always:
            return True
        if not host:
            return False
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return host in self.literals
        return ip in self.addresses or any(ip in network for network in self.networks)

    def client_host(self, x_forwarded_for: str) -> str | None:
        """The rightmost address that is not a trusted proxy (the leftmost if all are)."""
        hosts = [item.strip() for item in x_forwarded_for.split(",") if item.strip()]
        if not hosts:
            return None
        if self.always:
            return hosts[0]
        for host in reversed(hosts):
            if host not in self:
                return host
        return hosts[0]


class ProxyHeadersMiddleware:
    """ASGI middleware applying X-Forwarded-* headers from trusted proxies to the scope."""

    def __init__(self, app: ASGIApp, trusted_hosts: list[str] | str = "127.0.0.1") -> None:
        self.app = app
        self.trusted = TrustedHosts(trusted_hosts)
        self._cache: dict[str | None, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            proto = forwarded_for = None
            for name, value in scope["headers"]:
                if name == b"x-forwarded-proto":
                    proto = value
                elif name == b"x-forwarded-for":
                    forwarded_for = value
            if (proto is not None or forwarded_for is not None) and self._trusted(scope.get("client")):
                if proto is not None:
                    scheme = proto.decode("latin-1").strip().lower()
                    if scheme in ("http", "https", "ws", "wss"):
                        if scope["type"] == "websocket":
                            scheme = "wss" if scheme in ("https", "wss") else "ws"
                        else:
                            scheme = "https" if scheme in ("https", "wss") else "http"
                        scope["scheme"] = scheme
                if forwarded_for is not None:
                    host = self.trusted.client_host(forwarded_for.decode("latin-1"))
                    if host:
                        scope["client"] = (host, 0)
        return await self.app(scope, receive, send)

    def _trusted(self, client: Any) -> bool:
        """Whether the direct peer is a trusted proxy; answers are cached per address."""
        host = client[0] if client else None
        trusted = self._cache.get(host)
        if trusted is None:
            trusted = host in self.trusted
            if len(self._cache) < 1024:
                self._cache[host] = trusted
        return trusted
