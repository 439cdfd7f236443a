"""The simulated meter's billing snapshots: BT26 daily self-reads and the BT25 demand reset.

A self-read is taken at every midnight UTC (BT21.1 bit 2, daily self-read; the simulator's
local clock is UTC) and a demand reset at 00:00 UTC on the first of each month; BT26 keeps the
newest BT21.2 of them (p.213), BT25 the latest demand reset (p.212, ET41: "The latest entry
recorded here is copied to BT25", p.109).

Snapshots after the start are the live registers at that instant. Snapshots before the start
cannot be: the registers the simulator starts with are a bound, not a history (`physics.py`).
They are the starting registers less a steady consumption back to the snapshot's time
(`PAST_SHARE` of the profile's ceiling rate, never below zero), so every snapshot is at most
the live registers and no later snapshot is below an earlier one. Demand records of a snapshot
before the start are zero with no time: the simulator has no demand history.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from mepd.drivers.simulator.profiles import MeterProfile
from mepd.protocol.tables.billing import SelfReadRecord, encode_bt25, encode_bt26
from mepd.protocol.tables.bt23 import CurrentRegisterData, RegisterBlock
from mepd.protocol.tables.lists import ListStatus
from mepd.protocol.tables.measurements import Measurement, Measurements
from mepd.protocol.tables.units import ENERGY_UNITS

DAY_S = 86_400.0
PAST_SHARE = 0.05  # of LoadSettings.ceiling_va(): a household's average is well below its peak
_WS_PER_WH = 3600.0
SEASON = 0


def _naive(wall: float) -> datetime:
    return datetime.fromtimestamp(math.floor(wall), tz=UTC).replace(tzinfo=None)


def midnights(until: float, count: int) -> tuple[float, ...]:
    """The newest `count` midnights UTC at or before `until`, oldest first."""
    last = math.floor(until / DAY_S) * DAY_S
    return tuple(last - DAY_S * k for k in range(count - 1, -1, -1))


def month_start(until: float) -> float:
    """00:00 UTC on the first of the month `until` is in."""
    moment = datetime.fromtimestamp(until, tz=UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def self_read_sequence(wall: float) -> int:
    """A self-read's UINT16 sequence number: the day number, so one a day, never reset."""
    return int(wall // DAY_S) % 0x10000


class BillingHistory:
    """`registers_at(t)`: the live BT23 content `t` seconds after the start (t >= 0)."""

    def __init__(
        self,
        profile: MeterProfile,
        start_wall: float,
        registers_at: Callable[[float], CurrentRegisterData],
    ) -> None:
        self.profile = profile
        self.start_wall = start_wall
        self._registers_at = registers_at
        self._start = registers_at(0.0)
        tiers = max(profile.physics_tiers, 1)
        watts = profile.load.ceiling_va() * PAST_SHARE
        self._rate = watts / _WS_PER_WH / profile.energy_unit  # counts per second
        self._tier_rate = self._rate / tiers
        self._cache: dict[float, CurrentRegisterData] = {}

    def registers(self, wall: float) -> CurrentRegisterData:
        """BT23 as it stood at `wall` (see the module docstring before the start)."""
        cached = self._cache.get(wall)
        if cached is None:
            if wall >= self.start_wall:
                cached = self._registers_at(wall - self.start_wall)
            else:
                cached = self._before_start(self.start_wall - wall)
            self._cache[wall] = cached
        return cached

    def _before_start(self, back_s: float) -> CurrentRegisterData:
        total = self._block(self._start.total, math.ceil(self._rate * back_s))
        tiers = tuple(
            self._block(b, math.ceil(self._tier_rate * back_s)) for b in self._start.tiers
        )
        resets = self._start.demand_resets
        return CurrentRegisterData(resets, total, tiers)

    @staticmethod
    def _block(block: RegisterBlock, less: int) -> RegisterBlock:
        summations = Measurements.of(
            Measurement.of(m.source, max(0, m.raw - less)) if m.unit in ENERGY_UNITS else m
            for m in block.summations
        )
        demands = tuple(
            replace(
                d,
                values=(0,) * len(d.values),
                event_times=(None,) * len(d.event_times),
                cumulative=None if d.cumulative is None else 0,
                continuous_cumulative=None if d.continuous_cumulative is None else 0,
            )
            for d in block.demands
        )
        coincidents = tuple(replace(c, values=(0,) * len(c.values)) for c in block.coincidents)
        return RegisterBlock(summations, demands, coincidents)

    # --- truth ----------------------------------------------------------------------------

    def self_reads(self, wall: float) -> tuple[tuple[int, float, CurrentRegisterData], ...]:
        """(sequence, time, registers) of what BT26 holds at `wall`, oldest first."""
        return tuple(
            (self_read_sequence(when), when, self.registers(when))
            for when in midnights(wall, self.profile.dims.self_reads)
        )

    def demand_reset(self, wall: float) -> tuple[float, CurrentRegisterData]:
        when = month_start(wall)
        return when, self.registers(when)

    # --- tables ---------------------------------------------------------------------------

    def bt25(self, wall: float) -> bytes:
        when, registers = self.demand_reset(wall)
        return encode_bt25(_naive(when), SEASON, registers, self.profile.dims)

    def bt26(self, wall: float) -> bytes:
        dims = self.profile.dims
        reads = self.self_reads(wall)
        capacity = dims.self_reads
        if not reads:
            empty = ListStatus(False, False, False, False, 0, 0, 0, 0)
            return encode_bt26(empty, {}, dims)
        last_sequence = reads[-1][0]
        status = ListStatus(
            descending=False,
            overflow=True,  # in service for longer than BT21.2 days: old ones written over
            circular=True,
            inhibit_overflow=False,
            valid=len(reads),
            last_element=last_sequence % capacity,
            last_sequence=last_sequence,
            unread=1,  # the head end reads the self-reads daily
        )
        records = {
            sequence % capacity: SelfReadRecord(_naive(when), SEASON, registers)
            for sequence, when, registers in reads
        }
        return encode_bt26(status, records, dims)
