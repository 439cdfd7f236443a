"""The meter's circular lists (self-reads, event logs, outage log): header, planning, cursors.

BT26 (p.213), BT74 (p.241-242), ET79 (p.181-182) and ET81 (p.185-186) share one shape: a
header, then an array of fixed-size entries used as a circular queue (List Type 1), oldest to
newest in ascending order (Order 0: "N is older than N+1"). The header says how many entries
hold data ("Number of Valid Entries"), where the newest is ("Last Entry Element") and its
sequence number ("Last Entry Sequence Number", never reset on fw 3.70+). BT26 and ET81 count
in UINT8/UINT16; the event logs in UINT16/UINT32 (`SMALL_LIST`, `HISTORY_LIST`).

The guide's advice (p.29, OPG p.49-50) is to read the list and track the newest entry by the
last element; a reader must not change the header ("Number of Unread Entries" belongs to the
head end). So a cursor here is the sequence number of the last entry a client published, and
the planners read only entries that can be newer than it, whole entries per read, each read
at most 465 bytes (p.8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mepd.protocol.errors import DecodeError
from mepd.protocol.frames import MAX_READ_COUNT, PartialRead
from mepd.protocol.tables._wire import pack_uint, require_at_least, uint


@dataclass(frozen=True)
class ListFormat:
    """Byte widths of the header fields after the flags byte."""

    valid: int
    last_element: int
    sequence: int
    unread: int

    @property
    def header_size(self) -> int:
        return 1 + self.valid + self.last_element + self.sequence + self.unread

    @property
    def sequence_modulus(self) -> int:
        return 1 << (8 * self.sequence)


SMALL_LIST = ListFormat(valid=1, last_element=1, sequence=2, unread=1)  # BT26 p.213, ET81 p.186
HISTORY_LIST = ListFormat(valid=2, last_element=2, sequence=4, unread=2)  # BT74 p.242, ET79 p.182

_ORDER, _OVERFLOW, _LIST_TYPE, _INHIBIT = 0x01, 0x02, 0x04, 0x08


@dataclass(frozen=True)
class ListStatus:
    """A list header. `overflow`: entries were written over before anyone read them."""

    descending: bool  # bit 0 Order: 0 = ascending (the guide fixes it at 0)
    overflow: bool  # bit 1
    circular: bool  # bit 2 List Type: 1 = circular queue (0 = FIFO, or no entries)
    inhibit_overflow: bool  # bit 3: 0 = old entries are overwritten
    valid: int
    last_element: int
    last_sequence: int
    unread: int


def decode_list_status(table: str, data: bytes, fmt: ListFormat) -> ListStatus:
    """The header at the start of `data` (which may go on into the entries)."""
    data = bytes(data)
    require_at_least(table, data, fmt.header_size, "list header")
    at = 1
    fields = []
    for size in (fmt.valid, fmt.last_element, fmt.sequence, fmt.unread):
        fields.append(uint(data, at, size))
        at += size
    valid, last_element, last_sequence, unread = fields
    flags = data[0]
    if valid and last_element >= max(valid, 1) and not flags & _LIST_TYPE:
        raise DecodeError(f"{table}: FIFO list with {valid} entries ends at element {last_element}")
    return ListStatus(
        descending=bool(flags & _ORDER),
        overflow=bool(flags & _OVERFLOW),
        circular=bool(flags & _LIST_TYPE),
        inhibit_overflow=bool(flags & _INHIBIT),
        valid=valid,
        last_element=last_element,
        last_sequence=last_sequence,
        unread=unread,
    )


def encode_list_status(status: ListStatus, fmt: ListFormat, table: str) -> bytes:
    flags = (
        int(status.descending) * _ORDER
        | int(status.overflow) * _OVERFLOW
        | int(status.circular) * _LIST_TYPE
        | int(status.inhibit_overflow) * _INHIBIT
    )
    return bytes((flags,)) + b"".join(
        pack_uint(value, size, f"{table} list header")
        for value, size in (
            (status.valid, fmt.valid),
            (status.last_element, fmt.last_element),
            (status.last_sequence, fmt.sequence),
            (status.unread, fmt.unread),
        )
    )


@dataclass(frozen=True)
class ListLayout:
    """Where a list's entries are: `capacity` entries of `entry_size` bytes after the header.

    The capacity comes from the dimension tables (BT21.2 for BT26, BT71.5 for BT74, ET54.80
    for ET79, ET36 "Current Entries" for ET81); `fitted` derives it from a header instead.
    """

    table: int
    name: str
    fmt: ListFormat
    entry_size: int
    capacity: int

    def __post_init__(self) -> None:
        if self.entry_size < 1 or self.capacity < 0:
            raise ValueError(f"{self.name}: {self.capacity} entries of {self.entry_size} bytes")

    @property
    def size(self) -> int:
        return self.fmt.header_size + self.capacity * self.entry_size

    def offset_of(self, element: int) -> int:
        return self.fmt.header_size + element * self.entry_size

    def status_read(self) -> PartialRead:
        return PartialRead(self.table, 0, self.fmt.header_size)

    def check(self, status: ListStatus) -> None:
        """The header fits the dimensions we read it by, else they are stale (DecodeError)."""
        if status.descending:
            raise DecodeError(f"{self.name}: descending order (the guide fixes Order at 0)")
        if status.valid > self.capacity:
            raise DecodeError(f"{self.name}: {status.valid} entries in a list of {self.capacity}")
        if status.valid and status.last_element >= self.capacity:
            raise DecodeError(
                f"{self.name}: last element {status.last_element} of {self.capacity} entries"
            )

    def element_of(self, status: ListStatus, age: int) -> int:
        """The element of the entry `age` places before the newest (0 = the newest)."""
        return (status.last_element - age) % self.capacity


def written_status(
    capacity: int, written: int, last_sequence: int, *, unread: int = 0
) -> ListStatus:
    """The header of a circular list after `written` entries, the k-th (from 0) in element
    k % capacity, the oldest written over (the meter's side: the simulator's logs)."""
    valid = min(written, capacity)
    return ListStatus(
        descending=False,
        overflow=written > capacity,
        circular=capacity > 0,
        inhibit_overflow=False,
        valid=valid,
        last_element=(written - 1) % capacity if valid else 0,
        last_sequence=last_sequence,
        unread=unread,
    )


def fitted(layout: ListLayout, status: ListStatus) -> ListLayout:
    """`layout` with the smallest capacity the header allows, when the real one is unknown.

    A list that has not wrapped holds elements 0..valid-1; one that has is full, so valid is
    the capacity. Only a header whose newest element lies past `valid` needs the real figure.
    """
    capacity = max(status.valid, status.last_element + 1 if status.valid else 0)
    if capacity > status.valid and status.valid:
        raise DecodeError(
            f"{layout.name}: newest entry at element {status.last_element} of {status.valid}: "
            "the list size (its dimension table) is needed"
        )
    return ListLayout(layout.table, layout.name, layout.fmt, layout.entry_size, capacity)


@dataclass(frozen=True)
class EntryRead:
    """One partial read holding `count` entries (or each entry's first bytes, see `prefix`)."""

    read: PartialRead
    first_element: int
    count: int


def plan_newest(
    layout: ListLayout, status: ListStatus, count: int, *, prefix: int | None = None
) -> tuple[EntryRead, ...]:
    """Reads for the `count` newest entries, oldest first; whole entries, <= 465 bytes each.

    With `prefix`, one read per entry of its first `prefix` bytes (a BT26 entry is bigger than
    a read; its time and first registers are at its start).
    """
    layout.check(status)
    count = max(0, min(count, status.valid))
    elements = [layout.element_of(status, age) for age in range(count - 1, -1, -1)]
    if prefix is not None:
        if not 1 <= prefix <= min(layout.entry_size, MAX_READ_COUNT):
            raise ValueError(f"{layout.name}: cannot read {prefix} bytes of each entry")
        return tuple(
            EntryRead(PartialRead(layout.table, layout.offset_of(e), prefix), e, 1)
            for e in elements
        )
    per_read = MAX_READ_COUNT // layout.entry_size
    if per_read < 1:
        raise ValueError(f"{layout.name}: a {layout.entry_size}-byte entry needs a prefix read")
    reads: list[EntryRead] = []
    run: list[int] = []
    for element in elements:
        if run and (element != run[-1] + 1 or len(run) == per_read):
            reads.append(_entry_read(layout, run))
            run = []
        run.append(element)
    if run:
        reads.append(_entry_read(layout, run))
    return tuple(reads)


def _entry_read(layout: ListLayout, run: Sequence[int]) -> EntryRead:
    read = PartialRead(layout.table, layout.offset_of(run[0]), layout.entry_size * len(run))
    return EntryRead(read, run[0], len(run))


def split_entries(
    layout: ListLayout, item: EntryRead, data: bytes
) -> tuple[tuple[int, bytes], ...]:
    """(element, entry bytes) for each entry the read returned."""
    data = bytes(data)
    if len(data) != item.read.count:
        raise DecodeError(
            f"{layout.name} at offset {item.read.offset}: asked for {item.read.count} bytes, "
            f"got {len(data)}"
        )
    size = item.read.count // item.count
    return tuple(
        ((item.first_element + k) % max(layout.capacity, 1), data[k * size : (k + 1) * size])
        for k in range(item.count)
    )


def unchanged(before: ListStatus, after: ListStatus) -> bool:
    """The list did not move between two header reads.

    The meter may log while a client reads: an entry written over between the header read and
    the entry read would pass for an old one. ET36's advice (p.108) is to read the header
    again after the entries and keep them only if no entry was added meanwhile.
    """
    return (before.last_sequence, before.last_element, before.valid) == (
        after.last_sequence,
        after.last_element,
        after.valid,
    )


@dataclass(frozen=True)
class Backlog:
    """What a list holds after a cursor: `new` entries to read, `lost` ones it no longer has."""

    new: int
    lost: int
    restarted: bool = False  # the sequence went back: a reset list or another meter


def backlog(status: ListStatus, after: int | None, fmt: ListFormat) -> Backlog:
    """For lists whose every entry takes the next sequence number (BT26, ET81).

    The count is taken modulo the field (UINT16 wraps after 65535 operations). With no cursor
    every valid entry is new; more new operations than valid entries means entries were
    written over before being read: `lost` of them, reported once as the cursor moves on.
    """
    if after is None:
        return Backlog(status.valid, 0)
    behind = (status.last_sequence - after) % fmt.sequence_modulus
    if behind > fmt.sequence_modulus // 2:
        return Backlog(status.valid, 0, restarted=True)
    new = min(behind, status.valid)
    return Backlog(new, behind - new)


def sequence_at(status: ListStatus, age: int, fmt: ListFormat) -> int:
    """The sequence number of the entry `age` places before the newest (BT26, ET81)."""
    return (status.last_sequence - age) % fmt.sequence_modulus
