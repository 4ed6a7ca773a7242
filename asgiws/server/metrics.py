"""Prometheus metrics (``--metrics-port PORT``): what the server counts, and the /metrics endpoint serving it.

`ServerMetrics` is one server's figures, kept with `prometheus_client`
(the ``metrics`` extra) and served as Prometheus text on 127.0.0.1 of its
own port, by prometheus_client's exporter in a thread: scrapes never wait
for the event loop, nor the loop for them. The figures, all named
``asgiws_*``:

* ``http_connections``, ``websocket_connections``: open connections (a
  connection upgraded to a WebSocket counts as a WebSocket from then on);
* ``http_requests_total{method, status}``: requests answered by the app, by
  method (an unknown one is ``other``, so clients cannot add series) and
  status class (``2xx``); ``http_request_duration_seconds``: the app's time
  on each, from its call to its return;
* ``websocket_messages_received_total``, ``..._sent_total``, and
  ``websocket_received_bytes_total``, ``..._sent_bytes_total``: messages and
  their payload bytes (text as UTF-8, before compression);
* ``websocket_handshake_refusals_total{status}``: upgrade requests answered
  with an HTTP status instead of a 101 (the app's denial or 403, an invalid
  handshake's 4xx, 500 for an app that failed, 503 at shutdown or over the
  concurrency limit);
* ``websocket_closes_total{code}``: WebSockets closed, by close code (1006:
  lost without a closing handshake).

Costs. With metrics off prometheus_client is not imported and the
connection protocols hold ``metrics = None``: a request costs nothing more
(the app is wrapped by `measured` only when they are on) and a WebSocket
message one ``if`` (its counting, shared with the access log). With metrics
on, WebSocket messages are counted in plain integers (`MessageCounts`) that
`sync()` moves into the Prometheus counters on every tick of the server's
main loop, since a Prometheus increment costs more than the rest of a small
message's handling; HTTP requests and connection events update the
Prometheus objects as they happen.

Several processes (``--workers N``) use prometheus_client's multiprocess
mode, and the supervisor serves /metrics for all of them, through
`WorkersMetrics`: see there for what a supervisor calls.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from typing import TYPE_CHECKING, Any

from ..types import ASGIApp, Message, Receive, Scope, Send
from .counts import MessageCounts
from .errors import MetricsUnavailable

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    import prometheus_client
    from prometheus_client.registry import CollectorRegistry

    from .config import Config

logger = logging.getLogger("asgiws.error")

#: Where the metrics are served: this host only; a Prometheus elsewhere goes through a proxy or an agent.
HOST = "127.0.0.1"

#: prometheus_client's multiprocess mode: the directory each process writes its figures to.
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
#: Set by the supervisor for its workers: it serves /metrics for them all, they only record.
SUPERVISED = "ASGIWS_METRICS_SUPERVISED"

#: The request methods counted under their own name; any other is "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})

#: (attribute of MessageCounts, name of the counter it feeds).
_MESSAGE_COUNTERS = (
    ("messages_in", "websocket_messages_received"),
    ("messages_out", "websocket_messages_sent"),
    ("bytes_in", "websocket_received_bytes"),
    ("bytes_out", "websocket_sent_bytes"),
)


def _prometheus() -> Any:
    """The prometheus_client module; MetricsUnavailable when it is not installed."""
    try:
        import prometheus_client
    except ImportError:
        raise MetricsUnavailable("--metrics-port needs prometheus_client: pip install 'asgiws[metrics]'") from None
    return prometheus_client


class Exporter:
    """prometheus_client's exporter serving `registry` at http://127.0.0.1:`port`/metrics, in a thread.

    `port` 0 picks a free one; `port` says which once started. Raises the
    OSError of a port that cannot be bound.
    """

    def __init__(self, registry: CollectorRegistry, port: int) -> None:
        server: WSGIServer
        server, self._thread = _prometheus().start_http_server(port, addr=HOST, registry=registry)
        self._server = server
        self.port: int = server.server_port
        logger.info("Metrics at http://%s:%d/metrics", HOST, self.port)

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class ServerMetrics:
    """One server of `app`'s figures (see the module docstring); `start()` makes them and serves them.

    The connection protocols find it as `ServerState.metrics` and call the
    methods below; `websocket_totals` is the server-wide `MessageCounts`
    that each WebSocket's counts add to.
    """

    def __init__(self, app: ASGIApp) -> None:
        client = _prometheus()
        self.registry: CollectorRegistry = client.CollectorRegistry()
        registry = self.registry
        self.http_connections: prometheus_client.Gauge = client.Gauge(
            "asgiws_http_connections", "Open HTTP connections.", registry=registry, multiprocess_mode="livesum"
        )
        self.websocket_connections: prometheus_client.Gauge = client.Gauge(
            "asgiws_websocket_connections",
            "Open WebSocket connections: accepted, not yet closed.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.http_requests: prometheus_client.Counter = client.Counter(
            "asgiws_http_requests",
            "HTTP requests answered by the application, by method and status class.",
            ["method", "status"],
            registry=registry,
        )
        self.http_request_duration: prometheus_client.Histogram = client.Histogram(
            "asgiws_http_request_duration_seconds",
            "Time the application took on an HTTP request, from its call to its return.",
            registry=registry,
        )
        self.websocket_messages_received: prometheus_client.Counter = client.Counter(
            "asgiws_websocket_messages_received", "WebSocket messages received.", registry=registry
        )
        self.websocket_messages_sent: prometheus_client.Counter = client.Counter(
            "asgiws_websocket_messages_sent", "WebSocket messages sent.", registry=registry
        )
        self.websocket_received_bytes: prometheus_client.Counter = client.Counter(
            "asgiws_websocket_received_bytes",
            "Payload bytes of the WebSocket messages received (text as UTF-8, before compression).",
            registry=registry,
        )
        self.websocket_sent_bytes: prometheus_client.Counter = client.Counter(
            "asgiws_websocket_sent_bytes",
            "Payload bytes of the WebSocket messages sent (text as UTF-8, before compression).",
            registry=registry,
        )
        self.websocket_handshake_refusals: prometheus_client.Counter = client.Counter(
            "asgiws_websocket_handshake_refusals",
            "WebSocket upgrade requests answered with an HTTP status instead of 101, by status.",
            ["status"],
            registry=registry,
        )
        self.websocket_closes: prometheus_client.Counter = client.Counter(
            "asgiws_websocket_closes",
            "WebSocket connections closed, by close code (1006: lost without a closing handshake).",
            ["code"],
            registry=registry,
        )
        self.websocket_totals = MessageCounts()
        self._synced = MessageCounts()  # what sync() has moved into the counters so far
        self._requests: dict[tuple[str, int], Any] = {}  # http_requests' children, by (method, status // 100)
        #: The app the HTTP connections call: `app`, measured.
        self.http_app: ASGIApp = self.measured(app)
        self.exporter: Exporter | None = None

    @classmethod
    def start(cls, port: int, app: ASGIApp) -> ServerMetrics:
        """The figures of a new server of `app`, served on `port` unless a supervisor serves its workers' together.

        Raises MetricsUnavailable without prometheus_client, and the OSError
        of a port that cannot be bound.
        """
        metrics = cls(app)
        if not os.environ.get(SUPERVISED):
            metrics.exporter = Exporter(metrics.registry, port)
        return metrics

    def close(self) -> None:
        """Move the last counts into the counters; stop serving."""
        self.sync()
        if self.exporter is not None:
            self.exporter.close()
            self.exporter = None

    # -- What the server and its protocols call -------------------------------------------

    def sync(self) -> None:
        """Add the WebSocket messages counted since the last call to the Prometheus counters (once per tick)."""
        totals, synced = self.websocket_totals, self._synced
        for attribute, counter in _MESSAGE_COUNTERS:
            now = getattr(totals, attribute)
            before = getattr(synced, attribute)
            if now != before:
                getattr(self, counter).inc(now - before)
                setattr(synced, attribute, now)

    def measured(self, app: ASGIApp) -> ASGIApp:
        """`app`, counting and timing each HTTP request it answers (for HTTP scopes only)."""
        duration = self.http_request_duration
        counters = self._requests
        requests = self.http_requests

        async def measured_app(scope: Scope, receive: Receive, send: Send) -> None:
            start = time.perf_counter()
            status = 500  # what the server answers when the app fails before its response

            async def send_noting_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_noting_status)
            finally:
                method = scope["method"]
                key = (method if method in METHODS else "other", status // 100)
                counter = counters.get(key)
                if counter is None:
                    counter = counters[key] = requests.labels(key[0], f"{key[1]}xx")
                counter.inc()
                duration.observe(time.perf_counter() - start)

        return measured_app

    def handshake_refused(self, status: int) -> None:
        """A WebSocket upgrade request was answered with `status`."""
        self.websocket_handshake_refusals.labels(str(status)).inc()

    def websocket_accepted(self) -> None:
        """A WebSocket handshake was answered with 101."""
        self.websocket_connections.inc()

    def websocket_closed(self, code: int) -> None:
        """An accepted WebSocket ended with close `code`."""
        self.websocket_connections.dec()
        self.websocket_closes.labels(str(code)).inc()


class WorkersMetrics:
    """A supervisor's side of the metrics of its workers; does nothing when `config.metrics_port` is None.

    What the supervisor calls:

    * ``metrics = WorkersMetrics(config)``, then ``metrics.start()`` once,
      before starting the first worker: it makes a fresh directory, names it
      in the environment the workers inherit (PROMETHEUS_MULTIPROC_DIR,
      where each writes its figures, and SUPERVISED, so that none serves
      them itself) and serves /metrics on `config.metrics_port` from the
      files of them all. It raises MetricsUnavailable without
      prometheus_client, and the OSError of a port that cannot be bound;
    * ``metrics.worker_ended(pid)`` for each worker that has ended, whatever
      the reason (stopped, replaced, crashed, killed): its gauges (open
      connections) stop counting, its counters stay in the totals;
    * ``metrics.close()`` once, when all workers have ended: it stops
      serving, removes the directory and restores the environment.
    """

    def __init__(self, config: Config) -> None:
        self.port = config.metrics_port
        self.directory: str | None = None
        self.exporter: Exporter | None = None
        self._environment: dict[str, str | None] = {}

    def start(self) -> None:
        """Make the workers' directory and serve their figures (see the class docstring)."""
        if self.port is None or self.directory is not None:
            return
        client = _prometheus()
        from prometheus_client.multiprocess import MultiProcessCollector

        self.directory = tempfile.mkdtemp(prefix="asgiws-metrics-")
        self._environment = {name: os.environ.get(name) for name in (MULTIPROC_DIR, SUPERVISED)}
        os.environ[MULTIPROC_DIR] = self.directory
        os.environ[SUPERVISED] = "1"
        registry = client.CollectorRegistry()
        MultiProcessCollector(registry, path=self.directory)  # type: ignore[no-untyped-call]  # unannotated in prometheus_client
        try:
            self.exporter = Exporter(registry, self.port)
        except OSError:
            self.close()
            raise

    def worker_ended(self, pid: int | None) -> None:
        """Worker `pid` has ended: drop its gauges (its open connections are closed)."""
        if self.directory is not None and pid is not None:
            from prometheus_client.multiprocess import mark_process_dead

            mark_process_dead(pid, self.directory)  # type: ignore[no-untyped-call]  # unannotated in prometheus_client

    def close(self) -> None:
        """Stop serving; remove the workers' files; put the environment back."""
        if self.exporter is not None:
            self.exporter.close()
            self.exporter = None
        for name, value in self._environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._environment = {}
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


__all__ = ["Exporter", "ServerMetrics", "WorkersMetrics"]
