"""ET09 Power Quality (0x0809; p.67-75): recent power cycles, sags, surges and phase loss.

    0  UINT16 long outage threshold (s)   2 UINT8 sag1/surge minutes   3 sag1 %   4 surge %
    5  UINT8 over-current %
    6  ARRAY[ET04.53] of 18-byte power cycle records, newest first (p.69-70):
          LTIME_DATE power on (UTC), UINT8 reset cause (3 power failure, 8 brown-out),
          UINT8 reserved, LTIME_DATE power off (UTC), UINT32 seconds off
    A = 6 + 18 x ET04.53 ("ET04.53 * 18 + 6" as printed, p.70-73):
    A+0   per phase L1-L3: LTIME_DATE most recent sag1, UINT16 sag1 count   (8 bytes a phase)
    A+24  the same for surges
    A+48  INT32 min frequency (mHz), LTIME_DATE when; A+58 INT32 max, LTIME_DATE when
    A+68  UINT32[3] over-current counts
    A+80  phase loss now: BOOL bit 0 L1, 1 L2, 2 L3
    A+81  per phase: LTIME_DATE most recent phase loss, UINT16 count        (8 bytes a phase)
    A+105 INT32[3] lowest voltage of the last sag1 (mV); A+117 highest of the last surge
    A+129 UINT32 short outage count; A+133 UINT32 PQ configuration ID (fw 2.12+);
    A+137 UINT8 sag1/surge threshold seconds
Fields after A+137 (fw 3.10+, sag2 on 4.10+) are not read. ET04.53 ("Max Power Outages
Recorded", default 10, p.58) sizes the array: read it first. With 10 records the part read
is 6 + 180 + 138 = 324 bytes, one read (p.8). A time never set is all zero: None.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mepd.protocol.frames import PartialRead
from mepd.protocol.tables._wire import (
    LTIME_DATE_BYTES,
    decode_optional_datetime,
    encode_optional_datetime,
    int32,
    pack_int32,
    pack_uint,
    require_size,
    uint,
)
from mepd.protocol.tables.ids import ET04, ET09
from mepd.protocol.tables.meter_time import TimeBasis

TABLE = "ET09"
ET04_POWER_CYCLES = 53  # ET04.53 "Max Power Outages Recorded", UINT8: sizes the array (p.58)
CYCLES_AT = 6
CYCLE_BYTES = 18
TAIL_BYTES = 138  # A+0 .. A+137
PHASES = 3
_PHASE_EVENT_BYTES = LTIME_DATE_BYTES + 2


@dataclass(frozen=True)
class PowerCycle:
    power_off: datetime | None
    power_on: datetime | None
    off_seconds: int
    reset_cause: int  # 3 power failure, 8 brown-out (p.70)


@dataclass(frozen=True)
class PhaseEvents:
    """The most recent event of a kind on one phase, and how many since statistics reset."""

    latest: datetime | None
    count: int


@dataclass(frozen=True)
class PowerQuality:
    cycles: tuple[PowerCycle, ...]  # newest first
    sags: tuple[PhaseEvents, PhaseEvents, PhaseEvents]
    surges: tuple[PhaseEvents, PhaseEvents, PhaseEvents]
    phase_losses: tuple[PhaseEvents, PhaseEvents, PhaseEvents]
    phase_lost_now: tuple[bool, bool, bool]  # A+80 bits 0-2: the binary sensor's source
    over_current: tuple[int, int, int]
    sag_voltage_mv: tuple[int, int, int]
    surge_voltage_mv: tuple[int, int, int]
    short_outages: int
    time_basis: TimeBasis = TimeBasis.UTC  # p.69-72: every time here is UTC


def et09_size(outage_records: int) -> int:
    """The part decoded: through A+137."""
    return CYCLES_AT + CYCLE_BYTES * outage_records + TAIL_BYTES


def plan_power_cycles() -> PartialRead:
    """ET04.53, read before ET09 (its "P" value changes only with the program, p.55)."""
    return PartialRead(ET04, ET04_POWER_CYCLES, 1)


def plan_et09(outage_records: int) -> PartialRead:
    return PartialRead(ET09, 0, et09_size(outage_records))


def _time(raw: bytes) -> datetime | None:
    return decode_optional_datetime(TABLE, raw)


def _phase_events(data: bytes, at: int) -> tuple[PhaseEvents, PhaseEvents, PhaseEvents]:
    first, second, third = (
        PhaseEvents(
            _time(data[at + k * _PHASE_EVENT_BYTES : at + k * _PHASE_EVENT_BYTES + 6]),
            uint(data, at + k * _PHASE_EVENT_BYTES + 6, 2),
        )
        for k in range(PHASES)
    )
    return first, second, third


def _three(data: bytes, at: int, signed: bool) -> tuple[int, int, int]:
    a, b, c = (int32(data, at + 4 * k) if signed else uint(data, at + 4 * k, 4) for k in range(3))
    return a, b, c


def decode_et09(data: bytes, outage_records: int) -> PowerQuality:
    """The first `et09_size(outage_records)` bytes (more is allowed: later fields ignored)."""
    data = bytes(data)
    size = et09_size(outage_records)
    require_size(TABLE, data[:size], size, f"with ET04.53 = {outage_records}")
    cycles = tuple(
        PowerCycle(
            power_off=_time(data[at + 8 : at + 14]),
            power_on=_time(data[at : at + 6]),
            off_seconds=uint(data, at + 14, 4),
            reset_cause=data[at + 6],
        )
        for at in range(CYCLES_AT, CYCLES_AT + CYCLE_BYTES * outage_records, CYCLE_BYTES)
    )
    a = CYCLES_AT + CYCLE_BYTES * outage_records
    lost = data[a + 80]
    return PowerQuality(
        cycles=tuple(c for c in cycles if c.power_on is not None or c.power_off is not None),
        sags=_phase_events(data, a),
        surges=_phase_events(data, a + 24),
        phase_losses=_phase_events(data, a + 81),
        phase_lost_now=(bool(lost & 1), bool(lost & 2), bool(lost & 4)),
        over_current=_three(data, a + 68, signed=False),
        sag_voltage_mv=_three(data, a + 105, signed=True),
        surge_voltage_mv=_three(data, a + 117, signed=True),
        short_outages=uint(data, a + 129, 4),
    )


def _put_time(moment: datetime | None) -> bytes:
    return encode_optional_datetime(moment, LTIME_DATE_BYTES, "ET09 time")


def encode_et09(quality: PowerQuality, outage_records: int) -> bytes:
    """ET09 through A+137, thresholds at the guide's defaults (sag and surge 10 %, p.68)."""
    if len(quality.cycles) > outage_records:
        raise ValueError(f"ET09 holds {outage_records} power cycles, not {len(quality.cycles)}")
    out = bytearray(pack_uint(0, 2, "ET09") + bytes((0, 10, 10, 0)))
    for cycle in quality.cycles:
        out += _put_time(cycle.power_on) + bytes((cycle.reset_cause, 0))
        out += _put_time(cycle.power_off) + pack_uint(cycle.off_seconds, 4, "ET09 seconds")
    out += bytes(CYCLE_BYTES * (outage_records - len(quality.cycles)))
    for events in (quality.sags, quality.surges):
        for phase in events:
            out += _put_time(phase.latest) + pack_uint(phase.count, 2, "ET09 count")
    out += bytes(20)  # min/max frequency and their times: not modelled
    out += b"".join(pack_uint(n, 4, "ET09 over-current") for n in quality.over_current)
    out += bytes((sum(int(lost) << k for k, lost in enumerate(quality.phase_lost_now)),))
    for phase in quality.phase_losses:
        out += _put_time(phase.latest) + pack_uint(phase.count, 2, "ET09 count")
    for volts in (*quality.sag_voltage_mv, *quality.surge_voltage_mv):
        out += pack_int32(volts, "ET09 voltage")
    out += pack_uint(quality.short_outages, 4, "ET09 short outages") + bytes(5)
    return bytes(out)
