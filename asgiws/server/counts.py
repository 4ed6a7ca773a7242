"""`MessageCounts`: the WebSocket messages of a connection, or of a server, each way, with their payload bytes.

A WebSocket protocol counts its messages in one when the access log (its
close line says how many each way) or metrics want them; the metrics' own
is the server's total, which each connection's adds to as it goes, and
which `ServerMetrics.sync()` moves into the Prometheus counters. Plain
integers: a message costs a few additions, not a Prometheus increment.
"""

from __future__ import annotations

__all__ = ["MessageCounts"]


class MessageCounts:
    """Messages and their payload bytes, each way: one connection's, or a server's (`total`, for metrics).

    A connection's counts add to `total` as they go, when there is one.
    Text counts as its UTF-8 bytes, encoded only when it is not ASCII
    (`str.isascii()` reads a flag).
    """

    __slots__ = ("bytes_in", "bytes_out", "messages_in", "messages_out", "total")

    def __init__(self, total: MessageCounts | None = None) -> None:
        self.messages_in = self.bytes_in = self.messages_out = self.bytes_out = 0
        self.total = total

    def received(self, data: str | bytes) -> None:
        size = len(data.encode()) if type(data) is str and not data.isascii() else len(data)
        self.messages_in += 1
        self.bytes_in += size
        total = self.total
        if total is not None:
            total.messages_in += 1
            total.bytes_in += size

    def sent(self, data: str | bytes) -> None:
        size = len(data.encode()) if type(data) is str and not data.isascii() else len(data)
        self.messages_out += 1
        self.bytes_out += size
        total = self.total
        if total is not None:
            total.messages_out += 1
            total.bytes_out += size
