"""How long to wait before trying an unavailable broker again."""

from __future__ import annotations

import random
from collections.abc import Iterator

__all__ = ["backoff"]

#: The first wait, and the longest, in seconds.
FIRST_DELAY = 0.05
MAX_DELAY = 5.0


def backoff(first: float = FIRST_DELAY, maximum: float = MAX_DELAY) -> Iterator[float]:
    """Waits doubling from `first` up to `maximum`, each drawn from its upper half.

    The jitter keeps many processes that lost the same broker from all
    knocking at the same instant when it comes back.
    """
    delay = first
    while True:
        yield delay * random.uniform(0.5, 1.0)
        delay = min(delay * 2, maximum)
