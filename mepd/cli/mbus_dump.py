"""`mepd dump` for the M-Bus tables (p.25-33): ET14, ET16, ET36, ET45, ET57.

ET14 and ET16 are as long as ET11 says (devices x entry size); ET45 is read the way a client
navigates it (p.26-27): ET36's fifth record, the header, then the newest entries one by one,
each only as far as its length field says it is used.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from mepd.protocol.frames import PartialRead
from mepd.protocol.tables import assemble
from mepd.protocol.tables.et11 import MfgDimensions, decode_et11
from mepd.protocol.tables.et14 import decode_et14
from mepd.protocol.tables.et16 import BillingRead, decode_et16
from mepd.protocol.tables.et36 import (
    LogDimensions,
    decode_et36,
    decode_et45_dimensions,
    plan_et45_dimensions,
)
from mepd.protocol.tables.et45 import (
    RecurringRead,
    decode_entry,
    decode_log_header,
    pending_entries,
    plan_entry,
    plan_log_header,
    rest_of_entry,
)
from mepd.protocol.tables.et57 import ENTRY_BYTES as ET57_ENTRY
from mepd.protocol.tables.et57 import DataType, decode_et57
from mepd.protocol.tables.ids import ET11, ET14, ET16, ET36, ET45, ET57
from mepd.protocol.tables.lists import ListStatus

MBUS_TABLES = frozenset({ET14, ET16, ET36, ET45, ET57})
NEWEST_ENTRIES = 12  # ET45 entries a dump shows: each costs a read of the budget (p.51)
_ET11_BYTES = 26  # through ET11.25, the ET57 entry count (p.77-79)

ReadBytes = Callable[[int, int, int], Awaitable[bytes]]  # table, offset, count
ReadPlan = Callable[[Sequence[PartialRead]], Awaitable[bytes]]


@dataclass(frozen=True)
class RecurringLog:
    """ET45 as a client sees it: its dimensions (ET36), header and the newest entries."""

    dimensions: LogDimensions
    header: ListStatus
    header_bytes: bytes
    entries: tuple[RecurringRead, ...]  # oldest first


@dataclass(frozen=True)
class DeviceData:
    """ET16's M-Bus entries, slot 1 first."""

    entries: tuple[BillingRead, ...]


@dataclass(frozen=True)
class DataTypes:
    """ET57's data types."""

    types: tuple[DataType, ...]


async def mbus_size(table: int, read: ReadBytes) -> int | None:
    """How many bytes of `table` to read from 0; None for a full read."""
    if table not in (ET14, ET16, ET57):
        return None
    dims = decode_et11(await read(ET11, 0, _ET11_BYTES))
    devices = dims.number_of_devices or 0
    if table == ET14:
        return 6 + devices * (dims.status_entry_size or 0)
    if table == ET16:
        return devices * (dims.data_entry_size or 0)
    return (dims.et57_entry_count or 0) * ET57_ENTRY


async def decode_mbus(table: int, data: bytes, read: ReadBytes) -> object:
    """`data` read from offset 0 as `mbus_size` planned; DecodeError if it does not decode."""
    if table == ET36:
        return decode_et36(data)
    if table == ET57:
        return DataTypes(decode_et57(data, entries=len(data) // ET57_ENTRY))
    dims: MfgDimensions = decode_et11(await read(ET11, 0, _ET11_BYTES))
    if table == ET14:
        return decode_et14(data, entry_size=dims.status_entry_size or 0)
    return DeviceData(decode_et16(data, entry_size=dims.data_entry_size or 0))


async def read_recurring_log(read: ReadPlan, newest: int = NEWEST_ENTRIES) -> RecurringLog:
    """ET45 navigated as p.26-27 says: dimensions, header, then the newest entries."""
    dims = decode_et45_dimensions(await read(plan_et45_dimensions()))
    header_bytes = await read(plan_log_header())
    header = decode_log_header(header_bytes)
    pending = pending_entries(header, dims.current_entries, None)
    entries = []
    for element, _ in pending.entries[-newest:]:
        data = await read(plan_entry(element, dims))
        rest = rest_of_entry(element, dims, data)
        if rest:
            data += await read(rest)
        entries.append(decode_entry(data, element))
    return RecurringLog(dims, header, header_bytes, tuple(entries))


def plan_reader(read: ReadBytes) -> ReadPlan:
    """A reader of whole plans from a reader of byte ranges, checking each answer's length."""

    async def read_plan(plan: Sequence[PartialRead]) -> bytes:
        answers = [await read(part.table, part.offset, part.count) for part in plan]
        return assemble(plan, answers)

    return read_plan
