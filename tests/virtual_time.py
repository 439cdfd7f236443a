"""An asyncio event loop whose clock jumps to the next timer instead of waiting for it.

For tests whose subject is time (the guide's 100 ms spacing and 500 ms timeout, 1 read/s, a
minute of backoff, hours of soak): the code under test keeps its own pacing, but the clock
jumps, so a minute of backoff runs in milliseconds and wall-clock bounds cannot flake on a
loaded machine. Only for in-process peers (InProcessLink): real file descriptors still get a
zero-wait poll each turn, but nothing waits on them in real time, so a pty's or a socket's
bytes may arrive "late" in virtual time. Real-process tests stay on the real clock.

`@pytest.mark.virtual_time` on an `async def` test runs it on a fresh VirtualTimeLoop
(tests/conftest.py); `run_virtual` does the same for a coroutine in a plain test.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _JumpingSelector(selectors.DefaultSelector):
    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._virtual = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        ready: list[Any] = super().select(0)
        if not ready and timeout is not None and timeout > 0:
            self._virtual.advance(timeout)
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self, start: float = 0.0) -> None:
        self._virtual_now = start
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        self._virtual_now += seconds


def run_virtual(main: Coroutine[Any, Any, T], start: float = 0.0) -> T:
    """`asyncio.run` on a VirtualTimeLoop: runs `main`, then closes the loop cleanly."""
    loop = VirtualTimeLoop(start)
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            if leftovers:
                loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
