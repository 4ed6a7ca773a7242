"""SIGINT and SIGTERM while serving: the one handler the server, `serve()` and the workers' supervisor share.

`ShutdownSignals(callback)` routes both signals to `callback(sig)` from
`install()` (or entering its ``with`` block) to `restore()` (or leaving
it), then puts the previous handlers back. Python runs signal handlers in
the main thread only, so elsewhere it does nothing and whoever runs a server
in a thread stops it with `should_exit`. With `loop`, the callback runs in
that event loop (`call_soon_threadsafe`), which also wakes a loop sleeping
in `select()`. What a first or a second signal means is the callback's
business (`Server.handle_exit`: graceful, then forced). Whoever handles
more signals passes them (`signals=`): the supervisor adds SIGHUP (rolling
restart) and SIGTTIN/SIGTTOU (one worker more or less), the gunicorn worker
SIGQUIT (quick exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

#: The signals that stop a server.
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ShutdownSignals:
    """Routes SIGINT and SIGTERM (or `signals`) to `callback(sig)` while installed; see the module docstring."""

    def __init__(
        self,
        callback: Callable[[int], None],
        loop: asyncio.AbstractEventLoop | None = None,
        signals: tuple[int, ...] = HANDLED_SIGNALS,
    ) -> None:
        self.callback = callback
        self.loop = loop
        self.signals = signals
        #: The handlers replaced by install(), by signal, for a callback that passes a signal on.
        self.previous: dict[int, Any] = {}

    def install(self) -> bool:
        """Take over the signals (SIGINT and SIGTERM); False (nothing done) outside the main thread."""
        if threading.current_thread() is not threading.main_thread():
            return False
        for sig in self.signals:
            with contextlib.suppress(ValueError, OSError):  # a signal this platform cannot catch
                self.previous[sig] = signal.signal(sig, self._handle)
        return True

    def restore(self) -> None:
        """Put back the handlers install() replaced (idempotent)."""
        previous, self.previous = self.previous, {}
        for sig, handler in previous.items():
            if handler is not None:  # None: installed from C, cannot be put back from Python
                signal.signal(sig, handler)

    def _handle(self, sig: int, frame: FrameType | None) -> None:
        if self.loop is None:
            self.callback(sig)
        else:
            self.loop.call_soon_threadsafe(self.callback, sig)

    def __enter__(self) -> ShutdownSignals:
        self.install()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.restore()


__all__ = ["HANDLED_SIGNALS", "ShutdownSignals"]
