"""`FlowControl`: make writers wait while the transport's write buffer is full.

asyncio calls `pause_writing()` when the transport's buffer passes its
high-water mark and `resume_writing()` once it drains below the low-water
mark; the connection forwards both here, and a `send` awaits `drain()` so
a slow peer slows the sender down instead of growing the buffer.
The same object pauses and resumes *reading* for the other direction.
"""

from __future__ import annotations

import asyncio


class FlowControl:
    """Write-side backpressure and read-side pausing for one transport.

    Used by every connection (the server's HTTP protocol and `Connection`,
    the WebSocket of both ends), so it is kept small: the future writers
    wait on exists only while they wait.
    """

    __slots__ = ("_transport", "read_paused", "write_paused", "_writable")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self.read_paused = False
        self.write_paused = False
        self._writable: asyncio.Future[None] | None = None

    async def drain(self) -> None:
        """Return once the transport can take more data (at once, usually)."""
        while self.write_paused:
            waiter = self._writable
            if waiter is None or waiter.done():
                waiter = self._writable = asyncio.get_running_loop().create_future()
            # Shared by concurrent writers: one of them being cancelled must not cancel the others.
            await asyncio.shield(waiter)

    def pause_reading(self) -> None:
        if not self.read_paused:
            self.read_paused = True
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused:
            self.read_paused = False
            if not self._transport.is_closing():
                self._transport.resume_reading()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._wake_writers()

    def connection_lost(self) -> None:
        """Wake writers so they see the connection is gone instead of waiting forever."""
        self.write_paused = False
        self._wake_writers()

    def _wake_writers(self) -> None:
        waiter = self._writable
        if waiter is not None:
            self._writable = None
            if not waiter.done():
                waiter.set_result(None)
