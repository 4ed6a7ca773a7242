"""`Supervisor`: keeps `workers` server processes serving one listening socket, for `--workers N` and `--reload`.

The parent binds the socket once and starts each worker (server/workers.py)
on it; the kernel spreads accepted connections over them. Then it watches
them:

* a worker that dies is replaced; one whose event loop does not answer a
  health check within `timeout_worker_healthcheck` seconds (checked every
  half of that) is killed and replaced, as is a new one that has not
  started serving within `timeout_notify` seconds;
* crash loop: a worker that dies less than `CRASH_WINDOW` seconds after it
  was started (or before it served) is restarted after a back-off that
  doubles from `FIRST_BACKOFF`; after `MAX_CRASHES` such deaths in a row in
  one slot the supervisor gives up, stops the others and exits with that
  worker's exit status (1 when it was killed by a signal). A worker that
  cannot start in the first place (bad app, lifespan startup failed) stops
  everything at once, once every first worker has either started or failed;
* SIGHUP replaces the workers one at a time: a new worker is started, and
  only once it serves is the old one asked to stop (its WebSockets close
  with 1012, its requests finish); a new one that fails to start ends the
  restart and the old ones keep serving. `--reload` does the same on a
  change of a watched file (server/reload.py);
* a worker that reached `limit_max_requests` announces it and exits; its
  replacement is started at once; the others are not touched;
* SIGTTIN and SIGTTOU add and remove one worker;
* SIGINT and SIGTERM close the listening socket (new connections are
  refused) and stop every worker gracefully (SIGTERM: WebSockets
  close with 1001, requests finish within `timeout_graceful_shutdown`); a
  worker still running `KILL_GRACE` seconds after that is killed. The exit
  status is then 0.

With `--reload`, a worker that cannot start, or keeps crashing, is retried
at the next change instead of ending the supervisor.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import queue
import signal
import socket
import time
from multiprocessing.connection import wait
from typing import Any

from .config import Config
from .errors import MetricsUnavailable, exit_status
from .metrics import WorkersMetrics
from .reload import ChangeWatcher
from .signals import HANDLED_SIGNALS, ShutdownSignals
from .workers import PONG, READY, RETIRING, Worker

logger = logging.getLogger("asgiws.error")

#: A worker that dies within this many seconds of being started has crashed "right after starting".
CRASH_WINDOW = 5.0
#: Such crashes in a row, in one slot, after which the supervisor gives up.
MAX_CRASHES = 5
#: The first restart delay after such a crash, in seconds; it doubles with each one in a row (0.1, 0.2, 0.4, 0.8).
FIRST_BACKOFF = 0.1
#: Seconds past `timeout_graceful_shutdown` after which a stopping worker is killed.
KILL_GRACE = 5.0
#: The longest the supervisor sleeps between two looks at its workers, in seconds.
TICK = 0.2

#: The signals the supervisor handles: stop, rolling restart, one worker more or less.
SUPERVISOR_SIGNALS = (*HANDLED_SIGNALS, signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU)


@dataclasses.dataclass
class Slot:
    """One of the `workers` places: the worker serving in it, and its crash-loop bookkeeping."""

    worker: Worker | None = None
    #: Deaths right after starting, in a row.
    crashes: int = 0
    #: When to start its next worker (after a crash), None when not waiting.
    respawn_at: float | None = None
    #: Its first worker has not started serving (or failed) yet.
    booting: bool = True


class Supervisor:
    """Runs and watches `config.workers` worker processes on `sockets`; see the module docstring."""

    def __init__(self, config: Config, sockets: list[socket.socket], watcher: ChangeWatcher | None = None) -> None:
        self.config = config
        self.sockets = sockets
        self.watcher = watcher
        self.slots = [Slot() for _ in range(config.workers)]
        #: Workers asked to stop (replaced, recycled, removed), until they have exited.
        self.stopping: list[Worker] = []
        #: A rolling restart: the slots still to replace, and the new worker starting for the first of them.
        self.restart_queue: list[Slot] = []
        self.replacement: Worker | None = None
        self.signals: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.changes: queue.SimpleQueue[list[str]] = queue.SimpleQueue()
        self.should_exit = False
        self.exit_status = 0
        #: The exit status of the first of the first workers that could not start (None: none failed).
        self.boot_failure: int | None = None
        #: The figures of all the workers, served by this process (`--metrics-port`).
        self.metrics = WorkersMetrics(config)
        self._wake_reader, self._wake_writer = os.pipe()
        os.set_blocking(self._wake_writer, False)

    # -- the loop ---------------------------------------------------------------------------------

    def run(self) -> int:
        """Start the workers and watch them until a signal or a give-up; the exit status."""
        logger.info("Started parent process [%d]", os.getpid())
        try:
            self.metrics.start()  # before the first worker: the workers inherit its environment
        except (OSError, MetricsUnavailable) as exc:
            for sock in self.sockets:
                sock.close()
            os.close(self._wake_reader)
            os.close(self._wake_writer)
            return exit_status(exc)
        with ShutdownSignals(self._on_signal, signals=SUPERVISOR_SIGNALS):
            try:
                if self.watcher is not None:
                    self.watcher.start(self._on_change)
                for slot in self.slots:
                    self._start(slot)
                while not self.should_exit:
                    self._wait()
                    self._handle_signals()
                    self._handle_changes()
                    self._read_messages()
                    self._reap()
                    self._check_health()
                    self._respawn()
                    self._check_boot()
            finally:
                if self.watcher is not None:
                    self.watcher.stop()
                for sock in self.sockets:
                    sock.close()  # the workers close theirs as they start stopping: new connections are refused
                self._stop_all()
                self.metrics.close()
                os.close(self._wake_reader)
                os.close(self._wake_writer)
                logger.info("Stopping parent process [%d]", os.getpid())
        return self.exit_status

    @property
    def workers(self) -> list[Worker]:
        """Every running worker: serving, starting, stopping."""
        serving = [slot.worker for slot in self.slots if slot.worker is not None]
        replacement = [self.replacement] if self.replacement is not None else []
        return serving + replacement + self.stopping

    def _wait(self) -> None:
        """Sleep until a worker talks or ends, a signal or change comes in, or TICK has passed."""
        handles: list[Any] = [self._wake_reader]
        for worker in self.workers:
            handles.append(worker.sentinel)
            if worker.pipe_open:
                handles.append(worker.pipe)
        if self._wake_reader in wait(handles, TICK):
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_reader, 4096)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # already awake (BlockingIOError), or closing
            os.write(self._wake_writer, b"\0")

    def _on_signal(self, sig: int) -> None:
        self.signals.put(sig)
        self._wake()

    def _on_change(self, paths: list[str]) -> None:
        self.changes.put(paths)  # from the watcher's thread
        self._wake()

    # -- signals and changes ----------------------------------------------------------------------

    def _handle_signals(self) -> None:
        while not self.signals.empty():
            sig = self.signals.get()
            if sig in HANDLED_SIGNALS:
                logger.info("Received %s, stopping the workers.", signal.Signals(sig).name)
                self.should_exit = True
                return
            elif sig == signal.SIGHUP:
                logger.info("Received SIGHUP, replacing the workers one at a time.")
                self._restart_all()
            elif sig == signal.SIGTTIN:
                self.slots.append(Slot(booting=False))
                logger.info("Received SIGTTIN, now %d workers.", len(self.slots))
                self._start(self.slots[-1])
            elif sig == signal.SIGTTOU:
                if len(self.slots) <= 1:
                    logger.info("Received SIGTTOU, but one worker is the least there can be.")
                    continue
                slot = self.slots.pop()
                logger.info("Received SIGTTOU, now %d workers.", len(self.slots))
                if slot in self.restart_queue:
                    self.restart_queue.remove(slot)
                if slot.worker is not None:
                    self._retire(slot.worker, restart=True)

    def _handle_changes(self) -> None:
        paths: list[str] = []
        while not self.changes.empty():
            paths += self.changes.get()
        if paths:
            names = ", ".join(sorted({os.path.relpath(path) for path in paths}))
            logger.warning("Changes detected in %s. Reloading...", names)
            self._restart_all()

    # -- starting, replacing, stopping ------------------------------------------------------------

    def _start(self, slot: Slot) -> None:
        slot.respawn_at = None
        slot.worker = Worker(self.config, self.sockets)
        slot.worker.start()

    def _restart_all(self) -> None:
        """Queue every slot for a rolling restart (slots already queued stay queued once)."""
        for slot in self.slots:
            if slot not in self.restart_queue:
                self.restart_queue.append(slot)
        self._next_replacement()

    def _next_replacement(self) -> None:
        """Start the new worker for the next slot of the rolling restart, unless one is starting."""
        if self.replacement is None and self.restart_queue and not self.should_exit:
            self.replacement = Worker(self.config, self.sockets)
            self.replacement.start()

    def _replacement_ready(self) -> None:
        """The new worker serves: it takes the first queued slot, whose old worker is asked to stop."""
        assert self.replacement is not None
        if not self.restart_queue:  # its slot was removed (SIGTTOU) meanwhile
            self._retire(self.replacement, restart=True)
            self.replacement = None
            return
        slot = self.restart_queue.pop(0)
        old, slot.worker = slot.worker, self.replacement
        slot.crashes, slot.respawn_at, slot.booting = 0, None, False
        self.replacement = None
        if old is not None:
            logger.info("Worker %s replaces worker %s.", slot.worker, old)
            self._retire(old, restart=True)
        self._next_replacement()

    def _replacement_failed(self, worker: Worker) -> None:
        logger.error(
            "The new worker %s did not start (exit status %s): restart abandoned, the old workers keep serving.",
            worker,
            worker.exitcode,
        )
        self.replacement = None
        self.restart_queue.clear()

    def _retire(self, worker: Worker, restart: bool) -> None:
        """Ask `worker` to stop (RESTART: 1012, or SIGTERM: 1001) and watch it until it has."""
        worker.stop(restart=restart)
        if worker not in self.stopping:
            self.stopping.append(worker)

    def _stop_all(self) -> None:
        """Stop every worker gracefully and wait for them; kill those still there past the grace period."""
        workers = self.workers
        for worker in workers:
            worker.stop()
        grace = self.config.timeout_graceful_shutdown
        deadline = None if grace is None else time.monotonic() + grace + KILL_GRACE
        second_signal = False
        for worker in workers:
            while worker.exitcode is None:
                timeout = TICK if deadline is None else max(0.0, min(TICK, deadline - time.monotonic()))
                wait([worker.sentinel], timeout)
                while not second_signal and not self.signals.empty():
                    if self.signals.get() in HANDLED_SIGNALS:
                        second_signal = True  # a second Ctrl-C: the workers skip the wait too
                        for other in workers:
                            other.signal(signal.SIGINT)
                if deadline is not None and time.monotonic() >= deadline and worker.exitcode is None:
                    logger.error("Worker %s did not stop in time: killing it.", worker)
                    worker.kill()
                    wait([worker.sentinel])
            worker.close()
            self.metrics.worker_ended(worker.pid)
        for slot in self.slots:
            slot.worker = None
        self.replacement = None
        self.stopping.clear()

    # -- watching ---------------------------------------------------------------------------------

    def _read_messages(self) -> None:
        for worker in self.workers:
            for message in worker.receive():
                if message == PONG:
                    worker.answered()
                elif message == READY:
                    worker.ready_at = time.monotonic()
                    worker.answered()
                    slot = self._slot_of(worker)
                    if worker is self.replacement:
                        self._replacement_ready()
                    elif slot is not None:
                        slot.booting = False
                elif message == RETIRING:
                    slot = self._slot_of(worker)
                    if slot is not None:
                        logger.info("Worker %s reached its request limit: starting its replacement.", worker)
                        self._retire(worker, restart=True)
                        self._start(slot)

    def _slot_of(self, worker: Worker) -> Slot | None:
        return next((slot for slot in self.slots if slot.worker is worker), None)

    def _reap(self) -> None:
        """Deal with every worker that has ended."""
        for worker in [worker for worker in self.workers if worker.exitcode is not None]:
            worker.close()
            self.metrics.worker_ended(worker.pid)
            if worker in self.stopping:
                self.stopping.remove(worker)
            elif worker is self.replacement:
                self._replacement_failed(worker)
            else:
                slot = self._slot_of(worker)
                assert slot is not None
                slot.worker = None
                self._died(slot, worker)
            if self.should_exit:
                return

    def _died(self, slot: Slot, worker: Worker) -> None:
        """`worker`, serving in `slot`, ended unasked: replace it, back off, or give up."""
        status = worker.exitcode
        lived = time.monotonic() - worker.started_at
        if slot.booting and status is not None and status > 0 and not worker.killed_as_hung:
            # One of the first workers gave up starting: the app or the settings are broken.
            logger.error("Worker %s could not start (exit status %s).", worker, status)
            slot.booting = False
            if self.watcher is not None:
                logger.error("Waiting for a change to start it again.")
            elif self.boot_failure is None:
                self.boot_failure = status
            return
        slot.booting = False
        if worker.killed_as_hung:
            pass  # logged when killed
        elif status is not None and status < 0:
            logger.error("Worker %s was killed by %s.", worker, signal.Signals(-status).name)
        else:
            logger.error("Worker %s exited with status %s.", worker, status)
        if worker.ready and lived >= CRASH_WINDOW:
            slot.crashes = 0
            self._start(slot)
            logger.info("Started worker %s to replace it.", slot.worker)
            return
        slot.crashes += 1
        if slot.crashes >= MAX_CRASHES:
            logger.error("Worker crash loop: %d workers in a row died right after starting; giving up.", slot.crashes)
            self._give_up(slot, status)
            return
        backoff = FIRST_BACKOFF * 2 ** (slot.crashes - 1)
        logger.warning(
            "Worker %s died %.1f s after starting (%d of %d such deaths in a row): restarting it in %.1f s.",
            worker,
            lived,
            slot.crashes,
            MAX_CRASHES,
            backoff,
        )
        slot.respawn_at = time.monotonic() + backoff

    def _give_up(self, slot: Slot, status: int | None) -> None:
        """A worker cannot be kept running: exit with its status (1 if killed); with --reload, wait for a change."""
        slot.crashes = 0
        if self.watcher is not None:
            logger.error("Waiting for a change to start it again.")
            return
        self.exit_status = status if status is not None and status > 0 else 1
        self.should_exit = True

    def _check_boot(self) -> None:
        """Once every first worker has started or failed, exit if one failed (each one's reason is logged)."""
        if self.boot_failure is not None and not any(slot.booting for slot in self.slots):
            self.exit_status = self.boot_failure
            self.should_exit = True

    def _check_health(self) -> None:
        """Ping the serving workers and kill those that do not answer in time, or do not start, or stop, in time."""
        now = time.monotonic()
        timeout = self.config.timeout_worker_healthcheck
        grace = self.config.timeout_graceful_shutdown
        for worker in self.workers:
            if worker.exitcode is not None or worker.killed_as_hung:
                continue
            if worker.stopping_since is not None:  # draining: bounded by the graceful timeout, not pinged
                if grace is not None and now - worker.stopping_since > grace + KILL_GRACE:
                    logger.error("Worker %s did not stop in time: killing it.", worker)
                    worker.killed_as_hung = True
                    worker.kill()
            elif not worker.ready:
                if now - worker.started_at > self.config.timeout_notify:
                    logger.error(
                        "Worker %s did not start serving within %g s (timeout_notify): killing it.",
                        worker,
                        self.config.timeout_notify,
                    )
                    worker.killed_as_hung = True
                    worker.kill()
            elif worker.ping_sent_at is not None:
                if now - worker.ping_sent_at > timeout:
                    logger.error(
                        "Worker %s did not answer the health check within %g s (timeout_worker_healthcheck): "
                        "killing it.",
                        worker,
                        timeout,
                    )
                    worker.killed_as_hung = True
                    worker.kill()
            elif now - worker.pong_at >= timeout / 2:
                worker.ping()

    def _respawn(self) -> None:
        """Start the workers whose back-off is over, and the next one of a rolling restart."""
        now = time.monotonic()
        for slot in self.slots:
            if slot.worker is None and slot.respawn_at is not None and now >= slot.respawn_at:
                self._start(slot)
                logger.info("Started worker %s.", slot.worker)
        self._next_replacement()


__all__ = ["CRASH_WINDOW", "FIRST_BACKOFF", "KILL_GRACE", "MAX_CRASHES", "Supervisor"]
