"""`ChangeWatcher`: which file changes restart the server under `--reload`, and watching for them (watchfiles).

The rules follow uvicorn's: the watched directories are `reload_dirs` (the
current directory by default); a changed file counts when its path matches
an include pattern (``*.py`` and `reload_includes`), unless it matches one
of `reload_excludes` or lies under a directory named there, or it matches
a default exclude (``.*``, ``.py[cod]``, ``.sw.*``, ``~*``) and none of
`reload_includes` (so ``--reload-include .env`` works), or it lies under
one of the tool directories watchfiles skips (``.git``, ``__pycache__``,
``node_modules``, ...). A default given as an exclude is no longer
included, and the reverse. Changes are collected until `reload_delay`
seconds pass without one, then reported once.

The supervisor (server/supervisor.py) replaces its workers on each report;
open WebSockets close with 1012 instead of being waited for.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import Config
from .settings import InvalidSetting

logger = logging.getLogger("asgiws.error")

DEFAULT_INCLUDES = ("*.py",)
DEFAULT_EXCLUDES = (".*", ".py[cod]", ".sw.*", "~*")


def _as_list(value: list[str] | str | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


class ChangeWatcher:
    """Watches `config.reload_dirs` in a thread and reports the changes that count; see the module docstring."""

    def __init__(self, config: Config) -> None:
        try:
            import watchfiles
        except ImportError:
            raise InvalidSetting("reload", "needs watchfiles: pip install 'asgiws[standard]'") from None
        self._watchfiles = watchfiles
        self.given_includes = _as_list(config.reload_includes)
        given_excludes = _as_list(config.reload_excludes)
        self.includes = [p for p in DEFAULT_INCLUDES if p not in given_excludes] + self.given_includes
        self.default_excludes = [p for p in DEFAULT_EXCLUDES if p not in self.given_includes]
        self.excludes: list[str] = []
        self.exclude_dirs: list[Path] = []
        for pattern in given_excludes:
            if Path(pattern).is_dir():
                self.exclude_dirs.append(Path(pattern).resolve())
            else:
                self.excludes.append(pattern)
        self.ignored_dir_names = frozenset(watchfiles.DefaultFilter.ignore_dirs)
        self.dirs = [Path(path).resolve() for path in _as_list(config.reload_dirs) or [os.getcwd()]]
        for path in self.dirs:
            if not path.is_dir():
                raise InvalidSetting("reload_dirs", f"is not a directory: {str(path)!r}")
        self.delay = config.reload_delay
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def counts(self, path: Path) -> bool:
        """Whether a change of the file at `path` restarts the server."""
        if not any(path.match(pattern) for pattern in self.includes):
            return False
        if any(path.match(pattern) for pattern in self.excludes):
            return False
        if any(directory in path.parents for directory in self.exclude_dirs):
            return False
        if any(part in self.ignored_dir_names for part in path.parts[:-1]):
            return False
        excluded_by_default = any(path.match(pattern) for pattern in self.default_excludes)
        return not excluded_by_default or any(path.match(pattern) for pattern in self.given_includes)

    def start(self, report: Callable[[list[str]], None]) -> None:
        """Watch in a daemon thread, calling `report(paths)` (from that thread) for each batch of changes."""
        logger.info("Will watch for changes in these directories: %s", [str(path) for path in self.dirs])
        self._thread = threading.Thread(target=self._watch, args=(report,), name="asgiws-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _watch(self, report: Callable[[list[str]], None]) -> None:
        def keep(change: Any, path: str) -> bool:
            return self.counts(Path(path))

        step = max(1, int(self.delay * 1000))
        for changes in self._watchfiles.watch(
            *self.dirs, watch_filter=keep, stop_event=self._stop, step=step, raise_interrupt=False
        ):
            report(sorted(path for _, path in changes))


__all__ = ["DEFAULT_EXCLUDES", "DEFAULT_INCLUDES", "ChangeWatcher"]
