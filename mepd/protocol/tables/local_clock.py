"""BT53 Time Offset (p.225) and BT55 Local Clock State (p.229): local meter time to UTC.

    BT53: TIME DST effective (3)  UINT8 DST adjustment (minutes)  INT16 time zone offset (minutes)
    BT55: LTIME_DATE clock (6)  byte 6: bits 0..2 day of week, bit 3 DST in effect now,
          bit 4 GMT, bit 5 time zone applied, bit 6 DST applied   UINT8 current tier

Self-reads, the demand reset snapshot and the outage log are written in the BT55 local clock
(`meter_time.TimeBasis.LOCAL`); the rule of `meter_time` makes them UTC: local minus the time
zone offset, minus the DST adjustment if DST was in effect. Whether it was in effect at a past
moment is the TOU calendar's business (BT54), which mepd does not read: `LocalClock.to_utc`
takes BT55's flag for now, so a snapshot taken on the other side of a DST change comes out one
adjustment off. [?] The guide does not say whether BT55's flag means the offset is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mepd.protocol.codes import basic_table
from mepd.protocol.frames import PartialRead
from mepd.protocol.tables._wire import (
    LTIME_DATE_BYTES,
    encode_datetime,
    pack_uint,
    require_at_least,
    uint,
)
from mepd.protocol.tables.meter_time import TimeBasis

BT53 = basic_table(53)
BT55 = basic_table(55)
BT53_SIZE = 6  # p.225
BT55_READ = LTIME_DATE_BYTES + 1  # the clock and its flags byte (p.229)
_DST_NOW = 0x08  # BT55.6 bit 3
MAX_OFFSET_MIN = 14 * 60  # p.225: "Range of -12 to +14 hours enforced in firmware"
MIN_OFFSET_MIN = -12 * 60


@dataclass(frozen=True)
class LocalClock:
    """What turns the meter's local times into UTC."""

    zone_offset_min: int  # BT53.4, INT16
    dst_adjust_min: int  # BT53.3, UINT8
    dst_now: bool  # BT55.6 bit 3

    @property
    def offset(self) -> timedelta:
        """Local minus UTC, now."""
        return timedelta(minutes=self.zone_offset_min + (self.dst_adjust_min * self.dst_now))

    def to_utc(self, moment: datetime, basis: TimeBasis) -> datetime:
        """A meter time as written (naive) made UTC, tz-aware (`TimeBasis.rule`)."""
        utc = moment if basis is TimeBasis.UTC else moment - self.offset
        return utc.replace(tzinfo=UTC)


UTC_CLOCK = LocalClock(0, 0, False)  # for times written in UTC (the rule does not need BT53)


def plan_bt53() -> PartialRead:
    return PartialRead(BT53, 0, BT53_SIZE)


def plan_bt55() -> PartialRead:
    return PartialRead(BT55, 0, BT55_READ)


def decode_bt53(data: bytes) -> tuple[int, int]:
    """(time zone offset, DST adjustment) in minutes; the caller checks `plausible_offset`."""
    data = bytes(data)
    require_at_least("BT53", data, BT53_SIZE)
    return int.from_bytes(data[4:6], "little", signed=True), uint(data, 3, 1)


def decode_dst_now(data: bytes) -> bool:
    """BT55.6 bit 3: daylight saving time is in effect now."""
    data = bytes(data)
    require_at_least("BT55", data, BT55_READ)
    return bool(data[LTIME_DATE_BYTES] & _DST_NOW)


def plausible_offset(zone_offset_min: int) -> bool:
    return MIN_OFFSET_MIN <= zone_offset_min <= MAX_OFFSET_MIN


def encode_bt53(zone_offset_min: int, dst_adjust_min: int) -> bytes:
    return (
        bytes(3)
        + pack_uint(dst_adjust_min, 1, "BT53 DST adjustment")
        + zone_offset_min.to_bytes(2, "little", signed=True)
    )


def encode_bt55(moment: datetime, *, dst_now: bool = False) -> bytes:
    """The clock (naive local time), its flags (day of week, DST now, time zone applied) and
    tier 0: the simulator's side."""
    weekday = (moment.weekday() + 1) % 7  # p.229: 0 = Sunday
    flags = weekday | _DST_NOW * dst_now | 0x20
    return encode_datetime(moment, LTIME_DATE_BYTES, "BT55 clock") + bytes((flags, 0))
