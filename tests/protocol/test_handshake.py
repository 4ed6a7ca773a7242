"""RFC 6455 section 4: the opening handshake, server and client sides."""

from __future__ import annotations

import pytest

from asgiws.protocol.deflate import DeflateSettings, PerMessageDeflate
from asgiws.protocol.errors import ForbiddenOrigin, HandshakeError, HTTPError, InvalidStatus, ProtocolError
from asgiws.protocol.frames import Frame, Opcode
from asgiws.protocol.handshake import (
    ClientHandshake,
    InvalidAccept,
    accept_key,
    accept_response,
    parse_upgrade_request,
    reject_response,
)
from asgiws.protocol.http11 import EndOfMessage, Request, RequestParser

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_accept_key_rfc_example() -> None:
    # RFC 6455 sections 1.3 and 4.2.2.
    assert accept_key(KEY) == ACCEPT


def request_headers(**changes: bytes | list[bytes] | None) -> list[tuple[bytes, bytes]]:
    """The RFC 6455 section 1.2 example request, with headers replaced (None removes, a list repeats)."""
    headers = {
        "host": b"server.example.com",
        "upgrade": b"websocket",
        "connection": b"Upgrade",
        "sec_websocket_key": KEY.encode(),
        "origin": b"http://example.com",
        "sec_websocket_protocol": b"chat, superchat",
        "sec_websocket_version": b"13",
    }
    headers.update(changes)
    result = []
    for name, value in headers.items():
        for item in value if isinstance(value, list) else [] if value is None else [value]:
            result.append((name.replace("_", "-").encode(), item))
    return result


def read_request(data: bytes) -> Request:
    """A complete request head, read by the server's request parser (as the server does)."""
    parser = RequestParser()
    parser.feed(data)
    request = parser.next_event()
    assert isinstance(request, Request)
    assert parser.next_event() == EndOfMessage()
    return request


def upgrade_request(method: str = "GET", version: str = "1.1", **changes: bytes | list[bytes] | None) -> Request:
    """`request_headers(**changes)` sent in a request head with `method` and `version`, as parsed."""
    lines = [b"%s: %s\r\n" % field for field in request_headers(**changes)]
    return read_request(b"%s /chat HTTP/%s\r\n%s\r\n" % (method.encode(), version.encode(), b"".join(lines)))


# --- Server side: validation --------------------------------------------------


def test_rfc_example_request() -> None:
    request = parse_upgrade_request(upgrade_request())
    assert request.key == KEY
    assert request.subprotocols == ["chat", "superchat"]
    assert request.extensions == []
    assert request.http_version == "1.1"
    assert (b"origin", b"http://example.com") in request.headers


@pytest.mark.parametrize(
    "changes",
    [
        {"upgrade": b"WebSocket"},
        {"upgrade": b"foo/2, websocket"},
        {"connection": b"keep-alive, Upgrade"},
        {"connection": [b"keep-alive", b"upgrade"]},
        {"sec_websocket_protocol": [b"chat", b"superchat"]},
    ],
)
def test_accepted_request_variants(changes: dict) -> None:
    request = parse_upgrade_request(upgrade_request(**changes))
    assert request.subprotocols == ["chat", "superchat"]


def test_later_minor_http_version_is_accepted() -> None:
    # The request parser handles HTTP/1.2 as 1.1 (RFC 9110 section 2.5).
    assert parse_upgrade_request(upgrade_request(version="1.2")).http_version == "1.1"


@pytest.mark.parametrize(
    "method, version, changes, status",
    [
        ("POST", "1.1", {}, 400),
        ("get", "1.1", {}, 400),
        ("GET", "1.0", {}, 400),
        ("GET", "x", {}, 400),
        ("GET", "1.1", {"upgrade": None}, 400),
        ("GET", "1.1", {"upgrade": b"h2c"}, 400),
        ("GET", "1.1", {"connection": None}, 400),
        ("GET", "1.1", {"connection": b"keep-alive"}, 400),
        ("GET", "1.1", {"sec_websocket_version": None}, 426),
        ("GET", "1.1", {"sec_websocket_version": b"8"}, 426),
        ("GET", "1.1", {"sec_websocket_version": [b"13", b"13"]}, 426),
        ("GET", "1.1", {"sec_websocket_key": None}, 400),
        ("GET", "1.1", {"sec_websocket_key": [KEY.encode(), KEY.encode()]}, 400),
        ("GET", "1.1", {"sec_websocket_key": b"not base64!"}, 400),
        ("GET", "1.1", {"sec_websocket_key": b"c2hvcnQ="}, 400),  # 5 bytes
        ("GET", "1.1", {"sec_websocket_key": b"AAAAAAAAAAAAAAAAAAAAAAAAAA=="}, 400),  # 19 bytes
        # Found by fuzzing (tests/fuzz): elements that are not tokens reached the app.
        ("GET", "1.1", {"sec_websocket_protocol": b"chat, super\x89chat"}, 400),
        ("GET", "1.1", {"sec_websocket_protocol": b"chat/1 chat/2"}, 400),
        ("GET", "1.1", {"sec_websocket_protocol": [b"chat", b'"superchat"']}, 400),
    ],
)
def test_rejected_requests(method: str, version: str, changes: dict, status: int) -> None:
    # An invalid version never reaches the handshake: the request parser refuses it.
    with pytest.raises(ProtocolError) as info:
        parse_upgrade_request(upgrade_request(method, version, **changes))
    assert isinstance(info.value, (HandshakeError, HTTPError))
    assert info.value.status == status


ALLOWED = frozenset([b"https://a.example", b"null"])


@pytest.mark.parametrize(
    "origin, allowed, passes",
    [
        (b"https://a.example", ALLOWED, True),
        (b"null", ALLOWED, True),
        (b"https://b.example", ALLOWED, False),
        (b"https://a.example.evil", ALLOWED, False),
        (b"http://a.example", ALLOWED, False),
        (None, ALLOWED, False),
        ([b"https://a.example", b"https://a.example"], ALLOWED, False),
        (None, ALLOWED | {None}, True),
        (b"https://b.example", None, True),
        (None, None, True),
    ],
)
def test_origin_check(origin: bytes | list[bytes] | None, allowed: frozenset | None, passes: bool) -> None:
    request = upgrade_request(origin=origin)
    if passes:
        assert parse_upgrade_request(request, allowed).key == KEY
    else:
        with pytest.raises(ForbiddenOrigin) as info:
            parse_upgrade_request(request, allowed)
        assert info.value.status == 403


def test_an_invalid_handshake_is_refused_as_such_before_its_origin() -> None:
    with pytest.raises(HandshakeError) as info:
        parse_upgrade_request(upgrade_request(sec_websocket_version=b"8", origin=b"https://b.example"), ALLOWED)
    assert info.value.status == 426


def test_websocket_among_several_upgrade_protocols() -> None:
    assert parse_upgrade_request(upgrade_request(upgrade=b"h2c, WebSocket")).key == KEY
    with pytest.raises(HandshakeError):
        parse_upgrade_request(upgrade_request(upgrade=b"h2c"))
    with pytest.raises(HandshakeError):
        parse_upgrade_request(upgrade_request(upgrade=None))


def test_malformed_extensions_only_decline_compression() -> None:
    request = parse_upgrade_request(upgrade_request(sec_websocket_extensions=b"permessage-deflate;;"))
    assert request.extensions == []


# --- Server side: responses ---------------------------------------------------


def test_rfc_example_response() -> None:
    request = parse_upgrade_request(upgrade_request())
    response, extensions = accept_response(request, subprotocol="chat")
    assert response == (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        b"Sec-WebSocket-Protocol: chat\r\n"
        b"\r\n"
    )
    assert extensions == []


def test_response_with_compression_and_app_headers() -> None:
    request = parse_upgrade_request(
        upgrade_request(sec_websocket_extensions=b"permessage-deflate; client_max_window_bits")
    )
    response, extensions = accept_response(request, headers=[(b"x-served-by", b"asgiws"), (b"set-cookie", b"a=b")])
    assert response.endswith(
        b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12; client_max_window_bits=12\r\n"
        b"x-served-by: asgiws\r\nset-cookie: a=b\r\n\r\n"
    )
    assert [type(extension) for extension in extensions] == [PerMessageDeflate]


def test_compression_disabled() -> None:
    request = parse_upgrade_request(upgrade_request(sec_websocket_extensions=b"permessage-deflate"))
    response, extensions = accept_response(request, compression=None)
    assert b"Extensions" not in response and extensions == []


@pytest.mark.parametrize(
    "subprotocol, headers",
    [
        ("other", []),
        (None, [(b"x-bad", b"a\r\nInjected: yes")]),
        (None, [(b"x-bad", b"a\nb")]),
        (None, [(b"x-bad", b"a\x01b")]),  # a control character is no field value (RFC 9110 section 5.5)
        (None, [(b"bad name", b"x")]),
        (None, [(b"", b"x")]),
        (None, [(b"Sec-WebSocket-Accept", b"x")]),
        (None, [(b"sec-websocket-protocol", b"chat")]),
    ],
)
def test_invalid_accept(subprotocol: str | None, headers: list) -> None:
    request = parse_upgrade_request(upgrade_request())
    with pytest.raises(InvalidAccept):
        accept_response(request, subprotocol=subprotocol, headers=headers)
    assert issubclass(InvalidAccept, ValueError)


def test_reject_response_426() -> None:
    assert reject_response(426) == (
        b"HTTP/1.1 426 Upgrade Required\r\n"
        b"Sec-WebSocket-Version: 13\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: 16\r\n"
        b"Connection: close\r\n"
        b"\r\n"
        b"Upgrade Required"
    )


def test_reject_response_frames_its_body_itself() -> None:
    response = reject_response(403, b"no", [(b"Content-Length", b"99"), (b"connection", b"keep-alive"), (b"X-A", b"1")])
    assert response == (
        b"HTTP/1.1 403 Forbidden\r\nX-A: 1\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: 2\r\nConnection: close\r\n\r\nno"
    )


def test_reject_response_with_body_and_headers() -> None:
    response = reject_response(403, b"{}", [(b"content-type", b"application/json")])
    assert response == (
        b"HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\n"
        b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
    )


# --- Client side ----------------------------------------------------------------


def test_client_request_bytes() -> None:
    client = ClientHandshake(
        "server.example.com",
        80,
        "/chat?x=1",
        subprotocols=["chat", "superchat"],
        origin="http://example.com",
        user_agent=None,
        compression=None,
        key=KEY,
        headers=[("X-Token", "t")],
    )
    assert client.request == (
        b"GET /chat?x=1 HTTP/1.1\r\n"
        b"Host: server.example.com\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n"
        b"Origin: http://example.com\r\n"
        b"Sec-WebSocket-Protocol: chat, superchat\r\n"
        b"X-Token: t\r\n"
        b"\r\n"
    )


@pytest.mark.parametrize(
    "host, port, secure, expected",
    [
        ("example.com", 8000, False, b"example.com:8000"),
        ("example.com", 443, True, b"example.com"),
        ("example.com", 443, False, b"example.com:443"),
        ("::1", 8000, False, b"[::1]:8000"),
        ("127.0.0.1", None, False, b"127.0.0.1"),
    ],
)
def test_client_host_header(host: str, port: int | None, secure: bool, expected: bytes) -> None:
    assert b"\r\nHost: " + expected + b"\r\n" in ClientHandshake(host, port, secure=secure).request


def test_client_keys_are_random_and_valid() -> None:
    first, second = ClientHandshake("a"), ClientHandshake("a")
    assert first.key != second.key
    assert parse_upgrade_request(read_request(first.request)).key == first.key


@pytest.mark.parametrize("resource", ["chat", "/a b", "/caf\u00e9", "/a\r\nX: y"])
def test_client_invalid_resource(resource: str) -> None:
    with pytest.raises(ValueError):
        ClientHandshake("a", resource=resource)


def test_full_handshake_between_both_sides_byte_by_byte() -> None:
    client = ClientHandshake("localhost", 8765, "/", subprotocols=["chat"])
    assert client.request.startswith(b"GET / HTTP/1.1\r\n")
    request = parse_upgrade_request(read_request(client.request))
    response, server_extensions = accept_response(request, subprotocol="chat")
    frame = b"\x81\x05Hello"
    for index in range(len(response) - 1):
        assert client.receive_data(response[index : index + 1]) is None
    result = client.receive_data(response[-1:] + frame)
    assert result is not None
    assert result.subprotocol == "chat"
    assert result.leftover == frame
    assert ("Sec-WebSocket-Protocol", "chat") in result.headers
    (client_extension,) = result.extensions
    (server_extension,) = server_extensions
    message = server_extension.encode(Frame(Opcode.TEXT, b"compressed hello"))
    assert client_extension.decode(message, max_size=None).payload == b"compressed hello"
    with pytest.raises(RuntimeError):
        client.receive_data(b"more")


def response_for(client: ClientHandshake, *extra: bytes, accept: str | None = None) -> bytes:
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + b"Sec-WebSocket-Accept: "
        + (accept or accept_key(client.key)).encode()
        + b"\r\n"
        + b"".join(line + b"\r\n" for line in extra)
        + b"\r\n"
    )


def test_client_accepts_minimal_response() -> None:
    client = ClientHandshake("a", compression=None)
    result = client.receive_data(response_for(client))
    assert result is not None and result.subprotocol is None and result.extensions == [] and result.leftover == b""


@pytest.mark.parametrize(
    "extra, accept",
    [
        ([b"Sec-WebSocket-Protocol: superchat"], None),
        ([b"Sec-WebSocket-Protocol: chat, chat"], None),
        ([b"Sec-WebSocket-Extensions: x-unknown"], None),
        ([b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=13"], None),
        (
            [
                b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12",
                b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12",
            ],
            None,
        ),
        ([b"Sec-WebSocket-Extensions: permessage-deflate;;"], None),
        ([], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ([b"Sec-WebSocket-Accept: " + ACCEPT.encode()], None),  # a second accept
    ],
)
def test_client_rejects_invalid_101(extra: list[bytes], accept: str | None) -> None:
    client = ClientHandshake("a", subprotocols=["chat"])
    with pytest.raises(HandshakeError) as info:
        client.receive_data(response_for(client, *extra, accept=accept))
    assert info.value.status == 0 and not isinstance(info.value, InvalidStatus)


VALID_101_FIELDS = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: {accept}\r\n"
)


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n",
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: {accept}\r\n\r\n"
        ),
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: {accept}\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"HTTP/1.1 10 Nope\r\n\r\n",
        b"SPDY/3 101 Switching Protocols\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n folded\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nNo colon\r\n\r\n",
        # The request parser's grammar (RFC 9112 sections 4 and 5), as strictly:
        b"HTTP/1.1 101\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n",
        (
            b"HTTP/1.1 101 Switching\x01\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: {accept}\r\n\r\n"
        ),
        (
            b"HTTP/2.0 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: {accept}\r\n\r\n"
        ),
        VALID_101_FIELDS + b"X-Bad: a\x01b\r\n\r\n",
        VALID_101_FIELDS + b"X-Bad: a\rb\r\n\r\n",
        VALID_101_FIELDS + b"Bad Name: x\r\n\r\n",
    ],
)
def test_client_rejects_malformed_responses(response: bytes) -> None:
    client = ClientHandshake("a", compression=None)
    with pytest.raises(HandshakeError) as info:
        client.receive_data(response.replace(b"{accept}", accept_key(client.key).encode()))
    assert info.value.status == 0


@pytest.mark.parametrize("status", [b"000", b"099", b"600", b"999"])
def test_client_rejects_status_outside_100_599(status: bytes) -> None:
    # Found by fuzzing (tests/fuzz): "000" was reported as InvalidStatus(0),
    # the status that means a malformed response.
    client = ClientHandshake("a", compression=None)
    with pytest.raises(HandshakeError) as info:
        client.receive_data(b"HTTP/1.1 " + status + b" Nope\r\nContent-Length: 0\r\n\r\n")
    assert type(info.value) is HandshakeError and info.value.status == 0


def test_client_case_insensitive_headers_and_connection_list() -> None:
    client = ClientHandshake("a", compression=None)
    response = (
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n"
        b"sec-websocket-accept: " + accept_key(client.key).encode() + b"\r\n\r\n"
    )
    assert client.receive_data(response) is not None


def test_client_invalid_status_with_body() -> None:
    client = ClientHandshake("a")
    head = b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\n"
    assert client.receive_data(head + b"Forb") is None
    with pytest.raises(InvalidStatus) as info:
        client.receive_data(b"idden")
    assert info.value.status == 403
    assert info.value.body == b"Forbidden"
    assert ("Content-Type", "text/plain") in info.value.headers


def test_client_invalid_status_without_length_raises_at_once() -> None:
    client = ClientHandshake("a")
    with pytest.raises(InvalidStatus) as info:
        client.receive_data(b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n")
    assert info.value.status == 500 and info.value.body == b""


@pytest.mark.parametrize("length", [b"\xb2", b"1, 2", b"-1", b"abc"])
def test_client_invalid_status_with_invalid_length_raises_at_once(length: bytes) -> None:
    client = ClientHandshake("a")
    with pytest.raises(InvalidStatus) as info:
        client.receive_data(b"HTTP/1.1 403 Forbidden\r\nContent-Length: " + length + b"\r\n\r\nabc")
    assert info.value.status == 403 and info.value.body == b""


def test_client_headers_lowercased_once_for_both_directions() -> None:
    client = ClientHandshake("a", compression=None, user_agent=None, key=KEY, headers=[("X-Token", " t ")])
    assert client.request_headers == [
        (b"host", b"a"),
        (b"upgrade", b"websocket"),
        (b"connection", b"Upgrade"),
        (b"sec-websocket-key", KEY.encode()),
        (b"sec-websocket-version", b"13"),
        (b"x-token", b"t"),
    ]
    result = client.receive_data(response_for(client, b"X-Served-By:  asgiws "))
    assert result is not None
    assert result.headers[-1] == ("X-Served-By", "asgiws")
    assert result.raw_headers == [
        (b"upgrade", b"websocket"),
        (b"connection", b"Upgrade"),
        (b"sec-websocket-accept", ACCEPT.encode()),
        (b"x-served-by", b"asgiws"),
    ]


def test_client_invalid_status_then_eof() -> None:
    client = ClientHandshake("a")
    assert client.receive_data(b"HTTP/1.1 404 Not Found\r\nContent-Length: 100\r\n\r\nnot") is None
    with pytest.raises(InvalidStatus) as info:
        client.receive_eof()
    assert info.value.status == 404 and info.value.body == b"not"


def test_client_eof_during_head() -> None:
    client = ClientHandshake("a")
    client.receive_data(b"HTTP/1.1 101 Switch")
    with pytest.raises(HandshakeError) as info:
        client.receive_eof()
    assert info.value.status == 0


def test_client_head_size_limit() -> None:
    client = ClientHandshake("a", max_head_size=1000)
    with pytest.raises(HandshakeError):
        client.receive_data(b"HTTP/1.1 101 Switching Protocols\r\nX-Big: " + b"a" * 1000)


def test_client_header_count_limit() -> None:
    client = ClientHandshake("a", max_headers=3)
    with pytest.raises(HandshakeError):
        client.receive_data(b"HTTP/1.1 101 Switching Protocols\r\n" + b"X-A: b\r\n" * 4 + b"\r\n")


def test_client_compression_negotiated_with_window_limits() -> None:
    client = ClientHandshake("a", compression=DeflateSettings(window_bits=10))
    assert (
        b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10; client_max_window_bits=10\r\n"
        in client.request
    )
    result = client.receive_data(
        response_for(client, b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9")
    )
    assert result is not None
    (extension,) = result.extensions
    assert (extension.remote_max_window_bits, extension.local_max_window_bits) == (9, 10)


# --- Interop with the websockets library's sans-I/O side ------------------------


def test_interop_websockets_server_with_our_client() -> None:
    server_module = pytest.importorskip("websockets.server")
    wspmd = pytest.importorskip("websockets.extensions.permessage_deflate")
    server = server_module.ServerProtocol(
        subprotocols=["chat"], extensions=[wspmd.ServerPerMessageDeflateFactory(server_max_window_bits=11)]
    )
    client = ClientHandshake("localhost", 8765, "/path?q=1", subprotocols=["chat", "other"])
    server.receive_data(client.request)
    (request,) = server.events_received()
    assert request.path == "/path?q=1"
    server.send_response(server.accept(request))
    server.send_text(b"Hello from websockets")
    result = client.receive_data(b"".join(server.data_to_send()))
    assert result is not None and result.subprotocol == "chat"
    (extension,) = result.extensions
    assert extension.remote_max_window_bits == 11
    # The first frame, unmasked from server to client: 2-byte header, then payload.
    header, payload = result.leftover[:2], result.leftover[2:]
    assert header[0] == 0xC1  # FIN + RSV1 + text
    assert extension.decode(Frame(Opcode.TEXT, payload, rsv1=True), max_size=None).payload == b"Hello from websockets"


def test_interop_websockets_client_with_our_server() -> None:
    client_module = pytest.importorskip("websockets.client")
    uri_module = pytest.importorskip("websockets.uri")
    wspmd = pytest.importorskip("websockets.extensions.permessage_deflate")
    ws = client_module.ClientProtocol(
        uri_module.parse_uri("ws://localhost:8765/chat"),
        subprotocols=["superchat", "chat"],
        extensions=[wspmd.ClientPerMessageDeflateFactory()],
    )
    ws.send_request(ws.connect())
    data = b"".join(ws.data_to_send())
    assert data.startswith(b"GET /chat HTTP/1.1\r\n")
    request = parse_upgrade_request(read_request(data))
    response, (extension,) = accept_response(request, subprotocol="chat")
    ws.receive_data(response)
    events = ws.events_received()
    assert ws.handshake_exc is None
    assert events[0].status_code == 101
    assert ws.subprotocol == "chat"
    assert [type(x).__name__ for x in ws.extensions] == ["PerMessageDeflate"]


def test_interop_websockets_client_exchanges_compressed_messages() -> None:
    client_module = pytest.importorskip("websockets.client")
    uri_module = pytest.importorskip("websockets.uri")
    wspmd = pytest.importorskip("websockets.extensions.permessage_deflate")
    ws = client_module.ClientProtocol(
        uri_module.parse_uri("ws://localhost/"), extensions=[wspmd.ClientPerMessageDeflateFactory()]
    )
    ws.send_request(ws.connect())
    response, (extension,) = accept_response(parse_upgrade_request(read_request(b"".join(ws.data_to_send()))))
    ws.receive_data(response)
    for text in [b"Hello", b"Hello", b"x" * 100, b""]:
        frame = extension.encode(Frame(Opcode.TEXT, text))
        assert frame.rsv1 and len(frame.payload) < 126
        ws.receive_data(bytes([0xC1, len(frame.payload)]) + frame.payload)
    messages = [event.data for event in ws.events_received()[1:]]
    assert messages == [b"Hello", b"Hello", b"x" * 100, b""]
