"""Which partial reads fetch a table: never more than 465 bytes each (p.8: 476-byte messages).

A full read (0x30) of BT23 fails on meters whose BT23 exceeds one response (981 bytes on the
guide's example meter), so everything here is a partial read (0x3F).
"""

from __future__ import annotations

from collections.abc import Sequence

from mepd.protocol.errors import DecodeError
from mepd.protocol.frames import MAX_READ_COUNT, PartialRead
from mepd.protocol.tables.bt21 import ActualRegister
from mepd.protocol.tables.bt23 import bt23_size, demand_resets_size
from mepd.protocol.tables.bt28 import bt28_size, value_offset
from mepd.protocol.tables.ids import BT23, BT28

_INT32_BYTES = 4


def plan_reads(
    table: int, size: int, *, offset: int = 0, max_count: int = MAX_READ_COUNT
) -> tuple[PartialRead, ...]:
    """Consecutive reads covering bytes offset..offset+size-1 exactly; none for size 0."""
    if size < 0 or offset < 0:
        raise ValueError(f"cannot plan {size} bytes at offset {offset}")
    if not 1 <= max_count <= MAX_READ_COUNT:
        raise ValueError(f"a read returns 1 to {MAX_READ_COUNT} bytes, not {max_count}")
    return tuple(
        PartialRead(table, offset + start, min(max_count, size - start))
        for start in range(0, size, max_count)
    )


def plan_bt23(dims: ActualRegister, summations: int | None = None) -> tuple[PartialRead, ...]:
    """The first `summations` total registers (with the demand reset byte), or the whole table.

    The short form is what `decode_bt23_summations` decodes.
    """
    if summations is None:
        return plan_reads(BT23, bt23_size(dims))
    if not 0 <= summations <= dims.summations:
        raise ValueError(f"BT23 has {dims.summations} summations, cannot read {summations}")
    return plan_reads(BT23, demand_resets_size(dims) + _INT32_BYTES * summations)


def plan_bt28(dims: ActualRegister) -> tuple[PartialRead, ...]:
    return plan_reads(BT28, bt28_size(dims))


def plan_bt28_values(dims: ActualRegister, first: int, count: int) -> PartialRead:
    """One partial read of present values `first`..`first + count - 1` (a piece of BT28)."""
    if count < 1 or first + count > dims.present_values:
        raise ValueError(f"BT28 has {dims.present_values} present values, cannot read {count}")
    size = _INT32_BYTES * count
    if size > MAX_READ_COUNT:
        raise ValueError(f"{size} bytes do not fit one read (p.8)")
    return PartialRead(BT28, value_offset(dims, first), size)


def assemble(plan: Sequence[PartialRead], responses: Sequence[bytes]) -> bytes:
    """Join the answers to a plan, in plan order, checking each answer's length."""
    if len(responses) != len(plan):
        raise DecodeError(f"{len(plan)} reads planned, {len(responses)} answers")
    out = bytearray()
    for number, (read, data) in enumerate(zip(plan, responses, strict=True)):
        if number and read.offset != plan[number - 1].offset + plan[number - 1].count:
            raise DecodeError(f"table {read.table}: read {number} does not follow the one before")
        if len(data) != read.count:
            raise DecodeError(
                f"table {read.table} at offset {read.offset}: asked for {read.count} bytes, "
                f"got {len(data)}"
            )
        out += data
    return bytes(out)
