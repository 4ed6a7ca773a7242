"""The asyncio server: Config, Server, the HTTP and WebSocket connection protocols, lifespan, CLI."""

from .config import Config
from .runner import run
from .server import Server

__all__ = ["Config", "Server", "run"]
