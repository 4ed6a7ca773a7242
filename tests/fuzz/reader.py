"""How a harness reads its input: a few option bytes, then the bytes of the stream.

Every harness takes one `bytes` and nothing else, so that libFuzzer (through
atheris) mutates it freely and a corpus file replays the same run under
pytest without atheris. The leading bytes choose the harness' options (which
side, which limits, where the stream is split); the rest is what the peer
sends. A short input simply gets zeros for the options it lacks.
"""

from __future__ import annotations

import random
from collections.abc import Iterator


class FuzzInput:
    """Reads option bytes off the front of a fuzzer's input; `rest()` is the stream."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def byte(self) -> int:
        """The next byte, 0 past the end."""
        pos = self._pos
        self._pos = pos + 1
        return self._data[pos] if pos < len(self._data) else 0

    def rest(self) -> bytes:
        """Everything not read yet."""
        data = self._data[self._pos :]
        self._pos = len(self._data)
        return data


def options_seed_stream(data: bytes) -> tuple[int, int, bytes]:
    """The layout most harnesses share: an options byte, a split seed for `chunks`, the stream."""
    reader = FuzzInput(data)
    options = reader.byte()
    return options, reader.byte(), reader.rest()


def chunks(data: bytes, seed: int) -> Iterator[bytes]:
    """`data` in pieces: whole when `seed` is 0, else cut at points that `seed` picks.

    Seeds below 128 cut into pieces of 1 to `seed` bytes (byte-by-byte at
    1), the others into pieces of up to a quarter of the data, so that both
    a trickle and a few large reads are tried. The cuts depend on the seed
    alone, so a corpus file replays identically.
    """
    if seed == 0 or not data:
        yield data
        return
    rng = random.Random(seed)
    largest = seed if seed < 128 else max(1, len(data) // 4)
    pos = 0
    while pos < len(data):
        size = rng.randint(1, largest)
        yield data[pos : pos + size]
        pos += size
