"""`FlowControl`: make writers wait while the transport's write buffer is full.

asyncio calls `pause_writing()` when the transport's buffer passes its
high-water mark and `resume_writing()` once it drains below the low-water
mark; the connection protocol forwards both here, and ASGI `send` awaits
`drain()` so a slow peer slows the app down instead of growing the buffer.
The same object pauses and resumes *reading* for the other direction.
"""

from __future__ import annotations

import asyncio


class FlowControl:
    """Write-side backpressure (an Event) and read-side pausing for one transport."""

    __slots__ = ("_transport", "read_paused", "write_paused", "_is_writable")

    def __init__(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self.read_paused = False
        self.write_paused = False
        self._is_writable = asyncio.Event()
        self._is_writable.set()

    async def drain(self) -> None:
        """Return once the transport can take more data (at once, usually)."""
        if self.write_paused:
            await self._is_writable.wait()

    def pause_reading(self) -> None:
        if not self.read_paused:
            self.read_paused = True
            self._transport.pause_reading()  # type: ignore[attr-defined]

    def resume_reading(self) -> None:
        if self.read_paused:
            self.read_paused = False
            self._transport.resume_reading()  # type: ignore[attr-defined]

    def pause_writing(self) -> None:
        if not self.write_paused:
            self.write_paused = True
            self._is_writable.clear()

    def resume_writing(self) -> None:
        if self.write_paused:
            self.write_paused = False
            self._is_writable.set()

    def connection_lost(self) -> None:
        """Wake writers so they see the connection is gone instead of waiting forever."""
        self.write_paused = False
        self._is_writable.set()
