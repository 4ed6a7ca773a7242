"""`HTTPProtocol`: one HTTP/1.1 connection, between a socket and an ASGI app.

asyncio calls `data_received`; the sans-I/O `RequestParser` turns the bytes
into request events; each request becomes a `RequestResponseCycle` whose
`receive`/`send` the app awaits; `ResponseWriter` frames what the app sends.

One request at a time: with pipelining, the next request is parsed only
once the current response is complete, so responses leave in order and a
client cannot make us buffer requests ahead. Reading pauses when the app is
not consuming the body (a large upload is never buffered whole) and `send`
waits while the socket's write buffer is full.

A response the app sends before its request's body has all arrived (a 415
that never reads the body) keeps the connection only when the rest of the
body is on its way and small: it is then read and dropped after the
response (RFC 9112 section 9.6); otherwise the response says
``connection: close``. The cycle's states and their moves are in
`cycle_state`.

Reports: one access line per response (its head, when sent); at DEBUG, a
line when a connection opens, is upgraded or closes, with why it closed
(`close_cause`, set where the server closes it); with metrics on, the open
connections, and the requests through `ServerMetrics.measured`, the app the
connection calls then. Whether to log or count is decided once per
connection: with both off, a request costs nothing more.

Timers: `timeout_request_head` runs from the connection (or the end of the
previous response) until a full request head arrived, so a socket that sends
nothing, or a head one byte at a time, is dropped; `timeout_keep_alive`
closes a connection idle between requests; `timeout_request_body` runs while
the app waits for more of a request body, starting over with every byte
received, and past it answers 408 (unless a response started) and closes.
One timer per connection serves the three deadlines.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import unquote_to_bytes

from ..connection.flow_control import FlowControl
from ..protocol.errors import HandshakeError, HTTPError
from ..protocol.handshake import UpgradeRequest, parse_upgrade_request, reject_response
from ..protocol.http11 import (
    CONTINUE_RESPONSE,
    NEED_DATA,
    Data,
    EndOfMessage,
    InvalidResponse,
    Request,
    RequestParser,
    ResponseWriter,
)
from ..types import ASGIApp, Message, Receive, Scope, Send
from .config import Config
from .cycle_state import (
    REQUEST_TRANSITIONS,
    RESPONSE_TRANSITIONS,
    CycleStep,
    RequestState,
    ResponseState,
    reusable_with_unread_body,
)
from .logs import HTTP_ACCESS
from .state import ServerState
from .websocket import WebSocketProtocol

logger = logging.getLogger("asgiws.error")
access_logger = logging.getLogger("asgiws.access")

#: Request body bytes buffered for the app before reading from the socket pauses.
HIGH_WATER_LIMIT = 65536

# The cycle's states as module names, for the per-request code (a global load each).
_BODY, _RECEIVED = RequestState.BODY, RequestState.RECEIVED
_DELIVERED, _GONE = RequestState.DELIVERED, RequestState.GONE
_CONTINUE_OWED, _START = ResponseState.CONTINUE_OWED, ResponseState.START
_SENDING, _COMPLETE = ResponseState.BODY, ResponseState.COMPLETE
# The moves every request takes, each from a state the code taking it has
# just checked: read from the tables once, here, rather than per request.
_AFTER_END_OF_BODY = REQUEST_TRANSITIONS[_BODY][CycleStep.END_OF_BODY]
_AFTER_DELIVER = REQUEST_TRANSITIONS[_RECEIVED][CycleStep.DELIVER]
_AFTER_START = RESPONSE_TRANSITIONS[_START][CycleStep.START]
_AFTER_END = RESPONSE_TRANSITIONS[_SENDING][CycleStep.END]


class ClientDisconnected(OSError):
    """`send` after the client went away (an OSError, as ASGI spec 2.4 asks)."""


def get_addresses(transport: asyncio.BaseTransport) -> tuple[Any, Any]:
    """(server, client) for the scope: (host, port) pairs, (path, None) for a unix server, None when unknown."""
    sockname = transport.get_extra_info("sockname")
    peername = transport.get_extra_info("peername")
    if isinstance(sockname, (tuple, list)):
        server: Any = (str(sockname[0]), int(sockname[1]))
    elif isinstance(sockname, str) and sockname:
        server = (sockname, None)
    else:
        server = None
    client = (str(peername[0]), int(peername[1])) if isinstance(peername, (tuple, list)) else None
    return server, client


def split_target(target: bytes) -> tuple[str, bytes, bytes]:
    """(path, raw_path, query_string) from a request target, the path percent-decoded as UTF-8."""
    raw_path, _, query = target.partition(b"?")
    if raw_path[:1] != b"/" and b"://" in raw_path:
        # absolute-form (RFC 9112 section 3.2.2): keep the path after the authority.
        after_scheme = raw_path.partition(b"://")[2]
        slash = after_scheme.find(b"/")
        raw_path = after_scheme[slash:] if slash >= 0 else b"/"
    if b"%" in raw_path or not raw_path.isascii():
        path = unquote_to_bytes(raw_path).decode("utf-8", "replace")
    else:
        path = raw_path.decode("ascii")
    return path, raw_path, query


class HTTPProtocol(asyncio.Protocol):
    """An asyncio protocol serving HTTP/1.1 requests to the configured ASGI app."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any]) -> None:
        self.config = config
        self.metrics = metrics = server_state.metrics
        self.app = config.loaded_app if metrics is None else metrics.http_app
        self.server_state = server_state
        self.app_state = app_state
        self.loop = asyncio.get_event_loop()
        self.parser = RequestParser(
            max_request_line=config.limit_request_line,
            max_header_block=config.limit_request_header_block,
            max_headers=config.limit_request_headers,
            max_body_size=config.limit_request_body,
        )
        self.root_path = config.root_path
        self.root_path_bytes = config.root_path.encode("latin-1")
        self.access_log = config.access_log and access_logger.isEnabledFor(logging.INFO)
        self.debug = logger.isEnabledFor(logging.DEBUG)
        #: Why the server closed the connection, for the DEBUG log (None: the client closed it).
        self.close_cause: str | None = None
        self.ws_enabled = config.ws_enabled
        self.limit_concurrency = config.limit_concurrency
        self.transport: asyncio.Transport = None  # type: ignore[assignment]  # set by connection_made()
        self.flow: FlowControl = None  # type: ignore[assignment]  # set by connection_made()
        self.server: Any = None
        self.client: Any = None
        self.scheme = "http"
        self.cycle: RequestResponseCycle | None = None
        # One timer per connection serves every deadline; it is re-armed only
        # when it fires early, so a busy keep-alive connection allocates no
        # timer per request.
        self.timeout_request_head = config.timeout_request_head
        self.timeout_keep_alive = config.timeout_keep_alive
        self.timeout_request_body = config.timeout_request_body
        self.head_deadline: float | None = None
        self.idle_deadline: float | None = None
        self.body_deadline: float | None = None  # set while the app waits for more body
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.shutting_down = False
        self.eof = False

    # -- asyncio callbacks -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream protocol's is a Transport
        self.flow = FlowControl(self.transport)
        self.server, self.client = get_addresses(transport)
        self.scheme = "https" if transport.get_extra_info("sslcontext") else "http"
        self.server_state.connections.add(self)
        self.shutting_down = self.server_state.shutting_down  # accepted during shutdown
        if self.metrics is not None:
            self.metrics.http_connections.inc()
        if self.debug:
            logger.debug("%s - HTTP connection opened", _client_text(self.client))
        if self.timeout_request_head is not None:
            self.head_deadline = deadline = self.loop.time() + self.timeout_request_head
            self._schedule(deadline)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        self._cancel_timers()
        if self.metrics is not None:
            self.metrics.http_connections.dec()
        if self.debug:
            cause = self.close_cause or (f"lost: {exc}" if exc else "closed by the client")
            logger.debug("%s - HTTP connection closed: %s", _client_text(self.client), cause)
        if self.cycle is not None:
            self.cycle.disconnect()
        if self.flow is not None:
            self.flow.connection_lost()

    def eof_received(self) -> bool | None:
        """The client closed its side: finish the response in progress, then close.

        A half-closed client still reads the response (RFC 9112 section 9.6),
        so the transport stays open while a complete request is being
        answered; an app that asks `receive()` for more is told
        `http.disconnect`, as it cannot tell a half-close from a close.
        """
        self.eof = True
        cycle = self.cycle
        if cycle is None or cycle.request is _BODY:
            return None  # asyncio closes the transport: connection_lost follows
        cycle.wake()
        return True

    def data_received(self, data: bytes) -> None:
        self.idle_deadline = None
        if self.body_deadline is not None:
            self.await_body()  # a byte came: the body's deadline starts over
        try:
            self.parser.feed(data)
        except HTTPError:
            return  # already answered; the connection is closing
        cycle = self.cycle
        if cycle is None or cycle.request is _BODY:
            self._handle_events()
        elif self.parser.buffered > HIGH_WATER_LIMIT:
            # Pipelined requests pile up while this response is being sent.
            self.flow.pause_reading()

    def pause_writing(self) -> None:
        self.flow.pause_writing()

    def resume_writing(self) -> None:
        self.flow.resume_writing()

    # -- requests ----------------------------------------------------------

    def _handle_events(self) -> None:
        """Turn buffered bytes into request events until more data is needed."""
        parser = self.parser
        while True:
            try:
                event = parser.next_event()
            except HTTPError as exc:
                self._reject(exc)
                return
            if event is NEED_DATA:
                return
            event_type = type(event)
            if event_type is Data:
                cycle = self.cycle
                if cycle is not None and cycle.request is _BODY:
                    data = event.data  # type: ignore[union-attr]  # event_type is Data
                    cycle.body.append(data)
                    cycle.body_size += len(data)
                    if cycle.body_size > HIGH_WATER_LIMIT:
                        self.flow.pause_reading()
                    cycle.wake()
            elif event_type is EndOfMessage:
                cycle = self.cycle
                if cycle is None:
                    # The end of a body the app answered without reading (see _await_next_request).
                    self._await_next_request()
                    return
                cycle.request = _AFTER_END_OF_BODY  # from BODY: Data and EndOfMessage come only then
                cycle.wake()
                # The next request is parsed only once this response is done.
                return
            elif event_type is Request:
                self._on_request(event)  # type: ignore[arg-type]  # event_type is Request
                if self.cycle is None:
                    return  # upgraded or rejected
            else:  # PAUSED: an Upgrade we declined; wait for the response
                return

    def _on_request(self, request: Request) -> None:
        self.head_deadline = None
        path, raw_path, query_string = split_target(request.target)
        if self.root_path:
            path = self.root_path + path
            raw_path = self.root_path_bytes + raw_path

        if request.upgrade == b"websocket" and self.ws_enabled and not request.chunked and not request.content_length:
            self._upgrade_websocket(request, path, raw_path, query_string)
            return

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": request.http_version,
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "method": request.method,
            "root_path": self.root_path,
            "path": path,
            "raw_path": raw_path,
            "query_string": query_string,
            "headers": request.headers,
            "state": self.app_state.copy(),
        }
        app = self.app
        limit = self.limit_concurrency
        state = self.server_state
        if limit is not None and (len(state.connections) >= limit or len(state.tasks) >= limit):
            app = service_unavailable
            logger.warning("Exceeded concurrency limit.")
        self.cycle = cycle = RequestResponseCycle(self, scope, request)
        task = self.loop.create_task(cycle.run_asgi(app))
        state.tasks.add(task)
        task.add_done_callback(state.tasks.discard)

    def _upgrade_websocket(self, request: Request, path: str, raw_path: bytes, query_string: bytes) -> None:
        """Hand the connection over to the WebSocket protocol, with the bytes read past the head.

        The handshake is validated here, once, from what the parser recorded
        (its Origin against `ws_origins` too); the WebSocket protocol answers
        it (or refuses it, before the app runs) for the app.
        """
        self.parser.next_event()  # the empty body's EndOfMessage
        trailing_data = self.parser.take_trailing_data()
        handshake: UpgradeRequest | None = None
        refusal: HandshakeError | None = None
        try:
            handshake = parse_upgrade_request(request, self.config.encoded_origins)
        except HandshakeError as exc:
            refusal = exc
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": request.http_version,
            "scheme": "wss" if self.scheme == "https" else "ws",
            "server": self.server,
            "client": self.client,
            "root_path": self.root_path,
            "path": path,
            "raw_path": raw_path,
            "query_string": query_string,
            "headers": request.headers,
            "subprotocols": list(handshake.subprotocols) if handshake is not None else [],
            "state": self.app_state.copy(),
            "extensions": {"websocket.http.response": {}},
        }
        state = self.server_state
        limit = self.limit_concurrency
        if limit is not None and (len(state.connections) >= limit or len(state.tasks) >= limit):
            logger.warning("Exceeded concurrency limit.")
            if refusal is None:  # an invalid handshake keeps its own 4xx
                refusal = HandshakeError("over the concurrency limit", 503)
        state.total_requests += 1
        state.connections.discard(self)
        self._cancel_timers()
        self.flow.resume_reading()
        protocol = WebSocketProtocol(self.config, state, self.app_state)
        if refusal is not None:
            # Still this protocol's transport: its connection_lost reports the cause.
            self.close_cause = f"WebSocket handshake refused ({refusal.status}: {refusal})"
            protocol.refuse(self.transport, scope, refusal)
        else:
            assert handshake is not None
            if self.metrics is not None:
                self.metrics.http_connections.dec()  # a WebSocket from now on
            if self.debug:
                logger.debug("%s - HTTP connection upgraded to WebSocket %s", _client_text(self.client), path)
            protocol.start(self.transport, scope, handshake, trailing_data)

    def _reject(self, exc: HTTPError) -> None:
        """Answer a request the parser refused with its status, then close."""
        logger.warning("Invalid HTTP request received: %s", exc)
        self.close_cause = f"invalid request ({exc.status}: {exc})"
        cycle = self.cycle
        if cycle is not None:
            cycle.disconnect()
            if cycle.response_started:
                cycle.close_connection()  # cut the response under way
                return
        if not self.transport.is_closing():
            self.transport.write(reject_response(exc.status, headers=self.server_state.default_headers))
            self.transport.close()

    def on_response_complete(self) -> None:
        """The current response is sent: close, or get ready for the next request."""
        self.server_state.total_requests += 1
        cycle = self.cycle
        self.cycle = None
        transport = self.transport
        if transport.is_closing():
            return
        if cycle is None or not cycle.keep_alive or self.shutting_down or self.eof:
            if self.close_cause is None:
                self.close_cause = (
                    "shutting down" if self.shutting_down else "client half-closed" if self.eof else "no keep-alive"
                )
            transport.close()
            return
        self.flow.resume_reading()
        self._await_next_request()

    def _await_next_request(self) -> None:
        """Between requests: parse the next one if it is buffered, else wait for it under the keep-alive timer.

        Also after a response sent before its request's body all arrived
        (whose rest is small, see `reusable_with_unread_body`): the rest is
        read and dropped (RFC 9112 section 9.6), under the same deadlines,
        and its EndOfMessage calls this again.
        """
        parser = self.parser
        parser.resume()  # after an Upgrade we declined
        now = self.loop.time()
        head = self.head_deadline = None if self.timeout_request_head is None else now + self.timeout_request_head
        if parser.buffered:
            if head is not None:
                self._schedule(head)
            self._handle_events()
        else:
            self.idle_deadline = deadline = now + self.timeout_keep_alive
            if head is not None and head < deadline:
                deadline = head
            self._schedule(deadline)

    # -- timers and shutdown -------------------------------------------------

    def _schedule(self, deadline: float) -> None:
        """Make sure the timer fires no later than `deadline`."""
        timer = self.timer
        if timer is not None:
            if self.timer_at <= deadline:
                return  # it fires first, and re-arms for what is left
            timer.cancel()
        self.timer_at = deadline
        self.timer = self.loop.call_at(deadline, self._on_timer)

    def await_body(self) -> None:
        """The app waits for more of the request body: some must come within `timeout_request_body`."""
        timeout = self.timeout_request_body
        if timeout is not None:
            self.body_deadline = deadline = self.loop.time() + timeout
            self._schedule(deadline)

    def _cancel_timers(self) -> None:
        self.head_deadline = self.idle_deadline = self.body_deadline = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _on_timer(self) -> None:
        """Drop the connection if a deadline passed (408 first for the request body's), else re-arm."""
        self.timer = None
        now = self.loop.time()
        head, idle, body = self.head_deadline, self.idle_deadline, self.body_deadline
        if body is not None and body <= now:
            cycle = self.cycle
            if cycle is not None and cycle.request is _BODY:
                self._cancel_timers()
                logger.info("Request body timed out: no byte for %g s.", self.timeout_request_body)
                self.close_cause = "request body timeout"
                cycle.time_out()
                return
            self.body_deadline = body = None  # the body came meanwhile; receive() has not resumed yet
        if (head is not None and head <= now) or (idle is not None and idle <= now):
            self.close_cause = "keep-alive timeout" if idle is not None and idle <= now else "request head timeout"
            self._cancel_timers()
            if not self.transport.is_closing():
                self.transport.close()
            return
        pending = [deadline for deadline in (head, idle, body) if deadline is not None]
        if pending:
            self._schedule(min(pending))

    def shutdown(self) -> None:
        """Graceful shutdown: close now when idle, else after the current response."""
        self.shutting_down = True
        if self.cycle is None or self.cycle.response is _COMPLETE:
            self.close_cause = "shutting down"
            if not self.transport.is_closing():
                self.transport.close()
        else:
            self.cycle.keep_alive = False

    @property
    def buffered_bytes(self) -> int:
        """Received bytes held by this connection: unread body plus unparsed input."""
        cycle = self.cycle
        return self.parser.buffered + (cycle.body_size if cycle is not None else 0)


class RequestResponseCycle:
    """One request and its response: the ASGI `receive` and `send` of one app call.

    `request` and `response` are the two sides' states; every move between
    them is in `cycle_state`'s tables. `keep_alive` says whether the connection
    carries another request once both sides are done.
    """

    __slots__ = (
        "protocol",
        "transport",
        "flow",
        "scope",
        "body",
        "body_size",
        "request",
        "response",
        "keep_alive",
        "waiter",
        "writer",
        "head_pending",
    )

    def __init__(self, protocol: HTTPProtocol, scope: Scope, request: Request) -> None:
        self.protocol = protocol
        self.transport = protocol.transport
        self.flow = protocol.flow
        self.scope = scope
        self.body: list[bytes] = []  # received body pieces not yet given to the app
        self.body_size = 0
        self.request = _BODY
        self.response = _CONTINUE_OWED if request.expect_continue else _START
        self.keep_alive = request.keep_alive
        self.waiter: asyncio.Future[None] | None = None  # what receive() awaits
        self.writer: ResponseWriter | None = None
        # The response head waits for the first body part so that both leave
        # in one write (one syscall); a call_soon flushes it if none follows.
        self.head_pending: bytes | None = None

    def _move_response(self, step: CycleStep) -> None:
        """Take one step of `RESPONSE_TRANSITIONS` (the per-request ones are read once, at import)."""
        self.response = RESPONSE_TRANSITIONS[self.response][step]

    @property
    def response_started(self) -> bool:
        """Whether a response head went out (or waits in `head_pending`): too late for a 500."""
        return self.response is not _START and self.response is not _CONTINUE_OWED

    async def run_asgi(self, app: ASGIApp) -> None:
        """Call the app; turn its failures into a 500 or a closed connection."""
        try:
            # An app breaking the ASGI contract may return something: its type says None.
            result = await app(self.scope, self.receive, self.send)  # type: ignore[func-returns-value]  # see above
        except ClientDisconnected:
            pass
        except Exception as exc:
            logger.error("Exception in ASGI application\n", exc_info=exc)
            self._fail()
        except asyncio.CancelledError:
            self.close_connection()
            raise
        else:
            if result is not None:
                logger.error("ASGI callable should return None, but returned '%s'.", result)
                self._fail()
            elif self.request is _GONE or self.response is _COMPLETE:
                pass
            elif not self.response_started:
                logger.error("ASGI callable returned without starting response.")
                self._fail()
            else:
                logger.error("ASGI callable returned without completing response.")
                self.close_connection()

    def _fail(self) -> None:
        """500 when no response started yet, else close the half-sent response."""
        if not self.response_started and self.request is not _GONE:
            self._move_response(CycleStep.FAIL)
            self.keep_alive = False
            self.protocol.close_cause = "the app failed (500)"
            self._answer(500)
            self.protocol.on_response_complete()
        else:
            self.close_connection()

    def time_out(self) -> None:
        """The request body stopped coming: 408 unless a response started, then close; receive() says so."""
        answer = not self.response_started and self.request is not _GONE
        self.disconnect()
        if answer and not self.transport.is_closing():
            self._move_response(CycleStep.FAIL)
            self.keep_alive = False
            self._answer(408)
        self.close_connection()

    def _answer(self, status: int) -> None:
        """Send the server's own response for `status` in place of the app's, with its access line."""
        protocol = self.protocol
        if protocol.access_log:
            self._log_access(status)
        self.transport.write(reject_response(status, headers=protocol.server_state.default_headers))

    def _log_access(self, status: int) -> None:
        """The access line of this request's response (the caller checked that access logging is on)."""
        scope = self.scope
        access_logger.info(
            HTTP_ACCESS,
            _client_text(scope["client"]),
            scope["method"],
            _path_with_query(scope),
            scope["http_version"],
            status,
        )

    def disconnect(self) -> None:
        """The client is gone (or broke the protocol): receive() says so, send() raises."""
        self.request = REQUEST_TRANSITIONS[self.request][CycleStep.DISCONNECT]
        self.wake()

    def wake(self) -> None:
        """Something receive() waits for happened: body data, its end, a disconnect."""
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def flush_head(self) -> None:
        """Write the response head if no body part took it along."""
        head = self.head_pending
        if head is not None:
            self.head_pending = None
            if not self.transport.is_closing():
                self.transport.write(head)

    def close_connection(self) -> None:
        """Close after what was sent so far (a half-sent response: the client sees it cut)."""
        self.protocol.close_cause = self.protocol.close_cause or "response cut short"
        self.flush_head()
        if not self.transport.is_closing():
            self.transport.close()

    async def receive(self) -> Message:
        if self.response is _CONTINUE_OWED and not self.transport.is_closing():
            self._move_response(CycleStep.CONTINUE)
            self.transport.write(CONTINUE_RESPONSE)
        while True:
            request = self.request
            if request is _GONE or self.response is _COMPLETE:
                return {"type": "http.disconnect"}
            if self.body or request is _RECEIVED:
                break
            if request is _DELIVERED and self.protocol.eof:
                # The client closed its side after its request: from here on it
                # counts as gone, for receive() and for send().
                self.disconnect()
                self.close_connection()
                return {"type": "http.disconnect"}
            self.flow.resume_reading()
            protocol = self.protocol
            self.waiter = waiter = protocol.loop.create_future()
            if request is _BODY:
                protocol.await_body()
            try:
                await waiter
            finally:
                self.waiter = None
                protocol.body_deadline = None
        pieces = self.body
        body = pieces[0] if len(pieces) == 1 else b"".join(pieces)  # no copy for one piece
        self.body = []
        self.body_size = 0
        if request is _RECEIVED:
            self.request = _AFTER_DELIVER
            return {"type": "http.request", "body": body, "more_body": False}
        self.flow.resume_reading()
        return {"type": "http.request", "body": body, "more_body": True}

    async def send(self, message: Message) -> None:
        if self.request is _GONE:
            raise ClientDisconnected("the client disconnected")
        if self.flow.write_paused:
            await self.flow.drain()
            if self.request is _GONE:
                raise ClientDisconnected("the client disconnected")
        message_type = message["type"]
        response = self.response
        if response is _SENDING:
            if message_type != "http.response.body":
                raise RuntimeError(f"Expected ASGI message 'http.response.body', but got '{message_type}'.")
            writer = self.writer
            assert writer is not None
            more_body = message.get("more_body", False)
            try:
                data = writer.body(message.get("body", b""))
                end = b""
                if not more_body:
                    end = writer.end()
                    self.response = _AFTER_END
            except InvalidResponse as exc:
                self.keep_alive = False
                raise RuntimeError(str(exc)) from None
            head = self.head_pending
            if head is not None:
                self.head_pending = None
            else:
                head = b""
            # Small pieces leave in one write; a large body is never copied.
            if len(data) <= 16384:
                data = head + data + end
                if data:
                    self.transport.write(data)
            else:
                if head:
                    self.transport.write(head)
                self.transport.write(data)
                if end:
                    self.transport.write(end)
            if not more_body:
                self.keep_alive = writer.keep_alive and self.keep_alive
                self.wake()
                self.protocol.on_response_complete()
        elif response is _COMPLETE:
            raise RuntimeError(f"Unexpected ASGI message '{message_type}' sent, after response already completed.")
        else:  # START or CONTINUE_OWED: the head comes first
            if message_type != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{message_type}'.")
            scope = self.scope
            status = message["status"]
            protocol = self.protocol
            keep_alive = self.keep_alive and not protocol.shutting_down
            if keep_alive and self.request is _BODY:
                keep_alive = reusable_with_unread_body(response, protocol.parser.body_left)
            try:
                # Positional arguments: keywords cost this per-response call measurably more.
                self.writer = writer = ResponseWriter(
                    status,
                    message.get("headers", ()),
                    scope["http_version"],
                    scope["method"] == "HEAD",
                    keep_alive,
                    protocol.server_state.default_header_lines,
                )
            except InvalidResponse as exc:
                raise RuntimeError(str(exc)) from None
            self.response = _AFTER_START
            self.keep_alive = writer.keep_alive
            if protocol.access_log:
                self._log_access(status)
            self.head_pending = writer.head
            protocol.loop.call_soon(self.flush_head)


def _client_text(client: Any) -> str:
    return f"{client[0]}:{client[1]}" if client else "-"


def _path_with_query(scope: Scope) -> str:
    path: str = scope["path"]
    if scope["query_string"]:
        return f"{path}?{scope['query_string'].decode('latin-1')}"
    return path


async def service_unavailable(scope: Scope, receive: Receive, send: Send) -> None:
    """The app that answers in place of the real one over `limit_concurrency`."""
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": b"Service Unavailable"})
