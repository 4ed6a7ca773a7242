"""Listening sockets: accept connections, and wait out a shortage of file descriptors.

`Listener` accepts the connections of one listening socket and hands each
to the event loop (`loop.connect_accepted_socket`, TLS included), in place of
`loop.create_server()`, because of what the loops do when ``accept()`` fails
with EMFILE or ENFILE (the process, or the system, is out of descriptors):

- asyncio's selector loop stops watching the socket for a second and logs
  the error with a traceback, but its accept loop goes on after the first
  failure (CPython gh-151615, in 3.11 to 3.14): every wake-up fails
  `backlog` times, logs as many tracebacks and schedules as many retries,
  which wake it more often still. Measured with a backlog of 2048 and 40
  descriptors: 18,000 tracebacks and 1.7 s of CPU in 4.5 s, and growing.
- uvloop (libuv) keeps a spare descriptor: it frees it, accepts each
  pending connection and closes it at once (the clients get no answer),
  and logs nothing. By their sources, should the spare be gone (another
  thread took its slot, or the whole system is out), libuv reports EMFILE
  and uvloop's server closes its listening socket for good, silently.

On EMFILE, ENFILE, ENOBUFS or ENOMEM a `Listener` stops watching its socket
(pending clients wait in the kernel's backlog, as they would for a busy
server), tries again after a delay that doubles from `RETRY_DELAY_MIN` to
`RETRY_DELAY_MAX`, and accepts as soon as descriptors are free again; the
connections it has are served all along. `DescriptorShortage`, shared by a
server's listeners, logs one warning when a shortage starts and one line
when it ends (a wake-up that empties the backlog without a failure). The
warning counts every connection that holds a descriptor: those served, and
those accepted but not yet handed to the loop (most of a burst, at the
moment the last accept() of its batch fails).

`raise_open_file_limit()` lifts the soft RLIMIT_NOFILE to the hard limit at
startup, so that a server is not held to a shell's 1024 descriptors.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import ssl
from collections.abc import Callable, Sized

logger = logging.getLogger("asgiws.error")

#: Seconds before the first new accept() after one failed for want of descriptors; it doubles up to the max.
RETRY_DELAY_MIN = 0.05
RETRY_DELAY_MAX = 1.0

#: accept() errors that mean "out of descriptors or memory, for now": wait, then try again.
SHORTAGE_ERRNOS = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))


class DescriptorShortage:
    """Logs accept() failures for want of descriptors: a warning when a shortage starts, a line when it ends.

    `connections` is what the server serves; each listener adds to
    `accepting` the connections it accepted and is still setting up. Both
    hold descriptors: the warning counts them together. `failed()` gives
    the delay before the next attempt.
    """

    def __init__(self, connections: Sized) -> None:
        self.connections = connections
        self.accepting: list[Sized] = []
        self.started: float | None = None  # loop time of the first failure of the shortage under way
        self.failures = 0
        self.delay = RETRY_DELAY_MIN

    def failed(self, error: OSError, now: float) -> float:
        """An accept() failed with `error` at loop time `now`; the seconds to wait before the next one."""
        if self.started is None:
            self.started = now
            self.failures = 0
            self.delay = RETRY_DELAY_MIN
            logger.warning(
                "Cannot accept connections: %s (%d connections open, descriptor limit %s). "
                "Serving them and retrying; logged once until accepting works again.",
                os.strerror(error.errno or 0),
                len(self.connections) + sum(len(pending) for pending in self.accepting),
                open_file_limit(),
            )
        else:
            self.delay = min(self.delay * 2, RETRY_DELAY_MAX)
        self.failures += 1
        return self.delay

    def recovered(self, now: float) -> None:
        """A listener emptied its backlog without a failure: any shortage is over."""
        started = self.started
        if started is not None:
            self.started = None
            logger.info(
                "Accepting connections again, after %.1f s short of descriptors (%d attempts failed).",
                now - started,
                self.failures,
            )


class Listener:
    """Accepts the connections of one listening socket for `protocol_factory`, from `start()` to `close()`.

    It stands in for the `asyncio.Server` of `loop.create_server()` where
    callers look: `sockets`, `close()`, `wait_closed()`, `is_serving()`.
    """

    def __init__(
        self,
        sock: socket.socket,
        protocol_factory: Callable[[], asyncio.Protocol],
        *,
        ssl: ssl.SSLContext | None,
        backlog: int,
        shortage: DescriptorShortage,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.sock = sock
        self.protocol_factory = protocol_factory
        self.ssl = ssl
        self.backlog = backlog
        self.shortage = shortage
        self._batch = max(backlog, 1)  # connections accepted per wake-up, at most
        self._retry: asyncio.TimerHandle | None = None
        self._serving = False
        self._closed = False
        self._handshakes: set[asyncio.Task[None]] = set()  # connections being set up (TLS handshakes)
        shortage.accepting.append(self._handshakes)

    @property
    def sockets(self) -> list[socket.socket]:
        """The listening socket, as a list (none once closed), as `asyncio.Server.sockets`."""
        return [] if self._closed else [self.sock]

    def start(self) -> None:
        """Listen with the configured backlog and accept from now on."""
        sock = self.sock
        sock.setblocking(False)
        sock.listen(self.backlog)
        self._serving = True
        self._watch()

    def is_serving(self) -> bool:
        return self._serving

    def close(self) -> None:
        """Stop accepting and close the listening socket; accepted connections are the server's to close."""
        if self._closed:
            return
        self._closed = True
        if self._serving:
            self._serving = False
            self.loop.remove_reader(self.sock.fileno())
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        self.sock.close()

    async def wait_closed(self) -> None:
        """Nothing to wait for once closed: the server waits for its connections itself."""

    def _watch(self) -> None:
        self._retry = None
        if self._serving:
            self.loop.add_reader(self.sock.fileno(), self._accept)

    def _accept(self) -> None:
        """Accept what the backlog holds (at most `backlog` connections per wake-up)."""
        sock = self.sock
        for _ in range(self._batch):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                if self.shortage.started is not None:
                    self.shortage.recovered(self.loop.time())
                return
            except ConnectionAbortedError:
                continue  # the client gave up while waiting in the backlog
            except OSError as exc:
                if exc.errno not in SHORTAGE_ERRNOS:
                    raise  # the loop logs it; the socket stays watched
                self.loop.remove_reader(sock.fileno())
                delay = self.shortage.failed(exc, self.loop.time())
                self._retry = self.loop.call_later(delay, self._watch)
                return
            conn.setblocking(False)
            task = self.loop.create_task(self._connect(conn))
            self._handshakes.add(task)
            task.add_done_callback(self._handshakes.discard)

    async def _connect(self, conn: socket.socket) -> None:
        """Make the transport and protocol of an accepted connection (for TLS, after its handshake)."""
        try:
            await self.loop.connect_accepted_socket(self.protocol_factory, conn, ssl=self.ssl)
        except OSError as exc:  # the client left, or failed the TLS handshake (SSLError): nothing to serve
            logger.debug("Could not set up an accepted connection: %r", exc)
            conn.close()


async def bind_tcp(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to every address of `host` ("" or "0.0.0.0": any IPv4) and `port`, as `create_server` binds.

    SO_REUSEADDR is set, and IPV6_V6ONLY on IPv6 sockets (one socket per
    family). Raises the OSError of an address that cannot be bound, naming it.
    """
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(
        host or None, port, family=socket.AF_UNSPEC, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                reason = (exc.strerror or str(exc)).lower()
                raise OSError(exc.errno, f"error while attempting to bind on address {address!r}: {reason}") from None
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def bind_unix(path: str) -> socket.socket:
    """A unix socket bound to `path` (a stale socket file there is removed), writable by every user."""
    if os.path.exists(path) and not os.path.isfile(path):
        os.remove(path)  # a stale socket from an earlier run
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
    except BaseException:
        sock.close()
        raise
    os.chmod(path, 0o666)
    return sock


def open_file_limit() -> int | None:
    """The soft RLIMIT_NOFILE (None where there is none)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def raise_open_file_limit() -> None:
    """Raise the soft RLIMIT_NOFILE to the hard limit, logging the new figure when it changed.

    An unlimited hard limit is not a value the soft one may take (Linux caps
    it at fs.nr_open, macOS at kern.maxfilesperproc): 2**20 is tried, then
    10240 (macOS's OPEN_MAX).
    """
    try:
        import resource
    except ImportError:  # Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    candidates = [1 << 20, 10240] if hard == resource.RLIM_INFINITY else [hard]
    for target in candidates:
        if soft != resource.RLIM_INFINITY and target <= soft:
            return
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            continue
        logger.info("Raised the open file limit (RLIMIT_NOFILE) from %d to %d.", soft, target)
        return


__all__ = [
    "RETRY_DELAY_MAX",
    "RETRY_DELAY_MIN",
    "SHORTAGE_ERRNOS",
    "DescriptorShortage",
    "Listener",
    "bind_tcp",
    "bind_unix",
    "open_file_limit",
    "raise_open_file_limit",
]
