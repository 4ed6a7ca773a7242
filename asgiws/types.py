"""The ASGI 3 type aliases, for the server, the framework and user code alike.

Mappings rather than dicts, as Starlette types them, so that middleware and
apps annotated with Starlette's aliases type-check on asgiws and back. This
module imports nothing from asgiws: every layer above the protocol core may
use it (the protocol core speaks bytes and events, not ASGI).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["Scope", "Message", "Receive", "Send", "ASGIApp"]

#: The connection scope (``type`` "http", "websocket" or "lifespan").
Scope = MutableMapping[str, Any]
#: One event, received from the server or sent to it (``type`` says which).
Message = MutableMapping[str, Any]
#: Awaits the next event from the server.
Receive = Callable[[], Awaitable[Message]]
#: Sends one event to the server.
Send = Callable[[Message], Awaitable[None]]
#: An ASGI 3 application: one call per connection (or lifespan).
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
