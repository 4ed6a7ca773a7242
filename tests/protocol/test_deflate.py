"""RFC 7692: permessage-deflate header grammar, negotiation and the extension itself."""

from __future__ import annotations

import tracemalloc
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgiws.protocol import limits
from asgiws.protocol.deflate import (
    DeflateSettings,
    ExtensionOffer,
    PerMessageDeflate,
    parse_extensions,
    serialize_extensions,
)
from asgiws.protocol.errors import HandshakeError, MessageTooBig, WebSocketProtocolError
from asgiws.protocol.extensions import RSV1
from asgiws.protocol.frames import Frame, Opcode

TEXT, BINARY, CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONTINUATION


def compressed(payload: str, opcode: int = TEXT, fin: bool = True, rsv1: bool = True) -> Frame:
    return Frame(opcode, bytes.fromhex(payload), fin=fin, rsv1=rsv1)


# --- Header grammar, RFC 6455 section 9.1 ----------------------------------


@pytest.mark.parametrize(
    "values, offers",
    [
        (["permessage-deflate"], [ExtensionOffer("permessage-deflate", [])]),
        (
            ["permessage-deflate; client_max_window_bits"],
            [ExtensionOffer("permessage-deflate", [("client_max_window_bits", None)])],
        ),
        (
            [b"permessage-deflate;server_max_window_bits=10 ; client_no_context_takeover"],
            [
                ExtensionOffer(
                    "permessage-deflate", [("server_max_window_bits", "10"), ("client_no_context_takeover", None)]
                )
            ],
        ),
        (
            ['permessage-deflate; server_max_window_bits="10", permessage-deflate'],
            [
                ExtensionOffer("permessage-deflate", [("server_max_window_bits", "10")]),
                ExtensionOffer("permessage-deflate", []),
            ],
        ),
        (["x-foo", "x-bar; a=1"], [ExtensionOffer("x-foo", []), ExtensionOffer("x-bar", [("a", "1")])]),
        ([" , x-foo ,, "], [ExtensionOffer("x-foo", [])]),
        ([], []),
    ],
)
def test_parse_extensions(values: list, offers: list) -> None:
    assert parse_extensions(values) == offers


@pytest.mark.parametrize(
    "value",
    ["permessage-deflate; ", "a b", "a; b=", 'a; b="c d"', 'a; b="unterminated', "a; =1", "a;; b", "(a)"],
)
def test_parse_extensions_rejects_malformed(value: str) -> None:
    with pytest.raises(ValueError):
        parse_extensions([value])


def test_serialize_round_trip() -> None:
    value = "permessage-deflate; client_no_context_takeover; server_max_window_bits=10, x-foo"
    assert serialize_extensions(parse_extensions([value])) == value


# --- Server negotiation, RFC 7692 section 7.1 -------------------------------


@pytest.mark.parametrize(
    "offer, response",
    [
        # Browsers' offer: limit the client's window too.
        ("permessage-deflate; client_max_window_bits", "server_max_window_bits=12; client_max_window_bits=12"),
        # No client_max_window_bits offered: we must not send it (7.1.2.2).
        ("permessage-deflate", "server_max_window_bits=12"),
        ("permessage-deflate; client_max_window_bits=10", "server_max_window_bits=12; client_max_window_bits=10"),
        ("permessage-deflate; server_max_window_bits=10", "server_max_window_bits=10"),
        ("permessage-deflate; server_max_window_bits=15", "server_max_window_bits=12"),
        ("permessage-deflate; server_max_window_bits=9", "server_max_window_bits=9"),
        ("permessage-deflate; server_no_context_takeover", "server_no_context_takeover; server_max_window_bits=12"),
        ("permessage-deflate; client_no_context_takeover", "client_no_context_takeover; server_max_window_bits=12"),
        ('permessage-deflate; server_max_window_bits="11"', "server_max_window_bits=11"),
        ("PerMessage-Deflate; client_max_window_bits", "server_max_window_bits=12; client_max_window_bits=12"),
        # Invalid offers are skipped, the next acceptable one wins.
        ("permessage-deflate; foo, permessage-deflate", "server_max_window_bits=12"),
        ("permessage-deflate; server_max_window_bits=8, permessage-deflate", "server_max_window_bits=12"),
        (
            "x-unknown, permessage-deflate; client_max_window_bits=9",
            "server_max_window_bits=12; client_max_window_bits=9",
        ),
    ],
)
def test_server_negotiation(offer: str, response: str) -> None:
    negotiated = DeflateSettings().negotiate(parse_extensions([offer]))
    assert negotiated is not None
    assert serialize_extensions([negotiated[0]]) == "permessage-deflate; " + response


@pytest.mark.parametrize(
    "offer",
    [
        "x-unknown",
        "permessage-deflate; unknown_param",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; client_max_window_bits=9; client_max_window_bits=10",
    ],
)
def test_server_declines(offer: str) -> None:
    assert DeflateSettings().negotiate(parse_extensions([offer])) is None


def test_server_settings_shape_the_response_and_extension() -> None:
    settings_ = DeflateSettings(window_bits=15, server_no_context_takeover=True, client_no_context_takeover=True)
    response, extension = settings_.negotiate(parse_extensions(["permessage-deflate; client_max_window_bits"]))
    assert serialize_extensions([response]) == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=15"
    )
    assert extension.local_no_context_takeover and extension.remote_no_context_takeover
    assert (extension.local_max_window_bits, extension.remote_max_window_bits) == (15, 15)


def test_window_bits_8_compresses_with_9() -> None:
    response, extension = DeflateSettings(window_bits=8).negotiate(parse_extensions(["permessage-deflate"]))
    assert serialize_extensions([response]) == "permessage-deflate; server_max_window_bits=9"
    assert extension.local_max_window_bits == 9
    assert extension.remote_max_window_bits == 15  # the client may use any window


def test_settings_validation() -> None:
    with pytest.raises(ValueError):
        DeflateSettings(window_bits=16)
    with pytest.raises(ValueError):
        DeflateSettings(mem_level=0)
    with pytest.raises(ValueError):
        DeflateSettings(level=10)


@pytest.mark.parametrize("level", [None, 1, 9])
def test_messages_are_compressed_at_the_settings_level(level: int | None) -> None:
    settings = DeflateSettings() if level is None else DeflateSettings(level=level)
    expected_level = limits.DEFLATE_LEVEL if level is None else level
    for answer in (
        settings.negotiate(parse_extensions(["permessage-deflate"])),
        (None, settings.accept_response([("server_max_window_bits", "12")])),
    ):
        assert answer is not None
        extension = answer[1]
        text = b'{"type":"update","items":[1,2,3],"user":"someone"}' * 20
        reference = zlib.compressobj(
            expected_level, zlib.DEFLATED, -extension.local_max_window_bits, extension.mem_level
        )
        data = reference.compress(text) + reference.flush(zlib.Z_SYNC_FLUSH)
        assert extension.encode(Frame(Opcode.TEXT, text)).payload == data[:-4]


# --- Client offer and response validation ------------------------------------


def test_client_offer() -> None:
    assert serialize_extensions([DeflateSettings().offer()]) == (
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    )
    assert serialize_extensions([DeflateSettings(window_bits=15).offer()]) == (
        "permessage-deflate; client_max_window_bits=15"
    )


@pytest.mark.parametrize(
    "response, expected",
    [
        ("server_max_window_bits=12", (False, False, 12, 12)),
        ("server_max_window_bits=10; client_max_window_bits=9", (False, False, 10, 9)),
        ("server_no_context_takeover; server_max_window_bits=12", (True, False, 12, 12)),
        ("client_no_context_takeover; server_max_window_bits=12", (False, True, 12, 12)),
        # RFC 7692 7.1.2.2: the server may ignore the value offered (Autobahn's answers 15):
        # we keep compressing with the window we offered, which fits the one it allows.
        ("server_max_window_bits=12; client_max_window_bits=15", (False, False, 12, 12)),
    ],
)
def test_client_accepts(response: str, expected: tuple) -> None:
    (answer,) = parse_extensions(["permessage-deflate; " + response])
    ext = DeflateSettings().accept_response(answer.params)
    assert (
        ext.remote_no_context_takeover,
        ext.local_no_context_takeover,
        ext.remote_max_window_bits,
        ext.local_max_window_bits,
    ) == expected


@pytest.mark.parametrize(
    "response",
    [
        "",  # we offered server_max_window_bits: the server must answer it
        "server_max_window_bits=13",  # larger than offered
        "server_max_window_bits=12; client_max_window_bits",  # no value in a response
        "server_max_window_bits=12; client_max_window_bits=8",  # zlib cannot
        "server_max_window_bits=12; foo",
        "server_max_window_bits=12; server_max_window_bits=12",
        "server_max_window_bits=12; server_no_context_takeover=x",
    ],
)
def test_client_rejects(response: str) -> None:
    (answer,) = parse_extensions(["permessage-deflate" + ("; " + response if response else "")])
    with pytest.raises(HandshakeError):
        DeflateSettings().accept_response(answer.params)


def test_client_without_window_limit_accepts_any_server_window() -> None:
    ext = DeflateSettings(window_bits=15).accept_response([("server_max_window_bits", "15")])
    assert ext.remote_max_window_bits == 15
    ext = DeflateSettings(window_bits=15).accept_response([])
    assert ext.remote_max_window_bits == 15


def test_client_requires_server_no_context_takeover_echo() -> None:
    with pytest.raises(HandshakeError):
        DeflateSettings(server_no_context_takeover=True).accept_response([("server_max_window_bits", "12")])


# --- RFC 7692 section 7.2.3 examples, decoded byte for byte -------------------


def test_7_2_3_1_single_message() -> None:
    ext = PerMessageDeflate()
    assert ext.decode(compressed("f248cdc9c90700"), max_size=None) == Frame(TEXT, b"Hello")


def test_7_2_3_1_fragmented() -> None:
    ext = PerMessageDeflate()
    first = ext.decode(compressed("f248cd", fin=False), max_size=None)
    second = ext.decode(compressed("c9c90700", opcode=CONT, rsv1=False), max_size=None)
    assert (first, second) == (Frame(TEXT, b"He", fin=False), Frame(CONT, b"llo"))


def test_7_2_3_1_encodes_hello() -> None:
    ext = PerMessageDeflate()
    assert ext.encode(Frame(TEXT, b"Hello")) == compressed("f248cdc9c90700")


def test_7_2_3_2_sharing_context() -> None:
    ext = PerMessageDeflate()
    assert ext.decode(compressed("f248cdc9c90700"), max_size=None).payload == b"Hello"
    assert ext.decode(compressed("f200110000"), max_size=None).payload == b"Hello"
    # And our encoder produces exactly that second message too.
    encoder = PerMessageDeflate()
    encoder.encode(Frame(TEXT, b"Hello"))
    assert encoder.encode(Frame(TEXT, b"Hello")) == compressed("f200110000")


def test_7_2_3_2_no_context_takeover_sends_the_same_bytes_twice() -> None:
    encoder = PerMessageDeflate(local_no_context_takeover=True)
    assert (
        encoder.encode(Frame(TEXT, b"Hello")) == encoder.encode(Frame(TEXT, b"Hello")) == compressed("f248cdc9c90700")
    )


def test_7_2_3_3_no_compression_block() -> None:
    ext = PerMessageDeflate()
    assert ext.decode(compressed("000500faff48656c6c6f00"), max_size=None).payload == b"Hello"


def test_7_2_3_4_bfinal_set() -> None:
    ext = PerMessageDeflate()
    assert ext.decode(compressed("f348cdc9c90700"), max_size=None).payload == b"Hello"
    # The stream ended: the next message must start a fresh one.
    assert ext.decode(compressed("f348cdc9c90700"), max_size=None).payload == b"Hello"


def test_7_2_3_5_two_deflate_blocks() -> None:
    ext = PerMessageDeflate()
    assert ext.decode(compressed("f24805000000ffffcac9c90700"), max_size=None).payload == b"Hello"


def test_7_2_3_6_empty_message() -> None:
    encoder, decoder = PerMessageDeflate(), PerMessageDeflate()
    frame = encoder.encode(Frame(BINARY, b""))
    assert frame == Frame(BINARY, b"\x00", rsv1=True)
    assert decoder.decode(frame, max_size=0) == Frame(BINARY, b"")


# --- Frame rules (RFC 7692 section 6) -----------------------------------------


def test_declares_rsv1() -> None:
    assert PerMessageDeflate.rsv_bits == RSV1
    assert PerMessageDeflate.name == "permessage-deflate"


def test_uncompressed_message_passes_through() -> None:
    ext = PerMessageDeflate()
    first = Frame(BINARY, b"raw", fin=False)
    last = Frame(CONT, b"data")
    assert ext.decode(first, max_size=None) is first
    assert ext.decode(last, max_size=None) is last


def test_rsv1_on_continuation_is_a_protocol_error() -> None:
    ext = PerMessageDeflate()
    ext.decode(compressed("f248cd", fin=False), max_size=None)
    with pytest.raises(WebSocketProtocolError) as info:
        ext.decode(compressed("c9c90700", opcode=CONT), max_size=None)
    assert info.value.close_code == 1002


def test_rsv1_on_control_frame_is_a_protocol_error() -> None:
    ext = PerMessageDeflate()
    with pytest.raises(WebSocketProtocolError):
        ext.decode(Frame(Opcode.PING, b"", rsv1=True), max_size=None)


def test_control_frames_untouched() -> None:
    ext = PerMessageDeflate()
    ping = Frame(Opcode.PING, b"hi")
    assert ext.encode(ping) is ping
    assert ext.decode(ping, max_size=None) is ping


def test_rsv1_only_on_first_encoded_frame() -> None:
    ext = PerMessageDeflate()
    frames = [ext.encode(Frame(TEXT, b"a" * 10, fin=False)), ext.encode(Frame(CONT, b"b" * 10))]
    assert [frame.rsv1 for frame in frames] == [True, False]


def test_invalid_compressed_data() -> None:
    ext = PerMessageDeflate()
    with pytest.raises(WebSocketProtocolError):
        ext.decode(compressed("ffffffff"), max_size=None)


# --- Size limits ------------------------------------------------------------


def test_exactly_max_size_passes_and_one_more_fails() -> None:
    encoder = PerMessageDeflate()
    frame = encoder.encode(Frame(BINARY, b"x" * 1000))
    assert PerMessageDeflate().decode(frame, max_size=1000).payload == b"x" * 1000
    with pytest.raises(MessageTooBig) as info:
        PerMessageDeflate().decode(frame, max_size=999)
    assert info.value.close_code == 1009


def test_zip_bomb_stops_at_max_size() -> None:
    compressor = zlib.compressobj(wbits=-15)
    bomb = compressor.compress(bytes(100 * 2**20)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert len(bomb) < 200_000
    frame = Frame(BINARY, bomb[:-4], rsv1=True)
    ext = PerMessageDeflate()
    tracemalloc.start()
    try:
        with pytest.raises(MessageTooBig):
            ext.decode(frame, max_size=2**20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20  # the 1 MiB + 1 output and the input copy, not 100 MiB


def test_zip_bomb_across_fragments_uses_remaining_budget() -> None:
    # The connection passes the budget left for the message in each call.
    compressor = zlib.compressobj(wbits=-15)
    chunk = compressor.compress(bytes(2**20)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    ext = PerMessageDeflate()
    assert len(ext.decode(Frame(BINARY, chunk, fin=False, rsv1=True), max_size=2**20 + 10).payload) == 2**20
    with pytest.raises(MessageTooBig):
        ext.decode(Frame(CONT, chunk, fin=False), max_size=10)


# --- Round trips --------------------------------------------------------------


def fragments(message: bytes, cuts: list[int]) -> list[Frame]:
    points = sorted({cut % (len(message) + 1) for cut in cuts})
    pieces = [message[a:b] for a, b in zip([0, *points], [*points, len(message)], strict=True)]
    return [
        Frame(BINARY if index == 0 else CONT, piece, fin=index == len(pieces) - 1)
        for index, piece in enumerate(pieces)
    ]


@settings(max_examples=60, deadline=None)
@given(
    messages=st.lists(
        st.tuples(
            st.binary(max_size=3000) | st.text(max_size=500).map(str.encode), st.lists(st.integers(0, 5000), max_size=4)
        ),
        min_size=1,
        max_size=6,
    ),
    local_nct=st.booleans(),
    window_bits=st.integers(9, 15),
)
def test_round_trip(messages: list, local_nct: bool, window_bits: int) -> None:
    encoder = PerMessageDeflate(local_no_context_takeover=local_nct, local_max_window_bits=window_bits, mem_level=5)
    decoder = PerMessageDeflate(remote_no_context_takeover=local_nct, remote_max_window_bits=window_bits)
    for message, cuts in messages:
        received = []
        for frame in fragments(message, cuts):
            encoded = encoder.encode(frame)
            assert encoded.rsv1 == (frame.opcode != CONT)
            decoded = decoder.decode(encoded, max_size=len(message))
            assert decoded.opcode == frame.opcode and decoded.fin == frame.fin and not decoded.rsv1
            received.append(decoded.payload)
        assert b"".join(received) == message


def test_negotiated_pair_round_trips() -> None:
    server_settings, client_settings = DeflateSettings(), DeflateSettings()
    response, server = server_settings.negotiate([client_settings.offer()])
    client = client_settings.accept_response(response.params)
    for text in [b"hello", b"hello" * 1000, b""]:
        assert client.decode(server.encode(Frame(TEXT, text)), max_size=None).payload == text
        assert server.decode(client.encode(Frame(TEXT, text)), max_size=None).payload == text


# --- Interop with the websockets library's implementation ----------------------


@pytest.mark.parametrize("nct", [False, True])
def test_interop_with_websockets(nct: bool) -> None:
    wsframes = pytest.importorskip("websockets.frames")
    wspmd = pytest.importorskip("websockets.extensions.permessage_deflate")

    # websockets as the client, us as the server.
    factory = wspmd.ClientPerMessageDeflateFactory(
        client_max_window_bits=True, server_no_context_takeover=nct, client_no_context_takeover=nct
    )
    offer = serialize_extensions([ExtensionOffer("permessage-deflate", factory.get_request_params())])
    response, ours = DeflateSettings().negotiate(parse_extensions([offer]))
    theirs = factory.process_response_params(response.params, [])

    # websockets as the server, us as the client.
    server_factory = wspmd.ServerPerMessageDeflateFactory(server_max_window_bits=11)
    (offer2,) = parse_extensions([serialize_extensions([DeflateSettings().offer()])])
    response2, theirs2 = server_factory.process_request_params(offer2.params, [])
    ours2 = DeflateSettings().accept_response(response2)
    assert ours2.remote_max_window_bits == 11

    for a, b in [(ours, theirs), (ours2, theirs2)]:
        for text in [b"Hello", b"Hello", "caf\u00e9 ".encode() * 300, b""]:
            frame = a.encode(Frame(TEXT, text))
            assert frame.rsv1
            got = b.decode(wsframes.Frame(wsframes.Opcode.TEXT, frame.payload, rsv1=True), max_size=None)
            assert got.data == text
            back = b.encode(wsframes.Frame(wsframes.Opcode.TEXT, text))
            assert a.decode(Frame(TEXT, back.data, rsv1=back.rsv1), max_size=None).payload == text


def test_budget_restarts_with_each_message_in_a_connection() -> None:
    # A compressed message right after a fragmented one gets the whole max_size.
    connection = pytest.importorskip("asgiws.protocol.connection")
    encoder = PerMessageDeflate()
    frames = [
        encoder.encode(Frame(BINARY, bytes(range(250)) * 2, fin=False)),
        encoder.encode(Frame(CONT, bytes(range(250)) * 2)),
        encoder.encode(Frame(BINARY, bytes(range(200)) * 3)),
    ]

    def wire(frame: Frame) -> bytes:
        first = (0x80 if frame.fin else 0) | (0x40 if frame.rsv1 else 0) | frame.opcode
        # Masked (client to server) with a zero key, 16-bit length.
        return bytes([first, 0x80 | 126]) + len(frame.payload).to_bytes(2, "big") + b"\x00" * 4 + frame.payload

    conn = connection.WebSocketConnection(connection.Side.SERVER, extensions=[PerMessageDeflate()], max_size=1000)
    events = conn.receive_data(b"".join(wire(frame) for frame in frames))
    assert [len(event.data) for event in events] == [1000, 600]
