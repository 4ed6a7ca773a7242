"""RFC 6455 section 5.3: client-to-server masking.

`apply_mask(data, mask)` XORs `data` with the 4-byte `mask` repeated; the
same call masks and unmasks. The C accelerator (`_speedups.c`) is used when it
was built (and not turned off, see `native`); otherwise a pure-Python version XORs the payload as one big integer,
which is far faster than a per-byte loop.
"""

from __future__ import annotations

from . import native

__all__ = ["apply_mask", "py_apply_mask"]


def py_apply_mask(data: bytes | bytearray | memoryview, mask: bytes | bytearray) -> bytes:
    """XOR `data` with `mask` (4 bytes) repeated, in pure Python."""
    if len(mask) != 4:
        raise ValueError("mask must contain 4 bytes")
    n = len(data)
    if n == 0:
        return b""
    key = int.from_bytes(mask * ((n + 3) >> 2), "little")
    # Big integers XOR word by word in C; truncate the key to n bytes.
    return (int.from_bytes(data, "little") ^ (key & ((1 << (n << 3)) - 1))).to_bytes(n, "little")


if native.ENABLED:
    try:
        from ._speedups import apply_mask
    except ImportError:  # no compiler when installed: fall back, as websockets does
        apply_mask = py_apply_mask
else:
    apply_mask = py_apply_mask
