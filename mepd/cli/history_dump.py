"""`mepd dump` for the history tables: BT25, BT26, BT74, ET79, ET81, ET09 (ET46: a plain read).

These tables are lists bigger than one read (a BT26 entry alone can be 1305 bytes, p.8), so
they are not read whole: the header first, then each valid entry with the planners of
`mepd.protocol.tables` (a BT26 entry's time and total registers only). The hex shown is what
was read at offset 0 (the header, or BT25's time and registers); the entries are decoded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mepd.protocol.frames import PartialRead
from mepd.protocol.tables.billing import (
    BillingSnapshot,
    decode_bt25,
    decode_bt26_status,
    decode_self_read,
    plan_bt25,
    plan_self_reads,
)
from mepd.protocol.tables.bt21 import ActualRegister
from mepd.protocol.tables.bt22 import bt22_size, decode_bt22
from mepd.protocol.tables.event_log import (
    BT71_SIZE,
    ActualLog,
    EventLog,
    LogRead,
    decode_bt71,
    decode_log_status,
    events_after,
    log_layout,
)
from mepd.protocol.tables.ids import BT22, BT25, BT26, BT71, BT74, ET09, ET79, ET81
from mepd.protocol.tables.lists import (
    SMALL_LIST,
    ListLayout,
    ListStatus,
    fitted,
    plan_newest,
    sequence_at,
    split_entries,
)
from mepd.protocol.tables.outage_log import (
    OutageRecord,
    decode_et81_status,
    decode_outage,
    et81_layout,
)
from mepd.protocol.tables.power_quality import decode_et09, plan_et09, plan_power_cycles

HISTORY_TABLES = frozenset({BT25, BT26, BT74, ET79, ET81, ET09})


class TableReader(Protocol):
    """What `table_dump._Reader` offers: planned reads and BT21."""

    async def bytes(self, table: int, offset: int, count: int) -> bytes: ...

    async def dims(self) -> ActualRegister: ...


@dataclass(frozen=True)
class DumpedEvent:
    sequence: int
    time: datetime
    code: int
    event: str
    category: str
    guide_page: int | None
    argument: bytes
    user_id: int


@dataclass(frozen=True)
class EventLogDump:
    status: ListStatus
    events: tuple[DumpedEvent, ...]
    dimensions: ActualLog | None = None  # BT71, for BT74
    time_basis: str = "utc (BT52, p.242)"


@dataclass(frozen=True)
class SelfReadDump:
    status: ListStatus
    snapshots: tuple[BillingSnapshot, ...]


@dataclass(frozen=True)
class OutageLogDump:
    status: ListStatus
    outages: tuple[OutageRecord, ...]


async def read_history(reader: TableReader, table: int) -> tuple[bytes, object]:
    """(the bytes read at offset 0, the decoded table) for one of `HISTORY_TABLES`."""
    readers: dict[int, Callable[[TableReader], Awaitable[tuple[bytes, object]]]] = {
        BT25: _bt25,
        BT26: _bt26,
        BT74: lambda r: _event_log(r, EventLog.PRIMARY),
        ET79: lambda r: _event_log(r, EventLog.ALTERNATE),
        ET81: _et81,
        ET09: _et09,
    }
    return await readers[table](reader)


async def _read(reader: TableReader, read: PartialRead) -> bytes:
    return await reader.bytes(read.table, read.offset, read.count)


async def _sources(reader: TableReader, dims: ActualRegister) -> tuple[int, ...]:
    selection = decode_bt22(await reader.bytes(BT22, 0, bt22_size(dims)), dims)
    return selection.summation_sources


async def _bt25(reader: TableReader) -> tuple[bytes, object]:
    dims = await reader.dims()
    data = await _read(reader, plan_bt25(dims, dims.summations))
    return data, decode_bt25(data, dims, await _sources(reader, dims))


async def _bt26(reader: TableReader) -> tuple[bytes, object]:
    dims = await reader.dims()
    header = await reader.bytes(BT26, 0, SMALL_LIST.header_size)
    status = decode_bt26_status(header)
    sources = await _sources(reader, dims)
    plan = plan_self_reads(dims, status, status.valid, dims.summations)
    snapshots = []
    for age, item in zip(range(len(plan) - 1, -1, -1), plan, strict=True):
        sequence = sequence_at(status, age, SMALL_LIST)
        snapshots.append(decode_self_read(await _read(reader, item.read), dims, sequence, sources))
    return header, SelfReadDump(status, tuple(snapshots))


async def _entries(
    reader: TableReader, layout: ListLayout, status: ListStatus
) -> tuple[tuple[int, bytes], ...]:
    entries: list[tuple[int, bytes]] = []
    for item in plan_newest(layout, status, status.valid):
        entries += split_entries(layout, item, await _read(reader, item.read))
    return tuple(entries)


async def _event_log(reader: TableReader, log: EventLog) -> tuple[bytes, object]:
    dimensions = decode_bt71(await reader.bytes(BT71, 0, BT71_SIZE))
    header = await reader.bytes(log.table, 0, 11)
    status = decode_log_status(log, header)
    layout = log_layout(log, dimensions.history_entries, dimensions.history_data_length)
    if log is EventLog.ALTERNATE:
        layout = fitted(layout, status)  # ET54.80 left unread: sized by its header
    batch = events_after(
        None, [LogRead(log, layout, status, await _entries(reader, layout, status))]
    )
    events = tuple(
        DumpedEvent(
            e.sequence,
            e.time,
            e.code,
            e.meaning.text,
            e.meaning.category.value,
            e.meaning.page,
            e.argument,
            e.user_id,
        )
        for e in batch.events
    )
    return header, EventLogDump(status, events, dimensions if log is EventLog.PRIMARY else None)


async def _et81(reader: TableReader) -> tuple[bytes, object]:
    header = await reader.bytes(ET81, 0, SMALL_LIST.header_size)
    status = decode_et81_status(header)
    layout = fitted(et81_layout(status.valid), status)  # ET36 left unread
    entries = await _entries(reader, layout, status)
    outages = tuple(
        decode_outage(raw, sequence_at(status, len(entries) - 1 - k, SMALL_LIST))
        for k, (_, raw) in enumerate(entries)
    )
    return header, OutageLogDump(status, outages)


async def _et09(reader: TableReader) -> tuple[bytes, object]:
    records = (await _read(reader, plan_power_cycles()))[0]
    data = await _read(reader, plan_et09(records))
    return data, decode_et09(data, records)
