"""What the session needs from a byte link, and nothing more.

The serial driver implements it for real ports and ptys; the simulator's in-process link
implements it for unit tests. The session never learns which one it talks to; it only asks
whether a transport also offers the optional `ReadPausing`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class Transport(Protocol):
    """A byte pipe to one meter. Errors are `LinkError`s with a message a user can act on."""

    @property
    def description(self) -> str:
        """Where the bytes go (a device path), for log lines."""
        ...

    @property
    def baud(self) -> int:
        """Line rate, so the session can tell when a frame has left the wire."""
        ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def write(self, data: bytes) -> None:
        """Queue the whole frame at once (p.21: no gap over 50 ms inside a request)."""
        ...

    async def read(self, wait_s: float) -> bytes:
        """Whatever arrived within `wait_s` seconds; b"" if nothing did."""
        ...

    def discard_input(self) -> int:
        """Drop bytes already received (stale answers between exchanges); return how many."""
        ...


@runtime_checkable
class ReadPausing(Protocol):
    """Optional: a transport that can stop taking bytes from the OS for a while.

    While the session sleeps through a frame's time on the wire (it cannot complete sooner at
    the baud rate), a paused reader lets the bytes wait in the kernel instead of waking the
    process for every few bytes the UART hands over. Nothing is lost: `resume_reading()`
    takes everything that came meanwhile.
    """

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...
