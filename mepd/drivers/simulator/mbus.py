"""Gas and water meters behind the simulated electricity meter, read over M-Bus on a schedule.

The volume a sub-meter has counted is a pure function of wall time and the seed, like the
outage timeline (`outages.py`): each day's consumption is the mean plus a jitter drawn from that
day's own `random.Random`, spread over the day by a household pattern (gas: heating in the
morning and evening; water: showers in the morning, cooking and washing in the evening, nothing
at night). The register never falls: a day's total is always above 0.7 x the mean.

Scheduled reads (p.26) happen every `period_s` from `commissioned`, `delay_s` after the
boundary (p.32: read a little after the hour), one device after another. The first read of a
device goes to ET16 (p.26); all later ones to ET45 in order, sequence numbers from 1. ET16
keeps each device's latest read as well (the compatibility setting of p.91). `reads_until`
is the truth a test compares the decoded tables with.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

_DAY_S = 86_400.0
_REFERENCE_WALL = 1_577_836_800.0  # 2020-01-01 00:00 UTC: registers count from here
_JITTER = 0.3  # jitter in +-0.15 x mean: a day's total stays above 0.7 x the mean

# Share of a day's consumption per hour, 0-23 (local = UTC in the simulator, p.88 times).
GAS_PATTERN = (1, 1, 1, 1, 2, 4, 8, 9, 7, 5, 4, 3, 3, 3, 3, 4, 5, 7, 9, 8, 6, 4, 2, 1)
WATER_PATTERN = (0, 0, 0, 0, 0, 1, 6, 10, 7, 4, 3, 3, 4, 3, 2, 2, 3, 5, 8, 9, 7, 5, 3, 1)


@dataclass(frozen=True)
class SubMeter:
    """One M-Bus device, as commissioned in a slot of the meter (p.26)."""

    slot: int  # 1-4
    handle: int  # 1-999 (p.84)
    serial: int  # 8-digit M-Bus ID
    manufacturer: str  # three letters
    version: int
    medium: int  # EN 13757-3: 3 gas, 7 water (p.93)
    daily_litres: float
    start_litres: float  # the register on `_REFERENCE_WALL`
    pattern: tuple[int, ...]

    def litres_at(self, wall: float, seed: int = 0) -> float:
        """The volume counted by `wall` (UTC seconds), in litres; never decreasing in wall."""
        days = max(wall - _REFERENCE_WALL, 0.0) / _DAY_S
        day = math.floor(days)
        today = self.daily_litres + self._jitter(day + 1, seed) - self._jitter(day, seed)
        base = self.start_litres + self.daily_litres * day + self._jitter(day, seed)
        return base + today * _share_of_day(self.pattern, days - day)

    def _jitter(self, day: int, seed: int) -> float:
        draw = random.Random(f"{seed}:{self.serial}:{day}")  # simulation, not security
        return draw.uniform(-_JITTER / 2, _JITTER / 2) * self.daily_litres


def _share_of_day(pattern: tuple[int, ...], fraction: float) -> float:
    """How much of the day's consumption has gone by `fraction` of it (0..1), piecewise linear."""
    total = sum(pattern)
    hours = fraction * len(pattern)
    whole = min(int(hours), len(pattern) - 1)
    done = sum(pattern[:whole]) + pattern[whole] * (hours - whole)
    return min(done / total, 1.0)


@dataclass(frozen=True)
class MBusSetup:
    """The M-Bus side of a profile: devices, their read schedule, ET45's dimensions (ET36)."""

    devices: tuple[SubMeter, ...]
    commissioned: float  # UTC seconds; reads start here
    period_s: float = 3600.0
    delay_s: float = 30.0
    stagger_s: float = 5.0  # between devices within one read
    et45_entries: int = 96  # ET36 "Current Entries" (default 0, set via EP37: p.108)
    et45_entry_size: int = 525  # ET36 default (p.108)


@dataclass(frozen=True)
class ScheduledRead:
    """One scheduled read of one device: what the tables hold and a test compares with."""

    device: SubMeter
    period: int  # 0: the device's first read (ET16 only, p.26)
    wall: float
    litres: int  # the register the device reported: whole litres, never decreasing
    access_number: int  # EN 13757-3: +1 per response

    @property
    def volume_m3(self) -> Decimal:
        return Decimal(self.litres).scaleb(-3)

    @property
    def local_time(self) -> datetime:
        """The MBR time stamp: local time, to the second (the simulator's zone is UTC)."""
        return datetime.fromtimestamp(math.floor(self.wall), tz=UTC).replace(tzinfo=None)


def read_at(setup: MBusSetup, device: SubMeter, period: int, seed: int = 0) -> ScheduledRead:
    index = setup.devices.index(device)
    wall = setup.commissioned + period * setup.period_s + setup.delay_s + index * setup.stagger_s
    litres = math.floor(device.litres_at(wall, seed))
    return ScheduledRead(device, period, wall, litres, period & 0xFF)


def periods_done(setup: MBusSetup, device: SubMeter, wall: float) -> int:
    """How many reads of `device` have happened by `wall` (its first included)."""
    index = setup.devices.index(device)
    first = setup.commissioned + setup.delay_s + index * setup.stagger_s
    return 0 if wall < first else math.floor((wall - first) / setup.period_s) + 1


def logged_reads(setup: MBusSetup, wall: float) -> int:
    """How many reads went to ET45 by `wall`: every read but each device's first."""
    return sum(max(periods_done(setup, device, wall) - 1, 0) for device in setup.devices)


def logged_read(setup: MBusSetup, index: int, seed: int = 0) -> ScheduledRead:
    """The ET45 read with 0-based log index `index` (its sequence number is index + 1)."""
    period, slot = divmod(index, len(setup.devices))
    return read_at(setup, setup.devices[slot], period + 1, seed)


def reads_until(setup: MBusSetup, wall: float, seed: int = 0) -> tuple[ScheduledRead, ...]:
    """The truth: the last `et45_entries` logged reads by `wall`, oldest first (what ET45 holds)."""
    total = logged_reads(setup, wall)
    first = max(0, total - setup.et45_entries)
    return tuple(logged_read(setup, index, seed) for index in range(first, total))
