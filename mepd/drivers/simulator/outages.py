"""When the simulated meter's supply failed in the past: one timeline for every history table.

The load profile (interval status and energy), the event logs (power down and up) and the
outage log must tell one story, so they all ask this module. Outages are a pure function of
wall time and the seed: each `PERIOD_S` window holds one outage at a place and of a length
drawn from its own `random.Random`, so any two tables (and any two runs) agree on every
outage. The simulator applies them to the history before it starts (the registers it starts
with are a bound, see `physics.py`); a live outage is a fault knob, not part of this timeline.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

PERIOD_S = 2.5 * 86_400.0  # one outage every two and a half days on average
SHORTEST_S = 3 * 60.0
LONGEST_S = 50 * 60.0


@dataclass(frozen=True)
class Outage:
    """The supply was off from `start` to `end` (wall-clock seconds since the Unix epoch)."""

    start: float
    end: float

    @property
    def duration_s(self) -> float:
        return self.end - self.start

    def overlap_s(self, start: float, end: float) -> float:
        """Seconds of [start, end) this outage covers."""
        return max(0.0, min(end, self.end) - max(start, self.start))


def _outage_in_period(index: int, seed: int) -> Outage:
    draw = random.Random(index * 1_000_003 + seed)  # simulation, not security
    duration = draw.uniform(SHORTEST_S, LONGEST_S)
    start = index * PERIOD_S + draw.uniform(0.0, PERIOD_S - duration)
    return Outage(start, start + duration)


def outages_between(start: float, end: float, seed: int = 0) -> tuple[Outage, ...]:
    """Every outage that overlaps [start, end), oldest first."""
    if end <= start:
        return ()
    first = math.floor(start / PERIOD_S)
    last = math.floor(end / PERIOD_S)
    found = (_outage_in_period(index, seed) for index in range(first, last + 1))
    return tuple(outage for outage in found if outage.overlap_s(start, end) > 0)


def supplied_s(start: float, end: float, seed: int = 0) -> float:
    """Seconds of [start, end) the supply was on: what an interval's energy was drawn over."""
    off = sum(outage.overlap_s(start, end) for outage in outages_between(start, end, seed))
    return max(0.0, end - start - off)
