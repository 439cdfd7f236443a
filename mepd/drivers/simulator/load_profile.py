"""The simulated meter's load profile: BT61-BT64, ET21 and ET66, from the same physics.

Interval `g` covers [g x len, (g + 1) x len) in UTC seconds since the epoch; blocks hold
`intervals_per_block` intervals (a UTC day by default) and the data set keeps `blocks` of them
in a circular list (p.237), so a meter that has recorded for ever is full: the oldest block
is overwritten as a new one starts. Each channel stores its register as it stood at the end of
the interval (p.28, p.235).

At and after the simulator's start a snapshot is the live register (`physics.truth_at`), so
the load profile and BT23 agree to the Wh. Before the start the register is worked backwards
from the one the simulator starts with: each sample's energy (a third of an interval) is what
the same power model (`physics.rates_at`) draws over the seconds the supply was on
(`outages.py`), so an interval
during an outage carries the power-outage flag and the little it drew (p.239).

`expected` is the truth a client's intervals are checked against: what the meter holds for
an interval, as Wh, with its flags.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from mepd.drivers.simulator.outages import Outage, outages_between
from mepd.drivers.simulator.physics import PhysicsModel
from mepd.protocol.tables.codes_lp import CommonFlag
from mepd.protocol.tables.ids import BT61, BT62, BT63, BT64, ET21, ET66
from mepd.protocol.tables.lp_config import (
    ActualLoadProfile,
    ChannelControl,
    DataSetDims,
    DataSetStatus,
    LoadProfileControl,
    LoadProfileInternal,
    encode_bt61,
    encode_bt62,
    encode_bt63,
    encode_et21,
    encode_et66,
)
from mepd.protocol.tables.lp_data import BlockLayout, encode_block
from mepd.protocol.tables.sources import summation_source

_WS_PER_WH = 3600
_SAMPLES_PER_INTERVAL = 3  # the past is integrated in thirds of an interval (1 min at least)
_ACCUMULATOR = {0: 0, 1: 1, 2: 2, 3: 3}  # summation source id -> physics accumulator


@dataclass(frozen=True)
class LoadProfileSettings:
    """A data set: interval length, block length and how many blocks it keeps."""

    interval_min: int = 15
    intervals_per_block: int | None = None  # None: a UTC day
    blocks: int = 8  # a week and the day in progress
    channels: tuple[int, ...] = (0, 1)  # summation source ids (p.203): Wh import, export

    @property
    def interval_s(self) -> int:
        return 60 * self.interval_min

    @property
    def per_block(self) -> int:
        return self.intervals_per_block or 86_400 // self.interval_s


@dataclass(frozen=True)
class ExpectedInterval:
    start: datetime
    end: datetime
    energy_wh: dict[str, float]  # channel ValueName -> Wh drawn in the interval
    flags: frozenset[CommonFlag]


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class SimLoadProfile:
    """Data set 1 of a simulated meter. Pure: every answer is a function of the wall time."""

    def __init__(
        self, physics: PhysicsModel, settings: LoadProfileSettings, *, energy_unit: int = 1
    ) -> None:
        if settings.interval_min not in (1, 2, 3, 5, 10, 15, 20, 30, 60):
            raise ValueError(f"interval of {settings.interval_min} min does not divide an hour")
        self.physics = physics
        self.settings = settings
        self.unit = energy_unit  # Wh per stored count: BT62 scalar (p.235)
        self.dims = DataSetDims(
            settings.blocks, settings.per_block, len(settings.channels), settings.interval_min
        )
        self.layout = BlockLayout.of(self.dims)
        self._snapshots: dict[int, tuple[int, ...]] = {}
        self._past_ws: dict[int, tuple[float, ...]] = {}  # interval -> W.s per channel
        self._outages: tuple[Outage, ...] | None = None
        self._bt64: tuple[int, bytes] | None = None
        self._sample_s = max(60.0, settings.interval_s / _SAMPLES_PER_INTERVAL)

    # --- static tables -------------------------------------------------------------------------

    def bt61(self) -> bytes:
        return encode_bt61(
            ActualLoadProfile(
                memory_length=self.layout.block_size * self.dims.blocks,
                end_readings=False,
                scalar_divisor=(True, False, False, False),
                int32_supported=True,
                sets=(self.dims,),
            )
        )

    def bt62(self) -> bytes:
        bt61 = ActualLoadProfile(0, False, (True, False, False, False), True, (self.dims,))
        channels = tuple(ChannelControl(s, self.unit, 1) for s in self.settings.channels)
        return encode_bt62(LoadProfileControl((channels,)), bt61)

    def static_tables(self) -> dict[int, bytes]:
        return {BT61: self.bt61(), BT62: self.bt62(), ET66: encode_et66((0,) * 64)}

    # --- live tables ---------------------------------------------------------------------------

    def live_tables(self) -> dict[int, Callable[[float], bytes]]:
        return {BT63: self.bt63, BT64: self.bt64, ET21: self.et21}

    def last_closed(self, wall: float) -> int:
        """The newest interval closed at `wall` (its end <= wall)."""
        return math.floor(wall / self.settings.interval_s) - 1

    def oldest_held(self, wall: float) -> int:
        last_block = self._block_of(self.last_closed(wall))
        return (last_block - self.dims.blocks + 1) * self.dims.intervals_per_block

    def _block_of(self, interval: int) -> int:
        return interval // self.dims.intervals_per_block

    def bt63(self, wall: float) -> bytes:
        last = self.last_closed(wall)
        block = self._block_of(last)
        status = DataSetStatus(
            overflow=True,  # recording for ever: the list has wrapped
            active=True,
            valid_blocks=self.dims.blocks,
            last_block=block % self.dims.blocks,
            last_block_sequence=block % 2**32,
            unread_blocks=self.dims.blocks,
            valid_intervals=last - block * self.dims.intervals_per_block + 1,
        )
        return encode_bt63((status,))

    def et21(self, wall: float) -> bytes:
        last = self.last_closed(wall)
        block = self._block_of(last)
        layout = self.layout
        table = LoadProfileInternal(
            block_size=layout.block_size,
            block_header_size=layout.header_size,
            valid_blocks=self.dims.blocks,
            valid_intervals=last - block * self.dims.intervals_per_block + 1,
            last_block=block % self.dims.blocks,
            last_interval=last - block * self.dims.intervals_per_block,
            simple_status_offset=layout.simple_status_offset,
            simple_status_size=layout.simple_status_size,
            interval0_offset=layout.interval0_offset,
            interval_size=layout.interval_size,
            channel0_offset=layout.channel0_offset,
            channels=self.dims.channels,
            interval_code=self.dims.interval_code,
            config_id=1,
            interval_end_utc=_utc(self._end(last)).replace(tzinfo=None),
        )
        return encode_et21(table, self.settings.channels)

    def bt64(self, wall: float) -> bytes:
        """The whole data set; it changes only when an interval closes, so it is kept."""
        last = self.last_closed(wall)
        if self._bt64 is None or self._bt64[0] != last:
            self._bt64 = (last, self._build_bt64(last))
        return self._bt64[1]

    def _build_bt64(self, last: int) -> bytes:
        newest = self._block_of(last)
        per, count = self.dims.intervals_per_block, self.dims.blocks
        slots = [b""] * count
        for block in range(newest - count + 1, newest + 1):
            first = block * per
            closed = range(first, min(first + per, last + 1))
            intervals = tuple((g - first, self.flags(g), self.snapshot(g)) for g in closed)
            end = _utc(self._end(closed[-1])).replace(tzinfo=None)
            slots[block % count] = encode_block(self.layout, end, intervals)
        return b"".join(slots)

    # --- the truth -----------------------------------------------------------------------------

    def _end(self, interval: int) -> float:
        return float((interval + 1) * self.settings.interval_s)

    def flags(self, interval: int) -> frozenset[CommonFlag]:
        start, end = self._end(interval - 1), self._end(interval)
        if end <= self.physics.start_wall and any(
            o.overlap_s(start, end) > 0 for o in self._past_outages()
        ):
            return frozenset({CommonFlag.POWER_OUTAGE})
        return frozenset()

    def snapshot(self, interval: int) -> tuple[int, ...]:
        """The stored counts at the end of `interval` (the register / the energy unit)."""
        cached = self._snapshots.get(interval)
        if cached is None:
            end = self._end(interval)
            start_wall = self.physics.start_wall
            if end >= start_wall:
                truth = self.physics.truth_at(end - start_wall)
                wh = [truth.energy.forward_wh, truth.energy.reverse_wh]
                wh += [truth.energy.import_varh, truth.energy.export_varh]
                cached = tuple(wh[_ACCUMULATOR[s]] // self.unit for s in self.settings.channels)
            else:
                after = self._past_after(interval)
                initial = self.physics.initial_ws
                cached = tuple(
                    math.floor((initial[_ACCUMULATOR[s]] - after[c]) / _WS_PER_WH) // self.unit
                    for c, s in enumerate(self.settings.channels)
                )
            self._snapshots[interval] = cached
        return cached

    def expected(self, interval: int) -> ExpectedInterval:
        before, now = self.snapshot(interval - 1), self.snapshot(interval)
        names = [summation_source(s).name for s in self.settings.channels]
        return ExpectedInterval(
            start=_utc(self._end(interval - 1)),
            end=_utc(self._end(interval)),
            energy_wh={
                name: float((b - a) * self.unit)
                for name, a, b in zip(names, before, now, strict=True)
            },
            flags=self.flags(interval),
        )

    def interval_at(self, end: datetime) -> int:
        return round(end.timestamp() / self.settings.interval_s) - 1

    # --- the past: worked backwards from the start ---------------------------------------------

    def _past_outages(self) -> tuple[Outage, ...]:
        if self._outages is None:
            start = self.physics.start_wall
            span = (self.dims.blocks + 2) * self.dims.intervals_per_block * self.settings.interval_s
            self._outages = outages_between(start - span, start, self.physics.seed)
        return self._outages

    def _past_after(self, interval: int) -> tuple[float, ...]:
        """W.s per channel drawn from the end of `interval` to the simulator's start."""
        cached = self._past_ws.get(interval)
        if cached is not None:
            return cached
        start_wall = self.physics.start_wall
        newest = self.last_closed(start_wall)  # the newest interval ending at or before it
        at = interval
        while at < newest and at + 1 not in self._past_ws:
            at += 1
        known = self._past_ws.get(at + 1)
        if known is None:  # `at` is the newest: from its end to the start
            at = newest
            known = self._drawn(self._end(newest), start_wall)
            self._past_ws[newest] = known
        for g in range(at, interval - 1, -1):
            if g not in self._past_ws:
                drawn = self._drawn(self._end(g), self._end(g + 1))
                following = self._past_ws[g + 1]
                self._past_ws[g] = tuple(a + b for a, b in zip(following, drawn, strict=True))
        return self._past_ws[interval]

    def _drawn(self, start: float, end: float) -> tuple[float, ...]:
        """W.s per channel over [start, end): the power model sampled, times the seconds of
        each sample the supply was on."""
        totals = [0.0] * len(self.settings.channels)
        at = start
        outages = self._past_outages()
        while at < end:
            step = min(self._sample_s, end - at)
            on = step - sum(o.overlap_s(at, at + step) for o in outages)
            if on > 0:
                rates = self.physics.rates_at(at - self.physics.start_wall)
                for c, source in enumerate(self.settings.channels):
                    totals[c] += rates[_ACCUMULATOR[source]] * on
            at += step
        return tuple(totals)
