"""BT25 Previous Demand Reset Data (p.212) and BT26 Self-Read Data (p.212-214): billing reads.

    BT25: STIME_DATE time (5)  UINT8 season  register data "in the format of BT23"
    BT26: list header (6 bytes, lists.SMALL_LIST), then ARRAY[BT21.2] of entries:
          [UINT16 BIDN if BT21.4 != 0]  STIME_DATE time  UINT8 season  BT23-format data

"The format of BT23" is read as the whole of BT23, the demand reset count [A] included, as in
ANSI C12.19 (BT24 on p.211 says only the total and tier blocks; BT25 and BT26 say BT23). The
guide prints the time and season unconditionally (in C12.19 they hang on BT21 flags); the
offsets BIDN 6, time 8, season 13, data 14 (p.214) are followed as printed. The time is the
BT55 local clock (p.213; `meter_time.py`).

A BT26 entry is a whole BT23 plus 8 bytes (1305 on a fw 4.3x meter with 8 tiers): more than a
read returns (p.8), so the planners read each snapshot's time and first summations only (the
energy registers, `names.ENERGY_REGISTERS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mepd.protocol.frames import PartialRead
from mepd.protocol.tables._wire import (
    STIME_DATE_BYTES,
    decode_datetime,
    encode_datetime,
    pack_uint,
    require_at_least,
    uint,
)
from mepd.protocol.tables.bt21 import ActualRegister
from mepd.protocol.tables.bt22 import DataSelection
from mepd.protocol.tables.bt23 import (
    CurrentRegisterData,
    bt23_size,
    decode_bt23_summations,
    demand_resets_size,
    encode_bt23,
)
from mepd.protocol.tables.ids import BT25, BT26
from mepd.protocol.tables.lists import (
    SMALL_LIST,
    Backlog,
    EntryRead,
    ListLayout,
    ListStatus,
    backlog,
    decode_list_status,
    encode_list_status,
    plan_newest,
)
from mepd.protocol.tables.measurements import Measurement, Measurements
from mepd.protocol.tables.meter_time import TimeBasis
from mepd.protocol.tables.names import ENERGY_REGISTERS, ValueName

SNAPSHOT_HEAD = STIME_DATE_BYTES + 1  # time, season
BIDN_BYTES = 2
_INT32 = 4


class SnapshotKind(StrEnum):
    DEMAND_RESET = "demand_reset"  # BT25
    SELF_READ = "self_read"  # BT26


@dataclass(frozen=True)
class BillingSnapshot:
    """The registers as they stood at a billing read; `registers` in SI (Wh) by value name."""

    kind: SnapshotKind
    time: datetime  # meter time as written (STIME_DATE: no seconds)
    season: int
    registers: Measurements
    demand_resets: int | None = None  # BT23's [A], if BT21.0.2
    sequence: int | None = None  # BT26: the self-read operation's sequence number (UINT16)
    bidn: int | None = None  # BT26: Billing Interface Definition Number, if BT21.4 != 0
    time_basis: TimeBasis = TimeBasis.LOCAL

    def energy(self, name: ValueName) -> Measurement | None:
        return self.registers.get(name)


def _summations_bytes(dims: ActualRegister, summations: int | None) -> int:
    count = len(ENERGY_REGISTERS) if summations is None else summations
    if not 0 <= count <= dims.summations:
        raise ValueError(f"BT23 has {dims.summations} summations, cannot read {count}")
    return demand_resets_size(dims) + _INT32 * count


def _decode_snapshot(
    table: str,
    data: bytes,
    dims: ActualRegister,
    sources: DataSelection | Sequence[int] | None,
    energy_unit: int,
) -> tuple[datetime, int, Measurements, int | None]:
    require_at_least(table, data, SNAPSHOT_HEAD, "time and season")
    time = decode_datetime(table, data[:STIME_DATE_BYTES])
    registers = decode_bt23_summations(data[SNAPSHOT_HEAD:], dims, sources, energy_unit)
    return time, data[STIME_DATE_BYTES], registers.summations, registers.demand_resets


# --- BT25 --------------------------------------------------------------------------------------


def bt25_size(dims: ActualRegister) -> int:
    return SNAPSHOT_HEAD + bt23_size(dims)


def plan_bt25(dims: ActualRegister, summations: int | None = None) -> PartialRead:
    """Time, season and the first `summations` registers (default: the 4 energy registers)."""
    return PartialRead(BT25, 0, SNAPSHOT_HEAD + _summations_bytes(dims, summations))


def decode_bt25(
    data: bytes,
    dims: ActualRegister,
    sources: DataSelection | Sequence[int] | None = None,
    energy_unit: int = 1,
) -> BillingSnapshot:
    """BT25 or a prefix of it (as `plan_bt25` reads); sources and unit as for BT23."""
    time, season, registers, resets = _decode_snapshot(
        "BT25", bytes(data), dims, sources, energy_unit
    )
    return BillingSnapshot(SnapshotKind.DEMAND_RESET, time, season, registers, resets)


def encode_bt25(
    time: datetime, season: int, registers: CurrentRegisterData, dims: ActualRegister
) -> bytes:
    return _encode_snapshot(time, season, registers, dims)


def _encode_snapshot(
    time: datetime, season: int, registers: CurrentRegisterData, dims: ActualRegister
) -> bytes:
    return (
        encode_datetime(time, STIME_DATE_BYTES, "snapshot time")
        + pack_uint(season, 1, "snapshot season")
        + encode_bt23(registers, dims)
    )


# --- BT26 --------------------------------------------------------------------------------------


def _bidn_bytes(dims: ActualRegister) -> int:
    return BIDN_BYTES if dims.demands else 0  # p.214: "IF BT21.4 != 0"


def self_read_entry_size(dims: ActualRegister) -> int:
    return _bidn_bytes(dims) + SNAPSHOT_HEAD + bt23_size(dims)


def bt26_layout(dims: ActualRegister) -> ListLayout:
    """BT21.2 self-read entries (p.213: "Range is 0..BT21.2")."""
    return ListLayout(BT26, "BT26", SMALL_LIST, self_read_entry_size(dims), dims.self_reads)


def decode_bt26_status(data: bytes) -> ListStatus:
    return decode_list_status("BT26", data, SMALL_LIST)


def self_reads_after(dims: ActualRegister, status: ListStatus, after: int | None) -> Backlog:
    """New self-reads since the cursor (their UINT16 sequence numbers are consecutive)."""
    bt26_layout(dims).check(status)
    return backlog(status, after, SMALL_LIST)


def plan_self_reads(
    dims: ActualRegister, status: ListStatus, count: int, summations: int | None = None
) -> tuple[EntryRead, ...]:
    """The `count` newest self-reads, oldest first: one read each of BIDN, time, season and
    the first `summations` registers (default: the 4 energy registers)."""
    prefix = _bidn_bytes(dims) + SNAPSHOT_HEAD + _summations_bytes(dims, summations)
    return plan_newest(bt26_layout(dims), status, count, prefix=prefix)


def decode_self_read(
    raw: bytes,
    dims: ActualRegister,
    sequence: int | None = None,
    sources: DataSelection | Sequence[int] | None = None,
    energy_unit: int = 1,
) -> BillingSnapshot:
    """One BT26 entry, or its prefix as `plan_self_reads` reads it."""
    raw = bytes(raw)
    bidn_size = _bidn_bytes(dims)
    require_at_least("BT26", raw, bidn_size, "BIDN")
    bidn = uint(raw, 0, bidn_size) if bidn_size else None
    time, season, registers, resets = _decode_snapshot(
        "BT26", raw[bidn_size:], dims, sources, energy_unit
    )
    return BillingSnapshot(
        SnapshotKind.SELF_READ, time, season, registers, resets, sequence=sequence, bidn=bidn
    )


@dataclass(frozen=True)
class SelfReadRecord:
    """What the simulator stores in one BT26 element."""

    time: datetime
    season: int
    registers: CurrentRegisterData
    bidn: int = 0


def encode_bt26(
    status: ListStatus, records: Mapping[int, SelfReadRecord], dims: ActualRegister
) -> bytes:
    """The whole table: elements without a record are zero."""
    layout = bt26_layout(dims)
    body = bytearray(layout.capacity * layout.entry_size)
    for element, record in records.items():
        entry = (
            pack_uint(record.bidn, _bidn_bytes(dims), "BT26 BIDN") if dims.demands else b""
        ) + _encode_snapshot(record.time, record.season, record.registers, dims)
        at = element * layout.entry_size
        body[at : at + layout.entry_size] = entry
    return encode_list_status(status, SMALL_LIST, "BT26") + bytes(body)
