"""Load profile configuration: BT61, BT62, BT63, ET21 and ET66 (guide p.27-31, p.93-98,
p.171, p.233-238).

These say how BT64-BT67 are laid out (blocks of intervals, channels per interval), which
register each channel logs (a BT22-style source id, or a mapped one resolved through ET66),
and where the newest block is. A meter without multiple data sets (fw < 3.50) has one element
per array, and all its data is in BT64 (p.30). Only data set 1 (index 0) is read by default:
the guide's primary data set is ET55's "Primary Load Profile Index"; its layout is the same.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime

from mepd.protocol.errors import DecodeError
from mepd.protocol.tables._wire import (
    LTIME_DATE_BYTES,
    decode_optional_datetime,
    encode_datetime,
    require_at_least,
    uint,
)
from mepd.protocol.tables.sources import Source, summation_source
from mepd.protocol.tables.units import Unit

MAX_DATA_SETS = 4  # p.28: up to four data sets (BT64-BT67)
BT61_HEADER = 7  # memory length, flags, formats
BT61_SET = 6  # blocks, intervals, channels, interval time
BT63_SET = 13
DAY_INTERVAL_CODE = 84  # p.234: 84 = 24 hours
MAPPED_FIRST, MAPPED_LAST = 112, 163  # p.30: mapped source ids, resolved through ET66
INT32_FORMAT = 32  # p.235: BT62 format, INT32 snapshots


@dataclass(frozen=True)
class DataSetDims:
    """One data set of BT61 (p.234)."""

    blocks: int
    intervals_per_block: int
    channels: int
    interval_code: int  # 1..60 minutes, 84 = 24 h

    @property
    def interval_s(self) -> int:
        return 86_400 if self.interval_code == DAY_INTERVAL_CODE else 60 * self.interval_code


@dataclass(frozen=True)
class ActualLoadProfile:
    """BT61 (p.233-234)."""

    memory_length: int
    end_readings: bool  # bit 4: never on OSGP meters
    scalar_divisor: tuple[bool, ...]  # bits 6-9, per data set
    int32_supported: bool
    sets: tuple[DataSetDims, ...]


def decode_bt61(data: bytes) -> ActualLoadProfile:
    require_at_least("BT61", data, BT61_HEADER + BT61_SET, "one data set")
    flags = uint(data, 4, 2)
    count = min(MAX_DATA_SETS, (len(data) - BT61_HEADER) // BT61_SET)
    sets = []
    for index in range(count):
        at = BT61_HEADER + BT61_SET * index
        blocks, intervals, channels, code = struct.unpack_from("<HHBB", data, at)
        if code == 0 or (code > 60 and code != DAY_INTERVAL_CODE):
            if index == 0:
                raise DecodeError(f"BT61: interval time {code} is not 1..60 minutes or 84")
            break  # an unused element past the first
        sets.append(DataSetDims(blocks, intervals, channels, code))
    return ActualLoadProfile(
        memory_length=uint(data, 0, 4),
        end_readings=bool(flags & 0x10),
        scalar_divisor=tuple(bool(flags >> (6 + n) & 1) for n in range(MAX_DATA_SETS)),
        int32_supported=bool(data[6] & 0x20),
        sets=tuple(sets),
    )


def encode_bt61(table: ActualLoadProfile) -> bytes:
    flags = 0x0C00 | (0x10 if table.end_readings else 0)  # p.234: both statuses always on
    for index, enabled in enumerate(table.scalar_divisor[:MAX_DATA_SETS]):
        flags |= int(enabled) << (6 + index)
    out = struct.pack("<IHB", table.memory_length, flags, 0x20 if table.int32_supported else 0)
    for dims in table.sets:
        out += struct.pack(
            "<HHBB", dims.blocks, dims.intervals_per_block, dims.channels, dims.interval_code
        )
    return out


@dataclass(frozen=True)
class ChannelControl:
    """One channel of BT62 (p.235): the source it logs and how raw values scale."""

    source_id: int
    scalar: int = 1
    divisor: int = 1


@dataclass(frozen=True)
class LoadProfileControl:
    """BT62 (p.235): one tuple of channels per data set."""

    sets: tuple[tuple[ChannelControl, ...], ...]


def bt62_set_size(channels: int, scalar_divisor: bool) -> int:
    return 3 * channels + 1 + (4 * channels if scalar_divisor else 0)


def decode_bt62(data: bytes, bt61: ActualLoadProfile) -> LoadProfileControl:
    sets, at = [], 0
    for index, dims in enumerate(bt61.sets):
        scaled = bt61.scalar_divisor[index]
        n = dims.channels
        require_at_least("BT62", data, at + bt62_set_size(n, scaled), f"data set {index + 1}")
        sources = [data[at + 3 * c + 1] for c in range(n)]
        fmt = data[at + 3 * n]
        if fmt != INT32_FORMAT:
            raise DecodeError(f"BT62: data set {index + 1} format {fmt}, not INT32 (32)")
        scalars, divisors = [1] * n, [1] * n
        if scaled:
            scalars = list(struct.unpack_from(f"<{n}H", data, at + 3 * n + 1))
            divisors = list(struct.unpack_from(f"<{n}H", data, at + 3 * n + 1 + 2 * n))
            if 0 in divisors:
                raise DecodeError(f"BT62: data set {index + 1} has a divisor of 0")
        sets.append(
            tuple(
                ChannelControl(s, k, d) for s, k, d in zip(sources, scalars, divisors, strict=True)
            )
        )
        at += bt62_set_size(n, scaled)
    return LoadProfileControl(tuple(sets))


def encode_bt62(table: LoadProfileControl, bt61: ActualLoadProfile) -> bytes:
    out = b""
    for index, channels in enumerate(table.sets):
        out += b"".join(bytes((0, c.source_id, 0)) for c in channels) + bytes((INT32_FORMAT,))
        if bt61.scalar_divisor[index]:
            out += struct.pack(f"<{len(channels)}H", *(c.scalar for c in channels))
            out += struct.pack(f"<{len(channels)}H", *(c.divisor for c in channels))
    return out


@dataclass(frozen=True)
class DataSetStatus:
    """One data set of BT63 (p.236-238)."""

    overflow: bool
    active: bool
    valid_blocks: int
    last_block: int
    last_block_sequence: int
    unread_blocks: int
    valid_intervals: int  # in the newest valid block


def decode_bt63(data: bytes) -> tuple[DataSetStatus, ...]:
    require_at_least("BT63", data, BT63_SET, "one data set")
    out = []
    for at in range(0, min(len(data), BT63_SET * MAX_DATA_SETS) - BT63_SET + 1, BT63_SET):
        flags, valid, last, sequence, unread, intervals = struct.unpack_from("<BHHIHH", data, at)
        out.append(
            DataSetStatus(
                bool(flags & 2), bool(flags & 0x20), valid, last, sequence, unread, intervals
            )
        )
    return tuple(out)


def encode_bt63(sets: tuple[DataSetStatus, ...]) -> bytes:
    out = b""
    for s in sets:
        flags = 0x04 | (0x02 if s.overflow else 0) | (0x20 if s.active else 0)  # circular
        out += struct.pack(
            "<BHHIHH",
            flags,
            s.valid_blocks,
            s.last_block,
            s.last_block_sequence,
            s.unread_blocks,
            s.valid_intervals,
        )
    return out


# ET21 (p.93-98): the fields a reader needs of data set 1's element.
ET21_ELEMENT = 112  # through the flags at 111 (fw 3.60+)
ET21_READ = 100  # through "Interval End Time (UTC)" (94..99): all a reader needs
_ET21_HEAD = struct.Struct("<IIIHHHHHBBBBBBBB")  # offsets 0..29
_ET21_SOURCES, _ET21_EXPANSION, _ET21_CONFIG_ID, _ET21_END_UTC = 30, 70, 78, 94


@dataclass(frozen=True)
class LoadProfileInternal:
    """ET21 (p.93-98) for one data set: the block layout and where recording stands now.

    The guide says to read it again before each read of load profile data (p.30, step 4).
    """

    block_size: int
    block_header_size: int
    valid_blocks: int
    valid_intervals: int
    last_block: int
    last_interval: int
    simple_status_offset: int
    simple_status_size: int
    interval0_offset: int
    interval_size: int
    channel0_offset: int
    channels: int
    interval_code: int
    config_id: int
    interval_end_utc: datetime | None  # naive, UTC (p.97); None before the first interval


def decode_et21(data: bytes) -> LoadProfileInternal:
    require_at_least("ET21", data, ET21_READ, "data set 1")
    head = _ET21_HEAD.unpack_from(data, 0)
    end_raw = data[_ET21_END_UTC : _ET21_END_UTC + LTIME_DATE_BYTES]
    return LoadProfileInternal(
        block_size=head[2],
        block_header_size=head[3],
        valid_blocks=head[4],
        valid_intervals=head[5],
        last_block=head[6],
        last_interval=head[7],
        simple_status_offset=head[8],
        simple_status_size=head[9],
        interval0_offset=head[10],
        interval_size=head[11],
        channel0_offset=head[12],
        channels=head[14],
        interval_code=head[15],
        config_id=uint(data, _ET21_CONFIG_ID, 4),
        interval_end_utc=decode_optional_datetime("ET21", end_raw),
    )


def encode_et21(table: LoadProfileInternal, sources: tuple[int, ...]) -> bytes:
    out = bytearray(ET21_ELEMENT)
    _ET21_HEAD.pack_into(
        out,
        0,
        0,
        0,
        table.block_size,
        table.block_header_size,
        table.valid_blocks,
        table.valid_intervals,
        table.last_block,
        table.last_interval,
        table.simple_status_offset,
        table.simple_status_size,
        table.interval0_offset,
        table.interval_size,
        table.channel0_offset,
        0,
        table.channels,
        table.interval_code,
    )
    padded = (tuple(sources) + (0,) * 16)[:16]
    out[_ET21_SOURCES : _ET21_SOURCES + 8] = bytes(padded[:8])
    out[_ET21_EXPANSION : _ET21_EXPANSION + 8] = bytes(padded[8:])
    struct.pack_into("<I", out, _ET21_CONFIG_ID, table.config_id)
    if table.interval_end_utc is not None:
        end = encode_datetime(table.interval_end_utc, LTIME_DATE_BYTES, "ET21 interval end")
        out[_ET21_END_UTC : _ET21_END_UTC + LTIME_DATE_BYTES] = end
    return bytes(out)


def decode_et66(data: bytes) -> tuple[int, ...]:
    """ET66 (p.171): the extended source id for mapped id 112 + n at entry n."""
    return struct.unpack_from(f"<{len(data) // 2}H", data, 0)


def encode_et66(extended: tuple[int, ...]) -> bytes:
    return struct.pack(f"<{len(extended)}H", *extended)


def is_mapped(source_id: int) -> bool:
    return MAPPED_FIRST <= source_id <= MAPPED_LAST


def channel_source(source_id: int, et66: tuple[int, ...] = ()) -> Source:
    """What a channel logs: the register of the same source id in BT23 (p.203-207), so an
    interval channel carries its energy register's `ValueName`. A mapped id (112..163, p.30)
    names an extended source through ET66; those (M-Bus: bits 15..12 = 4, p.31) are named by
    their extended id until a source that knows them (M-Bus) names them better."""
    if is_mapped(source_id):
        entry = source_id - MAPPED_FIRST
        extended = et66[entry] if entry < len(et66) else None
        name = f"lp_source_{extended:#06x}" if extended is not None else f"lp_mapped_{source_id}"
        return Source(source_id, name, Unit.COUNT, kind="other")
    return summation_source(source_id)
