"""A published message, and its offset: where it sits in its topic's history.

A position is ``(epoch, seq)``: `seq` counts a topic's messages from 1, and
`epoch` names that count. A topic gets a new epoch whenever its history
starts again (first use, expiry, a broker that lost its data), taken from a
clock, so positions of later epochs compare greater. The offset is the
position written as fixed-width hex, so offsets of a topic compare as
strings in the order of their messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Message", "Position", "format_offset", "parse_offset"]

Position = tuple[int, int]

_OFFSET = re.compile(r"([0-9a-f]{14})-([0-9a-f]{16})")


def format_offset(position: Position) -> str:
    """The offset string of `position`: 14 + 16 hex digits (microseconds, count)."""
    return f"{position[0]:014x}-{position[1]:016x}"


def parse_offset(offset: str) -> Position:
    """The position an offset string names; ValueError if it is not one."""
    match = _OFFSET.fullmatch(offset) if isinstance(offset, str) else None
    if match is None:
        raise ValueError(f"not a PubSub offset: {offset!r}")
    return int(match[1], 16), int(match[2], 16)


@dataclass(frozen=True, slots=True, repr=False)
class Message:
    """One message of `topic`: `data` as published (str or bytes), and its `offset`."""

    topic: str
    data: str | bytes
    position: Position = field(repr=False)

    @property
    def offset(self) -> str:
        """Opaque and ordered: pass it to `subscribe(since=...)` to get the messages after this one."""
        return format_offset(self.position)

    def __repr__(self) -> str:
        return f"Message(topic={self.topic!r}, data={self.data!r}, offset={self.offset!r})"
