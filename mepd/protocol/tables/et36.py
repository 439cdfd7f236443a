"""ET36 Manufacturer (Extended) Table Actual Dimensions (0x0824; p.107-109).

A count (7) and 17-byte records: table id, entry size, max entries, current entries, flags,
8 spare bytes; then a bitmap of logs with unread entries. The fifth record describes ET45, the
M-Bus recurring read log (p.27): its "Entry Size" and "Current Entries" are what a client
needs to navigate it, at ET36.71 and ET36.75 (the ET42 cross-references, p.114).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mepd.protocol.errors import DecodeError
from mepd.protocol.frames import PartialRead
from mepd.protocol.tables._wire import pack_uint, require_at_least, uint
from mepd.protocol.tables.ids import ET36, ET45
from mepd.protocol.tables.planning import plan_reads

TABLE = "ET36"
RECORD_BYTES = 17
ET45_RECORD = 4  # p.27: "the fifth entry of ET36"
_TABLE_NUMBER_MASK = 0x0FFF  # TABLE_IDC bits 0..10 number, bit 11 extended: 2048 + nn


@dataclass(frozen=True)
class LogDimensions:
    """One log's actual dimensions (p.108-109)."""

    table: int  # the table number, ETnn = 2048 + nn
    entry_size: int  # bytes per entry, not counting the list header
    max_entries: int
    current_entries: int  # entries configured, populated or not: the circle's size
    length_included: bool  # a 2-byte length starts each entry


@dataclass(frozen=True)
class ActualDimensions:
    logs: tuple[LogDimensions, ...]
    unread: int  # bit n: log n has unread entries

    def find(self, table: int) -> LogDimensions | None:
        return next((log for log in self.logs if log.table == table), None)


def _record(raw: bytes) -> LogDimensions:
    return LogDimensions(
        table=uint(raw, 0, 2) & _TABLE_NUMBER_MASK,
        entry_size=uint(raw, 2, 2),
        max_entries=uint(raw, 4, 2),
        current_entries=uint(raw, 6, 2),
        length_included=bool(raw[8] & 0x01),
    )


def plan_et45_dimensions() -> tuple[PartialRead, ...]:
    """ET36's fifth record only (17 bytes at offset 69): what navigating ET45 needs."""
    return plan_reads(ET36, RECORD_BYTES, offset=1 + ET45_RECORD * RECORD_BYTES)


def decode_et45_dimensions(data: bytes) -> LogDimensions:
    """The fifth record, read as `plan_et45_dimensions` plans; it must describe ET45."""
    require_at_least(TABLE, data, RECORD_BYTES, "one record")
    log = _record(data[:RECORD_BYTES])
    if log.table != ET45:
        raise DecodeError(f"{TABLE}: the fifth record is table {log.table}, not ET45 ({ET45})")
    return log


def et36_size(count: int) -> int:
    return 1 + count * RECORD_BYTES + (count - 1) // 8 + 1


def decode_et36(data: bytes) -> ActualDimensions:
    require_at_least(TABLE, data, 1, "count")
    count = data[0]
    if count == 0:
        raise DecodeError(f"{TABLE}: a count of 0 logs")
    require_at_least(TABLE, data, et36_size(count), f"{count} records and the unread bitmap")
    logs = tuple(
        _record(data[1 + n * RECORD_BYTES : 1 + (n + 1) * RECORD_BYTES]) for n in range(count)
    )
    bitmap = data[1 + count * RECORD_BYTES : et36_size(count)]
    return ActualDimensions(logs, int.from_bytes(bitmap, "little"))


def encode_et36(logs: Sequence[LogDimensions], unread: int = 0) -> bytes:
    out = bytearray((len(logs),))
    for log in logs:
        out += pack_uint(log.table, 2, "table")
        out += pack_uint(log.entry_size, 2, "entry size")
        out += pack_uint(log.max_entries, 2, "max entries")
        out += pack_uint(log.current_entries, 2, "current entries")
        out += bytes((int(log.length_included),)) + bytes(8)
    size = (len(logs) - 1) // 8 + 1
    return bytes(out) + pack_uint(unread, size, "unread bitmap")
