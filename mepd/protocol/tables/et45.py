"""ET45 MEP Recurring Read Log (0x082D; p.119-120) and ET74, its extension (0x084A; p.175-176).

Scheduled M-Bus reads after a device's first land here (p.26): a circular queue of entries for
all devices, each a 2-byte length, an identifier, the device handle, execution status, result
and an MBR (`et16.BillingRead`). ET36's fifth record gives the entry size and the number of
entries, populated or not (p.27). ET74 has the same entries behind a 9-byte header with 16-bit
counts (p.176); entries wait there until ET45 has room, so a client reads ET45.

Entry size: ET36's default for ET45 is 525 bytes "(509 bytes of actual device data)" (p.108),
and the fields before the telegram (length 2, identifier 2, handle 2, execution status 1,
result 1, time stamp 6, response info 1, L 1) are 16 bytes: so the entry size counts the
length field, and entry n starts at header + n x entry size.

The header is the list header BT26 and ET81 have (`lists.ListStatus`; ET45 p.119 has
SMALL_LIST's widths, ET74 p.176 16-bit counts), maintained by the meter and the head end and
never written. The cursor is the log's "Last Entry Sequence Number", which is never reset
(p.120): entry sequence numbers follow from the header (element `last - k` holds sequence
`last_seq - k`), so a client that keeps the last sequence it published knows what is new, what
was overwritten before it could read it, and (reading the header again afterwards, p.107)
whether what it read was overwritten while it read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from mepd.protocol.errors import DecodeError
from mepd.protocol.frames import PartialRead
from mepd.protocol.mbus.records import Telegram
from mepd.protocol.tables._wire import pack_uint, require_at_least, uint
from mepd.protocol.tables.et16 import BillingRead, decode_billing_read
from mepd.protocol.tables.et36 import LogDimensions
from mepd.protocol.tables.ids import ET45, ET74
from mepd.protocol.tables.lists import (
    SMALL_LIST,
    ListFormat,
    ListStatus,
    backlog,
    decode_list_status,
    encode_list_status,
    sequence_at,
)
from mepd.protocol.tables.planning import plan_reads

SEQUENCE_MODULUS = SMALL_LIST.sequence_modulus  # UINT16 "Last Entry Sequence Number" (p.119)
LENGTH_BYTES = 2
MBR_AT = 8  # in an entry: length 2, identifier (ET74: filler) 2, handle 2, status 1, result 1
RESULT_SUCCESS = 4  # p.119
EXECUTION_DELAYED = 2  # p.119: a power-up backfill
# The first read of an entry: its fixed fields and a typical gas or water telegram (about 60
# bytes) in one frame; longer entries get a second read. Kept short because a long answer
# holds the line (465 bytes take ~0.5 s at 9600 baud) while live power waits.
PROBE_BYTES = 128


@dataclass(frozen=True)
class LogFormat:
    """Where ET45 and ET74 differ: the width of the header's counts."""

    name: str
    table: int
    fmt: ListFormat

    @property
    def header_bytes(self) -> int:
        return self.fmt.header_size


ET45_FORMAT = LogFormat("ET45", ET45, SMALL_LIST)  # p.119: UINT8 counts, UINT16 sequence
ET74_FORMAT = LogFormat("ET74", ET74, ListFormat(valid=2, last_element=2, sequence=2, unread=2))


@dataclass(frozen=True)
class RecurringRead:
    """One log entry: a scheduled read of the device with `handle`."""

    element: int
    length: int  # bytes after the length field that the read uses
    identifier: int  # ET45: bits 0..10 identifier, 11..15 namespace (0 mfg, 1 DLMS, 2 OSGP)
    handle: int
    execution: int  # 0 normal, 2 delayed (power-up backfill)
    result: int  # 4 success
    read: BillingRead | None  # None unless the result is success

    @property
    def succeeded(self) -> bool:
        return self.result == RESULT_SUCCESS

    @property
    def telegram(self) -> Telegram | None:
        """The device's answer (its first telegram), if the read succeeded and carried one."""
        return self.read.telegram if self.read is not None else None

    @property
    def timestamp(self) -> datetime | None:
        """When the meter read the device, in the meter's local time (p.91)."""
        return self.read.timestamp if self.read is not None else None


def plan_log_header(log: LogFormat = ET45_FORMAT) -> tuple[PartialRead, ...]:
    """p.27 step 5: poll the header (ET45.1..ET45.5) once a minute or less often."""
    return plan_reads(log.table, log.header_bytes)


def decode_log_header(data: bytes, log: LogFormat = ET45_FORMAT) -> ListStatus:
    return decode_list_status(log.name, data, log.fmt)


def encode_log_header(header: ListStatus, log: LogFormat = ET45_FORMAT) -> bytes:
    return encode_list_status(header, log.fmt, log.name)


# --- entries -----------------------------------------------------------------------------------


def entry_offset(element: int, dims: LogDimensions, log: LogFormat = ET45_FORMAT) -> int:
    if not 0 <= element < dims.current_entries:
        raise ValueError(f"{log.name} has {dims.current_entries} entries, not element {element}")
    return log.header_bytes + element * dims.entry_size


def plan_entry(
    element: int, dims: LogDimensions, log: LogFormat = ET45_FORMAT
) -> tuple[PartialRead, ...]:
    """The first read of an entry: its first `PROBE_BYTES` (all of a short one); then
    `rest_of_entry` for what its length says it uses beyond (p.27 step 6: only those bytes)."""
    start = entry_offset(element, dims, log)
    return plan_reads(log.table, min(PROBE_BYTES, dims.entry_size), offset=start)


def rest_of_entry(
    element: int, dims: LogDimensions, prefix: bytes, log: LogFormat = ET45_FORMAT
) -> tuple[PartialRead, ...]:
    """The reads still needed after `prefix` (the entry's first bytes); none when complete."""
    needed = entry_bytes(prefix, dims, log)
    start = entry_offset(element, dims, log)
    return plan_reads(log.table, max(0, needed - len(prefix)), offset=start + len(prefix))


def entry_bytes(prefix: bytes, dims: LogDimensions, log: LogFormat = ET45_FORMAT) -> int:
    """How many bytes of the entry hold data: its length field plus what the length counts."""
    require_at_least(log.name, prefix, LENGTH_BYTES, "entry length")
    needed = LENGTH_BYTES + uint(prefix, 0, LENGTH_BYTES)
    if needed > dims.entry_size:
        raise DecodeError(
            f"{log.name}: an entry says it uses {needed} bytes, more than its {dims.entry_size}"
        )
    return needed


def decode_entry(data: bytes, element: int, log: LogFormat = ET45_FORMAT) -> RecurringRead:
    """One entry from its first byte; `data` must hold what its length field says it uses."""
    require_at_least(log.name, data, MBR_AT, "entry fields")
    length = uint(data, 0, LENGTH_BYTES)
    require_at_least(log.name, data, LENGTH_BYTES + length, "the bytes the entry's length counts")
    result = data[7]
    used = data[MBR_AT : LENGTH_BYTES + length]
    read = None
    if result == RESULT_SUCCESS:
        read = decode_billing_read(used, table=log.name)
    return RecurringRead(
        element=element,
        length=length,
        identifier=uint(data, 2, 2),
        handle=uint(data, 4, 2),
        execution=data[6],
        result=result,
        read=read,
    )


def encode_entry(
    handle: int, mbr: bytes, *, identifier: int = 0, execution: int = 0, result: int = 4
) -> bytes:
    """An entry's used bytes (the simulator pads it to the entry size)."""
    body = (
        pack_uint(identifier, 2, "identifier")
        + pack_uint(handle, 2, "handle")
        + bytes((execution, result))
        + mbr
    )
    return pack_uint(len(body), LENGTH_BYTES, "entry length") + body


# --- the cursor --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    """What to read after a cursor, oldest first, as (element, sequence) pairs."""

    entries: tuple[tuple[int, int], ...]
    lost: int  # entries written and overwritten since the cursor, never to be read
    restarted: bool  # the log's sequence went back (reconfigured): read what it holds


def _held(header: ListStatus, current_entries: int) -> int:
    held = min(header.valid, current_entries)
    if held and not 0 <= header.last_element < current_entries:
        raise DecodeError(
            f"last entry element {header.last_element} is outside the {current_entries} "
            "entries ET36 gives: re-read ET36"
        )
    return held


def pending_entries(
    header: ListStatus, current_entries: int, after_sequence: int | None
) -> Pending:
    """The entries newer than `after_sequence` (None: every entry the log holds)."""
    held = replace(header, valid=_held(header, current_entries))
    due = backlog(held, after_sequence, SMALL_LIST)
    entries = tuple(
        ((header.last_element - k) % current_entries, sequence_at(header, k, SMALL_LIST))
        for k in reversed(range(due.new))
    )
    return Pending(entries, due.lost, due.restarted)


def still_held(header_after: ListStatus, sequence: int, current_entries: int) -> bool:
    """Whether the entry with `sequence` is still in the log (p.107: read the header again after
    the entries, so an entry overwritten while it was read is not taken for the one wanted)."""
    age = (header_after.last_sequence - sequence) % SEQUENCE_MODULUS
    return age < _held(header_after, current_entries)


def sequence_of(header: ListStatus, element: int, current_entries: int) -> int:
    """The sequence of the entry at `element` now: turns the guide's cursor (the last element
    read, p.27 step 7) into this one's."""
    if not 0 <= element < current_entries:
        raise ValueError(f"element {element} is outside the {current_entries} entries")
    back = (header.last_element - element) % current_entries
    return (header.last_sequence - back) % SEQUENCE_MODULUS
