"""Publish/subscribe for WebSocket apps: in one process, or across processes and machines on Redis.

``PubSub`` is the entry point; see its docstring for the guarantees
(order, no duplicates, bounded history, recovery after a broken broker
connection) and `Subscription` for the policy towards slow subscribers.
It is app-level code: it talks to WebSockets through `open` and
``send()`` only, and never imports the server.
"""

from .errors import BrokerUnavailable, HistoryLost, PubSubError
from .message import Message
from .pubsub import PubSub
from .subscription import Subscription

__all__ = ["BrokerUnavailable", "HistoryLost", "Message", "PubSub", "PubSubError", "Subscription"]
