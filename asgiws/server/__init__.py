"""The asyncio server: Config, Server, the HTTP and WebSocket connection protocols, lifespan, CLI."""

from .config import Config
from .server import Server, run

__all__ = ["Config", "Server", "run"]
