"""BT74 History Log Data (primary event log, p.241-243) and ET79 (alternate, p.181-183).

Both have the same layout (OPG p.49: "ET79 uses the same syntax as BT74"):

    header (11 bytes): flags, valid UINT16, last element UINT16, last sequence UINT32,
                       unread UINT16                                       (lists.py)
    entries: ARRAY[BT71.5] of (12 + BT71.3)-byte records:
        LTIME_DATE time (UTC)  UINT16 sequence (low 2 bytes)  UINT16 user ID
        UINT16 event (bits 0..11; 12..15 filler)  UINT8[BT71.3] argument

The guide prints ET79 as "(2127, 0x0849)"; 2127 is 0x084F (p.55: ETnn = 2048 + nn).

BT71 Actual Log (OPG p.50-51; its fields are mirrored in ET42 at 37-40, p.114-115) gives the
argument size (BT71.3) and the primary log's size (BT71.5); ET54.80 the alternate log's.

Sequence numbers are shared by both logs (p.182, p.242): together they are the complete
sequence of events, so one cursor (the last sequence number published) serves both, and a
number missing from both after a log wrapped is an event lost to the wrap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mepd.protocol.errors import DecodeError
from mepd.protocol.frames import PartialRead
from mepd.protocol.tables._wire import (
    LTIME_DATE_BYTES,
    decode_datetime,
    encode_datetime,
    pack_uint,
    require_size,
    uint,
)
from mepd.protocol.tables.event_codes import CODE_MASK, EventMeaning, meaning_of
from mepd.protocol.tables.ids import BT71, BT74, ET54, ET79
from mepd.protocol.tables.lists import (
    HISTORY_LIST,
    EntryRead,
    ListLayout,
    ListStatus,
    decode_list_status,
    encode_list_status,
    plan_newest,
    split_entries,
)
from mepd.protocol.tables.meter_time import TimeBasis

BT71_SIZE = 9  # OPG p.51
ENTRY_FIXED_BYTES = 12  # p.242: (12 + BT71.3)-byte records
_SEQUENCE16 = 1 << 16


class EventLog(StrEnum):
    PRIMARY = "BT74"
    ALTERNATE = "ET79"

    @property
    def table(self) -> int:
        return BT74 if self is EventLog.PRIMARY else ET79


@dataclass(frozen=True)
class ActualLog:
    """BT71 (OPG p.50-51): the configured dimensions of BT74."""

    event_number: bool  # byte 0 bit 0
    history_date_time: bool  # bit 1
    history_sequence_number: bool  # bit 2
    history_inhibit_overflow: bool  # bit 3
    event_inhibit_overflow: bool  # bit 4
    standard_event_bytes: int  # 1
    manufacturer_event_bytes: int  # 2
    history_data_length: int  # 3: argument bytes per entry
    event_data_length: int  # 4
    history_entries: int  # 5, UINT16: BT74's size in entries
    event_entries: int  # 7, UINT16


def decode_bt71(data: bytes) -> ActualLog:
    data = bytes(data)
    require_size("BT71", data, BT71_SIZE)
    flags = data[0]
    return ActualLog(
        event_number=bool(flags & 0x01),
        history_date_time=bool(flags & 0x02),
        history_sequence_number=bool(flags & 0x04),
        history_inhibit_overflow=bool(flags & 0x08),
        event_inhibit_overflow=bool(flags & 0x10),
        standard_event_bytes=data[1],
        manufacturer_event_bytes=data[2],
        history_data_length=data[3],
        event_data_length=data[4],
        history_entries=uint(data, 5, 2),
        event_entries=uint(data, 7, 2),
    )


def encode_bt71(log: ActualLog) -> bytes:
    bits = (
        log.event_number,
        log.history_date_time,
        log.history_sequence_number,
        log.history_inhibit_overflow,
        log.event_inhibit_overflow,
    )
    flags = sum(int(bit) << n for n, bit in enumerate(bits))
    counts = (
        log.standard_event_bytes,
        log.manufacturer_event_bytes,
        log.history_data_length,
        log.event_data_length,
    )
    return (
        bytes((flags,))
        + b"".join(pack_uint(n, 1, "BT71 count") for n in counts)
        + pack_uint(log.history_entries, 2, "BT71 history entries")
        + pack_uint(log.event_entries, 2, "BT71 event entries")
    )


ET54_ET79_ENTRIES = 80  # ET54.80: UINT16 entries of ET79; 0 = no alternate log (p.137, p.181)


def plan_bt71() -> PartialRead:
    return PartialRead(BT71, 0, BT71_SIZE)


def plan_alternate_entries() -> PartialRead:
    """ET54.80, fw 3.70+: how many entries ET79 has (0: the alternate log is off, p.181)."""
    return PartialRead(ET54, ET54_ET79_ENTRIES, 2)


def decode_alternate_entries(data: bytes) -> int:
    data = bytes(data)
    require_size("ET54", data, 2, "ET79 Entry Count")
    return uint(data, 0, 2)


def log_layout(log: EventLog, entries: int, argument_bytes: int) -> ListLayout:
    """`entries`: BT71.5 for BT74, ET54.80 for ET79; `argument_bytes`: BT71.3 for both."""
    size = ENTRY_FIXED_BYTES + argument_bytes
    return ListLayout(log.table, log.value, HISTORY_LIST, size, entries)


@dataclass(frozen=True)
class LogEntry:
    """One record as stored: `sequence16` is the low 2 bytes of the shared sequence."""

    time: datetime  # UTC (p.242)
    sequence16: int
    user_id: int  # 0xFFFF nobody, 0xFFFE PLC/P2P/G3, 0xFFFD a MEP client (p.243)
    code: int  # 12 bits (p.243)
    argument: bytes


def decode_log_entry(table: str, raw: bytes, argument_bytes: int) -> LogEntry:
    raw = bytes(raw)
    require_size(table, raw, ENTRY_FIXED_BYTES + argument_bytes, "history log entry")
    return LogEntry(
        time=decode_datetime(table, raw[:LTIME_DATE_BYTES]),
        sequence16=uint(raw, 6, 2),
        user_id=uint(raw, 8, 2),
        code=uint(raw, 10, 2) & CODE_MASK,
        argument=raw[ENTRY_FIXED_BYTES:],
    )


def encode_log_entry(entry: LogEntry, argument_bytes: int) -> bytes:
    if len(entry.argument) != argument_bytes:
        raise ValueError(f"history log argument is {argument_bytes} bytes, not {entry.argument!r}")
    if entry.code != entry.code & CODE_MASK:
        raise ValueError(f"event code {entry.code} does not fit 12 bits")
    return (
        encode_datetime(entry.time, LTIME_DATE_BYTES, "history log time")
        + pack_uint(entry.sequence16, 2, "history log sequence")
        + pack_uint(entry.user_id, 2, "history log user")
        + pack_uint(entry.code, 2, "history log event")
        + entry.argument
    )


def decode_log_status(log: EventLog, data: bytes) -> ListStatus:
    """The 11-byte header (at the start of `data`)."""
    return decode_list_status(log.value, data, HISTORY_LIST)


def encode_event_log(layout: ListLayout, status: ListStatus, entries: dict[int, LogEntry]) -> bytes:
    """The whole table; elements without an entry are zero (the simulator's side)."""
    argument_bytes = layout.entry_size - ENTRY_FIXED_BYTES
    body = bytearray(layout.capacity * layout.entry_size)
    for element, entry in entries.items():
        at = element * layout.entry_size
        body[at : at + layout.entry_size] = encode_log_entry(entry, argument_bytes)
    return encode_list_status(status, HISTORY_LIST, layout.name) + bytes(body)


# --- entries after a cursor -----------------------------------------------------------------


def full_sequence(status: ListStatus, sequence16: int) -> int:
    """An entry's 32-bit sequence from its low 2 bytes and the header's newest (p.242).

    Entries are at most 65535 numbers older than the newest (a log holds far fewer). One that
    would be older than sequence 0 cannot be from this header: DecodeError.
    """
    sequence = status.last_sequence - ((status.last_sequence - sequence16) % _SEQUENCE16)
    if sequence < 0:
        raise DecodeError(
            f"entry sequence {sequence16} does not fit a log whose newest is {status.last_sequence}"
        )
    return sequence


def candidates_after(status: ListStatus, after: int | None) -> int:
    """How many of the newest entries can be newer than `after` (the shared sequence)."""
    if after is None or status.last_sequence < after:
        return status.valid
    return min(status.valid, status.last_sequence - after)


def plan_events_after(
    layout: ListLayout, status: ListStatus, after: int | None
) -> tuple[EntryRead, ...]:
    """Reads for the entries that may be newer than `after`: at most last sequence - after.

    The other log may have taken some of those numbers, so a few older entries can come along;
    `events_after` drops them.
    """
    return plan_newest(layout, status, candidates_after(status, after))


@dataclass(frozen=True)
class LogRead:
    """What one log gave: its header and the entries read, as `split_entries` returns them."""

    log: EventLog
    layout: ListLayout
    status: ListStatus
    entries: tuple[tuple[int, bytes], ...] = ()

    @classmethod
    def of(
        cls,
        log: EventLog,
        layout: ListLayout,
        status: ListStatus,
        reads: Sequence[tuple[EntryRead, bytes]] = (),
    ) -> LogRead:
        entries = tuple(pair for item, data in reads for pair in split_entries(layout, item, data))
        return cls(log, layout, status, entries)

    @property
    def wrapped(self) -> bool:
        """Entries may have been written over: the log is full, or says it overflowed."""
        return self.status.overflow or self.status.valid >= self.layout.capacity


@dataclass(frozen=True)
class HistoryEvent:
    """One event log entry, ready to publish."""

    log: EventLog
    sequence: int
    time: datetime  # meter time as written
    code: int
    argument: bytes
    user_id: int
    meaning: EventMeaning
    time_basis: TimeBasis = TimeBasis.UTC  # p.182, p.242


@dataclass(frozen=True)
class EventBatch:
    """Entries newer than the cursor, oldest first, and the sequence numbers lost to a wrap.

    `lost` ranges are inclusive (first, last). `restarted`: the newest sequence is below the
    cursor (a log reset on fw < 3.70, p.242, or another meter): everything held is new.
    """

    events: tuple[HistoryEvent, ...] = ()
    lost: tuple[tuple[int, int], ...] = ()
    restarted: bool = False
    newest: int | None = None  # the highest sequence seen: the next cursor

    @property
    def lost_count(self) -> int:
        return sum(last - first + 1 for first, last in self.lost)


def events_after(after: int | None, logs: Sequence[LogRead]) -> EventBatch:
    """Merge what the logs gave into the events after `after`, in sequence order.

    The logs share one sequence, so the newest of their headers is the meter's newest event;
    one log's newest may well be older than the cursor while the other moved on.
    """
    headers = [r.status.last_sequence for r in logs if r.status.valid]
    newest_header = max(headers, default=None)
    restarted = after is not None and newest_header is not None and newest_header < after
    cursor = None if restarted else after
    events: dict[int, HistoryEvent] = {}
    for read in logs:
        argument_bytes = read.layout.entry_size - ENTRY_FIXED_BYTES
        for _element, raw in read.entries:
            entry = decode_log_entry(read.log.value, raw, argument_bytes)
            sequence = full_sequence(read.status, entry.sequence16)
            if cursor is not None and sequence <= cursor:
                continue
            if sequence in events:
                continue  # [?] an event logged in both logs (p.181): the first log's entry
            events[sequence] = HistoryEvent(
                read.log,
                sequence,
                entry.time,
                entry.code,
                entry.argument,
                entry.user_id,
                meaning_of(entry.code),
            )
    newest = max([*headers, *events], default=None)
    return EventBatch(
        events=tuple(events[s] for s in sorted(events)),
        lost=_lost(cursor, logs, set(events), newest),
        restarted=restarted,
        newest=newest,
    )


def _lost(
    cursor: int | None, logs: Sequence[LogRead], seen: set[int], newest: int | None
) -> tuple[tuple[int, int], ...]:
    """Numbers after the cursor in no log and older than what a wrapped log still holds.

    A wrapped log read in full (every valid entry) holds nothing older than its oldest entry;
    one read in part still held an entry at or before the cursor, so it lost nothing new.
    """
    if cursor is None or newest is None:
        return ()
    horizons = [
        min(full_sequence(r.status, _seq16(raw)) for _, raw in r.entries)
        for r in logs
        if r.wrapped and r.entries and len(r.entries) >= r.status.valid
    ]
    if not horizons:
        return ()
    end = min(max(horizons), newest + 1)
    return _ranges([n for n in range(cursor + 1, end) if n not in seen])


def _seq16(raw: bytes) -> int:
    return uint(raw, 6, 2)


def _ranges(numbers: Sequence[int]) -> tuple[tuple[int, int], ...]:
    ranges: list[tuple[int, int]] = []
    for n in numbers:
        if ranges and ranges[-1][1] == n - 1:
            ranges[-1] = (ranges[-1][0], n)
        else:
            ranges.append((n, n))
    return tuple(ranges)
