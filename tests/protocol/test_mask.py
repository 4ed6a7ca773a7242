"""RFC 6455 section 5.3: masking, C accelerator and pure-Python fallback."""

from __future__ import annotations

import importlib
import os
import sys

import pytest

from asgiws.protocol import mask as mask_module
from asgiws.protocol import native
from asgiws.protocol.mask import apply_mask, py_apply_mask

speedups = pytest.importorskip("asgiws.protocol._speedups")


def reference_mask(data: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def test_rfc_6455_example() -> None:
    # Section 5.7: "Hello" masked with 37 fa 21 3d.
    key = bytes.fromhex("37fa213d")
    assert apply_mask(b"Hello", key) == bytes.fromhex("7f9f4d5158")
    assert py_apply_mask(b"Hello", key) == bytes.fromhex("7f9f4d5158")


def test_c_accelerator_is_used_when_built() -> None:
    assert apply_mask is (speedups.apply_mask if native.ENABLED else py_apply_mask)


@pytest.mark.parametrize("offset", [0, 1, 2, 3])
def test_c_and_fallback_agree_for_every_small_length_and_alignment(offset: int) -> None:
    buf = bytearray(os.urandom(80))
    key = bytes.fromhex("a1b2c3d4")
    for n in range(71):
        data = memoryview(buf)[offset : offset + n]
        expected = reference_mask(bytes(data), key)
        assert speedups.apply_mask(data, key) == expected, n
        assert py_apply_mask(data, key) == expected, n


def test_large_payload_matches_websockets() -> None:
    ws_speedups = pytest.importorskip("websockets.speedups")
    data = os.urandom(2**20 + 13)
    key = os.urandom(4)
    assert apply_mask(data, key) == ws_speedups.apply_mask(data, key) == py_apply_mask(data, key)


def test_mask_is_an_involution() -> None:
    data = os.urandom(1000)
    key = os.urandom(4)
    assert apply_mask(apply_mask(data, key), key) == data


@pytest.mark.parametrize("func", [speedups.apply_mask, py_apply_mask])
def test_mask_must_be_four_bytes(func) -> None:
    with pytest.raises(ValueError):
        func(b"abc", b"123")


@pytest.mark.parametrize("func", [speedups.apply_mask, py_apply_mask])
def test_accepts_any_bytes_like(func) -> None:
    key = b"\x01\x02\x03\x04"
    assert func(bytearray(b"\x00" * 6), bytearray(key)) == b"\x01\x02\x03\x04\x01\x02"
    assert type(func(memoryview(b"ab"), key)) is bytes


def test_fallback_used_when_extension_missing() -> None:
    saved = sys.modules.pop("asgiws.protocol._speedups", None)
    sys.modules["asgiws.protocol._speedups"] = None  # type: ignore[assignment]  # makes the import fail
    try:
        reloaded = importlib.reload(mask_module)
        assert reloaded.apply_mask is reloaded.py_apply_mask
    finally:
        del sys.modules["asgiws.protocol._speedups"]
        if saved is not None:
            sys.modules["asgiws.protocol._speedups"] = saved
        importlib.reload(mask_module)
    assert mask_module.apply_mask is (speedups.apply_mask if native.ENABLED else mask_module.py_apply_mask)
