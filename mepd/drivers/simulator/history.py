"""What the meter served: a bounded record of the truth behind every BT23/BT28 read.

A soak test compares what a client published with the truth at the instant the meter
answered; the host monotonic time lets it line the two up.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from mepd.drivers.simulator.physics import Truth

DEFAULT_HISTORY = 10_000


@dataclass(frozen=True)
class ServedReading:
    monotonic: float  # host time.monotonic() when the meter built the response
    wall: float  # the meter's UTC clock, seconds since the epoch
    table: int
    truth: Truth


class ServedHistory:
    """The last `limit` served readings, oldest first."""

    def __init__(self, limit: int = DEFAULT_HISTORY) -> None:
        self._items: deque[ServedReading] = deque(maxlen=limit)

    def record(self, reading: ServedReading) -> None:
        self._items.append(reading)

    def __iter__(self) -> Iterator[ServedReading]:
        return iter(tuple(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def latest(self, table: int | None = None) -> ServedReading | None:
        for reading in reversed(self._items):
            if table is None or reading.table == table:
                return reading
        return None

    def at(self, monotonic: float) -> ServedReading | None:
        """The reading served last at or before `monotonic`."""
        found = None
        for reading in self._items:
            if reading.monotonic > monotonic:
                break
            found = reading
        return found
