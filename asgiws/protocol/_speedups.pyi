"""Types of the C accelerator built from `_speedups.c` (see `mask.py`)."""

def apply_mask(data: bytes | bytearray | memoryview, mask: bytes | bytearray, /) -> bytes:
    """XOR `data` with the 4-byte `mask`, repeated."""
