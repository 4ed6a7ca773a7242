"""Types of the C accelerator built from `_speedups.c` (see `mask.py` and `frames.py`)."""

from collections.abc import Callable
from typing import Any

def apply_mask(data: bytes | bytearray | memoryview, mask: bytes | bytearray, /) -> bytes:
    """XOR `data` with the 4-byte `mask`, repeated."""

def read_messages(
    buf: bytes | bytearray,
    pos: int,
    require_mask: bool,
    max_payload: int,
    events: list[Any],
    text_event: Callable[[str], Any],
    binary_event: Callable[[bytes], Any],
    /,
) -> int:
    """Append the complete unfragmented data frames from `buf[pos:]` as events; the position after them."""

def data_frame(first_byte: int, payload: str | bytes | bytearray | memoryview, /) -> bytes:
    """An unmasked frame with `first_byte`; a str payload (text opcode only) is encoded to UTF-8."""
