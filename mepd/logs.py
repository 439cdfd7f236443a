"""Log lines that repeat are said once, then summarised: a noisy line must not flood journald."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Throttle:
    """At most one line per `key` per `interval_s`; the next one says how many were held back."""

    logger: logging.Logger
    interval_s: float = 600.0
    clock: Callable[[], float] = time.monotonic
    _last: dict[str, float] = field(default_factory=dict)
    _held: dict[str, int] = field(default_factory=dict)

    def log(
        self, level: int, key: str, message: str, *args: object, exc_info: bool = False
    ) -> bool:
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        held = self._held.pop(key, 0)
        if held:
            message += f" ({held} similar in the last {self.interval_s / 60:.0f} min not shown)"
        self._last[key] = now
        self.logger.log(level, message, *args, exc_info=exc_info)
        return True

    def info(self, key: str, message: str, *args: object) -> bool:
        return self.log(logging.INFO, key, message, *args)

    def warning(self, key: str, message: str, *args: object) -> bool:
        return self.log(logging.WARNING, key, message, *args)

    def exception(self, key: str, message: str, *args: object) -> bool:
        """An ERROR with the traceback of the exception being handled, throttled like the rest:
        a bug hit on every message must not flood the journal either."""
        return self.log(logging.ERROR, key, message, *args, exc_info=True)
