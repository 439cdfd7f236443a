"""BT52 UTC Clock (0x0034; p.224-225): the meter's clock, UTC without DST or time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from mepd.protocol.errors import DecodeError
from mepd.protocol.frames import PartialRead
from mepd.protocol.tables._wire import LTIME_DATE_BYTES, decode_datetime, encode_datetime
from mepd.protocol.tables.ids import BT52

TABLE = "BT52"
BT52_SIZE = 7  # LTIME_DATE + flags byte
CLOCK_READ = PartialRead(BT52, 0, BT52_SIZE)  # the whole clock (p.224): one short read


@dataclass(frozen=True)
class ClockFlags:
    """Byte 6 (p.224-225)."""

    day_of_week: int  # bits 0-2, 0 = Sunday
    dst_in_effect: bool  # bit 3; the clock itself never includes DST
    gmt: bool  # bit 4
    time_zone_applied: bool  # bit 5
    dst_applied: bool  # bit 6


@dataclass(frozen=True)
class UtcClock:
    time: datetime  # timezone-aware, UTC
    flags: ClockFlags | None = None  # None when only the 6-byte LTIME_DATE was read


def decode_bt52(data: bytes) -> UtcClock:
    """7 bytes, or the 6-byte LTIME_DATE alone (Appendix B reads 6, p.256)."""
    data = bytes(data)
    if len(data) not in (LTIME_DATE_BYTES, BT52_SIZE):
        raise DecodeError(
            f"{TABLE}: expected {LTIME_DATE_BYTES} or {BT52_SIZE} bytes, got {len(data)}"
        )
    moment = decode_datetime(TABLE, data[:LTIME_DATE_BYTES]).replace(tzinfo=UTC)
    flags = None
    if len(data) == BT52_SIZE:
        b = data[LTIME_DATE_BYTES]
        flags = ClockFlags(
            day_of_week=b & 0x07,
            dst_in_effect=bool(b & 0x08),
            gmt=bool(b & 0x10),
            time_zone_applied=bool(b & 0x20),
            dst_applied=bool(b & 0x40),
        )
    return UtcClock(moment, flags)


def encode_bt52(clock: UtcClock) -> bytes:
    moment = clock.time
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("BT52 time must be timezone-aware")
    if moment.microsecond:
        raise ValueError("BT52 carries whole seconds only")
    raw = encode_datetime(moment.astimezone(UTC), LTIME_DATE_BYTES, "BT52 time")
    f = clock.flags
    if f is None:
        return raw
    if not 0 <= f.day_of_week < 8:
        raise ValueError(f"BT52 day of week {f.day_of_week} is 3 bits")
    b = (
        f.day_of_week
        | int(f.dst_in_effect) << 3
        | int(f.gmt) << 4
        | int(f.time_zone_applied) << 5
        | int(f.dst_applied) << 6
    )
    return raw + bytes((b,))
