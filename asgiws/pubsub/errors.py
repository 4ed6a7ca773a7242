"""What `PubSub` raises, each error carrying the HTTP status or close code it maps to."""

from __future__ import annotations

__all__ = ["PubSubError", "BrokerUnavailable", "HistoryLost"]


class PubSubError(Exception):
    """Base class of the errors `asgiws.PubSub` raises."""


class BrokerUnavailable(PubSubError, ConnectionError):
    """The broker (Redis) did not answer within `PubSub(timeout=...)`, or refused the connection.

    Raised by `publish()` -- the message may or may not have been published
    if the connection broke while it was being sent -- and by `subscribe()`
    and `join()` when they need the broker to set up a topic. Existing
    subscriptions never see it: they reconnect by themselves. An HTTP
    handler can answer with `status`; a WebSocket can close with `close_code`.
    """

    status = 503  # Service Unavailable
    close_code = 1013  # Try Again Later


class HistoryLost(PubSubError):
    """Messages of `topic` after `offset` are gone: the topic's history no longer reaches back that far.

    A subscription raises it from its iterator at the point of the gap, once
    (a restarted broker that lost its data, a history trimmed by size or
    age, or a subscriber that fell further behind than the history). The
    same iterator goes on afterwards with the oldest messages still there,
    so catch it, reload what you show from your own source of truth, and
    keep iterating. A joined WebSocket is closed with `close_code` instead:
    1012 (Service Restart) tells a browser to reconnect and reload.
    """

    close_code = 1012

    def __init__(self, topic: str, offset: str | None) -> None:
        super().__init__(
            f"topic {topic!r}: history no longer reaches back to offset {offset}; messages after it were lost"
        )
        self.topic = topic
        self.offset = offset
