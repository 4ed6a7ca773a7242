"""The ASGI lifespan protocol: run the app's startup and shutdown around serving.

`lifespan="on"` requires the app to support it (startup failure stops the
server with an error exit); `"auto"` tolerates an app that raises on the
lifespan scope before starting (many plain apps only know "http"); `"off"`
never sends a lifespan scope. The `state` dict the app fills in at startup
is copied into every request's scope.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..types import Message
from .config import Config

logger = logging.getLogger("asgiws.error")


class Lifespan:
    """Runs one lifespan app instance and exchanges startup/shutdown messages with it."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.state: dict[str, Any] = {}
        self.startup_failed = False
        self.shutdown_failed = False
        self.should_exit = False
        self._receive_queue: asyncio.Queue[Message] = asyncio.Queue()
        self._startup_event = asyncio.Event()
        self._shutdown_event = asyncio.Event()
        self._error_occurred = False
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        """Send lifespan.startup and wait for the app's answer (or its failure)."""
        logger.info("Waiting for application startup.")
        self._task = asyncio.get_running_loop().create_task(self._main())
        await self._receive_queue.put({"type": "lifespan.startup"})
        await self._startup_event.wait()
        if self.startup_failed or (self._error_occurred and self.config.lifespan == "on"):
            logger.error("Application startup failed. Exiting.")
            self.should_exit = True
        else:
            logger.info("Application startup complete.")

    async def shutdown(self) -> None:
        """Send lifespan.shutdown and wait for the app's answer (or its failure)."""
        if self._error_occurred:
            return
        logger.info("Waiting for application shutdown.")
        await self._receive_queue.put({"type": "lifespan.shutdown"})
        await self._shutdown_event.wait()
        if self.shutdown_failed or (self._error_occurred and self.config.lifespan == "on"):
            logger.error("Application shutdown failed. Exiting.")
            self.should_exit = True
        else:
            logger.info("Application shutdown complete.")

    async def _main(self) -> None:
        app = self.config.loaded_app
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        try:
            await app(scope, self._receive, self._send)
        except BaseException as exc:
            self._error_occurred = True
            if self.startup_failed or self.shutdown_failed:
                return
            if self.config.lifespan == "auto":
                logger.info("ASGI 'lifespan' protocol appears unsupported.")
            else:
                logger.error("Exception in 'lifespan' protocol\n", exc_info=exc)
        finally:
            # Unblock startup() and shutdown() whatever happened.
            self._startup_event.set()
            self._shutdown_event.set()

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self._check(not self._startup_event.is_set() and not self._shutdown_event.is_set(), kind)
            self._startup_event.set()
        elif kind == "lifespan.startup.failed":
            self._check(not self._startup_event.is_set() and not self._shutdown_event.is_set(), kind)
            self.startup_failed = True
            self._startup_event.set()
            if message.get("message"):
                logger.error(message["message"])
        elif kind == "lifespan.shutdown.complete":
            self._check(self._startup_event.is_set() and not self._shutdown_event.is_set(), kind)
            self._shutdown_event.set()
        elif kind == "lifespan.shutdown.failed":
            self._check(self._startup_event.is_set() and not self._shutdown_event.is_set(), kind)
            self.shutdown_failed = True
            self._shutdown_event.set()
            if message.get("message"):
                logger.error(message["message"])
        else:
            raise RuntimeError(f"Unexpected ASGI lifespan message type {kind!r}.")

    @staticmethod
    def _check(in_order: bool, kind: str) -> None:
        if not in_order:
            raise RuntimeError(f"ASGI lifespan message {kind!r} sent out of order.")

    async def _receive(self) -> Message:
        return await self._receive_queue.get()
