"""`mepd dump TABLE`: one table's verified bytes, in hex and decoded where mepd knows how.

For the times a user or a developer needs to see what the meter really says: every byte shown
has passed the response digest. Reads are planned within the 465-byte frame limit (p.8) and
paced by the session like every other read, so dumping never strains the meter's budget.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from mepd.cli.history_dump import HISTORY_TABLES, read_history
from mepd.cli.lp_dump import LOAD_PROFILE_TABLES, bt64_layout, decode_load_profile
from mepd.cli.mbus_dump import MBUS_TABLES, decode_mbus, mbus_size, plan_reader, read_recurring_log
from mepd.drivers.gpio import LinkControl
from mepd.drivers.transport import Transport
from mepd.engine.optical_session import OpticalSession
from mepd.engine.session import Session, session_for
from mepd.errors import ConfigError
from mepd.protocol import FullRead, MepKey
from mepd.protocol.codes import EXTENDED_BASE
from mepd.protocol.errors import DecodeError
from mepd.protocol.tables import (
    BT00,
    BT01,
    BT20,
    BT21,
    BT22,
    BT23,
    BT27,
    BT28,
    BT52,
    ET03,
    ET04,
    ET11,
    ET54,
    ET70,
    ActualRegister,
    Measurement,
    Measurements,
    assemble,
    bt22_size,
    bt23_size,
    bt27_size,
    bt28_size,
    decode_bt00,
    decode_bt01,
    decode_bt20,
    decode_bt21,
    decode_bt22,
    decode_bt23,
    decode_bt27,
    decode_bt28,
    decode_bt52,
    decode_et03,
    decode_et04,
    decode_et11,
    decode_et54,
    decode_et70,
    plan_reads,
)
from mepd.protocol.tables.ids import BT64, ET45, ET46
from mepd.protocol.tables.relay import decode_et46

Raw = bytes  # `_Reader.bytes` hides the type inside the class
_NAME = re.compile(r"(?i)^\s*(?:(BT|ET|MT)\s*)?(\d{1,5})\s*$")
_MAX_DUMP_BYTES = 8192  # more than any table a MEP client reads; keeps a typo from reading all day


def parse_table(text: str) -> int:
    """`BT28`, `ET3`, `MT3` (the vendor's name for ET), or a table number like `2051`."""
    match = _NAME.match(text)
    if not match:
        raise ConfigError(
            f"{text!r} is not a table: write BT28, ET03 or a table number such as 2051"
        )
    prefix, number = (match.group(1) or "").upper(), int(match.group(2))
    table = number + EXTENDED_BASE if prefix in ("ET", "MT") else number
    limit = 0xFFFF - (EXTENDED_BASE if prefix in ("ET", "MT") else 0)
    if number > limit:
        raise ConfigError(f"{text!r}: table numbers go up to {limit}")
    return table


def table_name(table: int) -> str:
    return f"ET{table - EXTENDED_BASE:02d}" if table >= EXTENDED_BASE else f"BT{table:02d}"


@dataclass(frozen=True)
class Dump:
    table: int
    offset: int
    data: bytes
    decoded: object | None  # a table dataclass, or None when mepd has no decoder for it
    note: str = ""


class _Reader:
    def __init__(self, session: Session | OpticalSession) -> None:
        self.session = session
        self._dims: ActualRegister | None = None

    async def bytes(self, table: int, offset: int, count: int) -> bytes:
        plan = plan_reads(table, count, offset=offset)
        return assemble(plan, [await self.session.read(read) for read in plan])

    async def full(self, table: int) -> Raw:
        return await self.session.read(FullRead(table))

    async def dims(self) -> ActualRegister:
        if self._dims is None:
            self._dims = decode_bt21(await self.bytes(BT21, 0, 10))
        return self._dims


# Tables whose size follows from BT21 (p.199-220): read exactly that much.
_SIZED: dict[int, Callable[[ActualRegister], int]] = {
    BT22: bt22_size,
    BT23: bt23_size,
    BT27: bt27_size,
    BT28: bt28_size,
}


async def dump_table(
    transport: Transport,
    control: LinkControl,
    key: MepKey,
    table: int,
    *,
    offset: int = 0,
    count: int | None = None,
    encrypt: bool = False,
    interface: str = "mep",
) -> Dump:
    """Read one table (or a slice of it) and decode it when the whole table was read."""
    if count is not None and not 1 <= count <= _MAX_DUMP_BYTES:
        raise ConfigError(f"--count must be 1 to {_MAX_DUMP_BYTES} bytes")
    session: Session | OpticalSession = (
        OpticalSession(transport, key.supplied)
        if interface == "optical"
        else session_for("rc4", transport, key, encrypt=encrypt)
    )
    reader = _Reader(session)
    control.start()
    await transport.open()
    try:
        if count is None and offset == 0 and table == ET45:
            log = await read_recurring_log(plan_reader(reader.bytes))
            note = f"the newest {len(log.entries)} entries, read one by one (p.26-27)"
            return Dump(table, 0, log.header_bytes, log, note)
        if count is None and table in _SIZED:
            count = _SIZED[table](await reader.dims()) - offset
        if count is None and offset == 0 and table in HISTORY_TABLES:
            return await _history(reader, table)  # lists: header, then planned entries
        if count is None and offset == 0:
            count = await mbus_size(table, reader.bytes)
        if count is None and table == BT64:  # larger than a response (p.8): its first block
            count = min((await bt64_layout(reader.full)).block_size, _MAX_DUMP_BYTES)
        if count is None and offset == 0:
            data = await reader.session.read(FullRead(table))
        elif count is None:
            raise ConfigError("with --offset, give --count too (a full read starts at 0)")
        else:
            data = await reader.bytes(table, offset, count) if count > 0 else b""
        decoded, note = await _decode(reader, table, offset, data)
        return Dump(table, offset, data, decoded, note)
    finally:
        if isinstance(session, OpticalSession):
            await session.close()  # Logoff, Terminate
        await transport.close()
        control.stop()
        control.close()


async def _history(reader: _Reader, table: int) -> Dump:
    try:
        data, decoded = await read_history(reader, table)
    except DecodeError as error:
        return Dump(table, 0, b"", None, f"does not decode: {error}")
    return Dump(table, 0, data, decoded)


async def _decode(  # noqa: PLR0911 - one return per table family
    reader: _Reader, table: int, offset: int, data: bytes
) -> tuple[object, str]:
    try:
        if table in (ET04, ET11, ET54, ET70):
            by_offset = {ET04: decode_et04, ET11: decode_et11, ET54: decode_et54, ET70: decode_et70}
            return by_offset[table](data, offset=offset), ""
        if offset:
            return None, "a slice: decoded only when read from offset 0"
        if table in LOAD_PROFILE_TABLES:
            return await decode_load_profile(table, data, reader.full), ""
        simple: dict[int, Callable[[bytes], object]] = {
            BT00: decode_bt00,
            BT01: decode_bt01,
            BT20: decode_bt20,
            BT21: decode_bt21,
            BT52: decode_bt52,
            ET03: decode_et03,
            ET46: decode_et46,
        }
        if table in simple:
            return simple[table](data), ""
        if table in MBUS_TABLES:
            return await decode_mbus(table, data, reader.bytes), ""
        if table in (BT22, BT27):
            dims = await reader.dims()
            return (decode_bt22(data, dims) if table == BT22 else decode_bt27(data, dims)), ""
        if table == BT23:
            dims = await reader.dims()
            sources = decode_bt22(await reader.bytes(BT22, 0, bt22_size(dims)), dims)
            return decode_bt23(data, dims, sources), ""
        if table == BT28:
            dims = await reader.dims()
            size = bt27_size(dims)
            selection = decode_bt27(await reader.bytes(BT27, 0, size), dims) if size else None
            return decode_bt28(data, dims, selection), ""
    except DecodeError as error:
        return None, f"does not decode: {error}"
    return None, "mepd has no decoder for this table"


def hex_lines(data: bytes, offset: int = 0) -> list[str]:
    """16 bytes a line, with the table offset of the first and the printable characters."""
    lines = []
    for start in range(0, len(data), 16):
        chunk = data[start : start + 16]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset + start:06x}  {chunk.hex(' '):<47}  {text}")
    return lines


Row = tuple[str, str, str | None]  # name, value, unit ("" for a ratio; None: not measured)


def describe(value: object, indent: str = "") -> list[str]:
    """A decoded table as aligned `name  value unit` lines, one value a line.

    Nested records are flattened into dotted names (`demands.power_import.time_remaining`); a
    record that holds a measurement is named after it, so a BT28 demand reads like a value.
    """
    rows = _rows(value, "")
    width = max((len(name) for name, _, _ in rows), default=0)
    measured = [text for _, text, unit in rows if unit is not None]
    value_width = max((len(text) for text in measured), default=0)
    lines = []
    for name, text, unit in rows:
        shown = text if unit is None else f"{text:>{value_width}} {unit}"
        lines.append(f"{indent}{name:<{width}}  {shown}".rstrip())
    return lines


def _rows(value: object, name: str) -> list[Row]:
    if isinstance(value, Measurement):
        return [(name or value.name, f"{value.value:g}", value.unit.symbol)]
    if isinstance(value, Measurements):
        return [row for m in value for row in _rows(m, _joined(name, m.name))]
    if _is_record(value) and dataclasses.is_dataclass(value):
        fields = [(field.name, getattr(value, field.name)) for field in dataclasses.fields(value)]
        measured = next((item for _, item in fields if isinstance(item, Measurement)), None)
        label = name if measured is None else _joined(_parent(name), measured.name)
        rows: list[Row] = []
        for field_name, item in fields:
            if isinstance(item, Measurement):
                rows += _rows(item, label)
            else:
                rows += _rows(item, _joined(label, field_name))
        return rows
    if isinstance(value, tuple) and value and _is_record(value[0]):
        return [row for index, part in enumerate(value) for row in _rows(part, f"{name}.{index}")]
    return [(name, _scalar(value), None)]


def _joined(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _parent(name: str) -> str:
    """`demands.0` -> `demands`: an indexed record named by its measurement instead."""
    head, _, last = name.rpartition(".")
    return head if last.isdigit() else name


def _is_record(item: object) -> bool:
    """A dataclass instance without a `__str__` of its own (FirmwareVersion prints 4.32.02)."""
    return (
        dataclasses.is_dataclass(item)
        and not isinstance(item, type)
        and type(item).__str__ is object.__str__
    )


def _scalar(item: Any) -> str:
    if isinstance(item, bytes):
        return item.hex(" ") or "(none)"
    if isinstance(item, Enum):
        return str(item.name)
    if isinstance(item, datetime):
        return item.isoformat()
    return str(item)
