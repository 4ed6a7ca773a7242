"""The asyncio connection layer: what a connection needs of a clock and a socket, written once.

Between the sans-I/O protocol core (`asgiws.protocol`), which it alone
imports, and its users: the server (`asgiws.server`) and the client
(`asgiws.client`). `Connection` is one WebSocket connection on an asyncio
transport, for both ends; `FlowControl` is the read pausing and write
backpressure of any connection, HTTP ones included.
"""

from .flow_control import FlowControl
from .websocket import Connection

__all__ = ["Connection", "FlowControl"]
