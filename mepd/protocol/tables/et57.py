"""ET57 M-Bus Data Type Table (0x0839; p.163-164): M-Bus data types (MDT) and their DRHs.

ET11.25 (16) entries of 4 bytes: entry type (bits 0-1), MDT (2-6), special (7), then a 3-byte
data record header. An extension entry (type 3) continues the DRH of the entry before; a DRH
carries no length because the DRH itself tells it (p.31), so the 3-byte padding is cut off by
parsing it. The load profile's M-Bus channels (extended source ids 0x4nMM: ET13 index n, MDT
MM, p.31) are read through these; the guide's example is MDT 1 = `0C 93 3A` (p.33).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from mepd.protocol.errors import DecodeError
from mepd.protocol.frames import PartialRead
from mepd.protocol.mbus import units
from mepd.protocol.mbus.records import RecordHeader, SkipReason, parse_drh, value_information
from mepd.protocol.mbus.units import ValueInformation
from mepd.protocol.tables._wire import require_size
from mepd.protocol.tables.ids import ET57
from mepd.protocol.tables.planning import plan_reads

TABLE = "ET57"
ENTRY_BYTES = 4
ENTRIES = 16  # ET11.25 (p.79)
DRH_BYTES = 3


class EntryType(IntEnum):
    EMPTY = 0
    MBUS = 1
    MEP = 2  # DRH is offset, length, command bytes of a MEP message (p.163)
    EXTENSION = 3


@dataclass(frozen=True)
class DataType:
    """One MDT definition: a base entry with its extensions' DRH bytes joined."""

    entry: int  # index of the base entry
    kind: EntryType
    mdt: int
    special: bool  # e.g. temperature corrected, for the load profile (p.31)
    drh: bytes  # M-Bus: exactly the DRH; MEP: the joined raw bytes
    meaning: ValueInformation | None  # M-Bus: what the DRH's values are, if mepd knows
    note: str = ""  # why `meaning` is None


def plan_et57(entries: int = ENTRIES) -> tuple[PartialRead, ...]:
    return plan_reads(ET57, entries * ENTRY_BYTES)


def decode_et57(data: bytes, *, entries: int = ENTRIES) -> tuple[DataType, ...]:
    require_size(TABLE, data, entries * ENTRY_BYTES, f"{entries} entries")
    groups: list[tuple[int, int, bytearray]] = []  # (entry index, first byte, DRH bytes)
    for index in range(entries):
        first, drh = data[index * ENTRY_BYTES], data[index * ENTRY_BYTES + 1 : (index + 1) * 4]
        kind = first & 0x03
        if kind == EntryType.EXTENSION and groups:
            groups[-1][2].extend(drh)
        elif kind in (EntryType.MBUS, EntryType.MEP):
            groups.append((index, first, bytearray(drh)))
    return tuple(_data_type(index, first, bytes(drh)) for index, first, drh in groups)


def _data_type(index: int, first: int, drh: bytes) -> DataType:
    kind, mdt, special = EntryType(first & 0x03), (first >> 2) & 0x1F, bool(first & 0x80)
    if kind is EntryType.MEP:
        return DataType(index, kind, mdt, special, drh, None, "a MEP data type")
    try:
        header, used = parse_drh(drh)
    except DecodeError as error:
        return DataType(index, kind, mdt, special, drh, None, str(error))
    meaning = value_information(header)
    if isinstance(meaning, SkipReason):
        return DataType(index, kind, mdt, special, drh[:used], None, _time_note(header, meaning))
    return DataType(index, kind, mdt, special, drh[:used], meaning[0])


def _time_note(header: RecordHeader, reason: SkipReason) -> str:
    time_point = header.vif & 0x7F in (units.VIF_DATE, units.VIF_DATE_TIME)
    return "a time point" if time_point else reason.value


def encode_et57(types: Sequence[tuple[int, bytes, bool]], *, entries: int = ENTRIES) -> bytes:
    """(MDT, DRH, special) M-Bus data types, each in as many entries as its DRH needs."""
    out = bytearray()
    for mdt, drh, special in types:
        if not 0 <= mdt <= 0x1F:
            raise ValueError(f"an MDT is 5 bits, not {mdt}")
        chunks = [drh[i : i + DRH_BYTES].ljust(DRH_BYTES, b"\x00") for i in range(0, len(drh), 3)]
        out += bytes((EntryType.MBUS | mdt << 2 | (0x80 if special else 0),)) + chunks[0]
        for chunk in chunks[1:]:
            out += bytes((EntryType.EXTENSION,)) + chunk
    if len(out) > entries * ENTRY_BYTES:
        raise ValueError(f"the data types need more than {entries} entries")
    return bytes(out.ljust(entries * ENTRY_BYTES, b"\x00"))
