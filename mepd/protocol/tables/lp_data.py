"""Load profile data, BT64-BT67 (p.238-241): blocks of intervals, read in pieces.

A block is its end time (STIME_DATE, UTC: "the most recently recorded interval in the
block"), end readings (never on OSGP meters, BT61.4.4), a simple status bit per interval
("processed"), then the intervals: an extended status of (channels / 2 + 1) bytes and one
INT32 per channel. Channel values are the register as it stood at the end of the interval
(p.28: "stored as total values (no differential values)"; p.235: "snapshot mode").

A block is larger than one response (p.8: at most 465 table bytes a read), so a reader reads
the header, then runs of whole intervals (`plan_intervals`). ET21 gives the offsets (p.95-96);
`BlockLayout.of` computes the same from BT61 for the simulator.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime, timedelta

from mepd.protocol.errors import DecodeError
from mepd.protocol.frames import MAX_READ_COUNT, PartialRead
from mepd.protocol.tables._wire import (
    STIME_DATE_BYTES,
    decode_datetime,
    encode_datetime,
    require_at_least,
)
from mepd.protocol.tables.codes_lp import CHANNEL_STATUS_NAMES, CommonFlag
from mepd.protocol.tables.lp_config import DataSetDims, LoadProfileInternal

__all__ = [
    "BlockHeader",
    "BlockLayout",
    "CommonFlag",
    "IntervalData",
    "decode_block_header",
    "decode_intervals",
    "encode_block",
    "plan_intervals",
]

_INT32 = struct.Struct("<i")


@dataclass(frozen=True)
class BlockLayout:
    """Where things are in one block of a data set (bytes from the block's start)."""

    block_size: int
    simple_status_offset: int
    simple_status_size: int
    interval0_offset: int
    interval_size: int
    channel0_offset: int
    channels: int
    intervals_per_block: int

    @classmethod
    def of(cls, dims: DataSetDims, *, end_readings: bool = False) -> BlockLayout:
        """p.238-239: end time, [end readings], simple status, intervals."""
        status = STIME_DATE_BYTES + (4 * dims.channels if end_readings else 0)
        status_size = (dims.intervals_per_block + 7) // 8
        extended = dims.channels // 2 + 1
        interval = extended + 4 * dims.channels
        first = status + status_size
        return cls(
            block_size=first + interval * dims.intervals_per_block,
            simple_status_offset=status,
            simple_status_size=status_size,
            interval0_offset=first,
            interval_size=interval,
            channel0_offset=extended,
            channels=dims.channels,
            intervals_per_block=dims.intervals_per_block,
        )

    @classmethod
    def from_et21(cls, et21: LoadProfileInternal, dims: DataSetDims) -> BlockLayout:
        """ET21's own offsets (p.95-96), checked against what BT61 says fits."""
        layout = cls(
            block_size=et21.block_size,
            simple_status_offset=et21.simple_status_offset,
            simple_status_size=et21.simple_status_size,
            interval0_offset=et21.interval0_offset,
            interval_size=et21.interval_size,
            channel0_offset=et21.channel0_offset,
            channels=dims.channels,
            intervals_per_block=dims.intervals_per_block,
        )
        layout.check()
        return layout

    @property
    def header_size(self) -> int:
        return self.simple_status_offset + self.simple_status_size

    def check(self) -> None:
        problems = (
            self.channels < 1 or self.intervals_per_block < 1,
            self.simple_status_size * 8 < self.intervals_per_block,
            self.simple_status_offset < STIME_DATE_BYTES,
            self.channel0_offset < 1
            or self.channel0_offset + 4 * self.channels > self.interval_size,
            self.interval0_offset < self.header_size,
            self.interval0_offset + self.interval_size * self.intervals_per_block > self.block_size,
            self.interval_size > MAX_READ_COUNT,
        )
        if any(problems):
            raise DecodeError(f"ET21/BT61: inconsistent load profile layout {self}")

    def interval_offset(self, block: int, interval: int) -> int:
        return block * self.block_size + self.interval0_offset + interval * self.interval_size


@dataclass(frozen=True)
class BlockHeader:
    end: datetime  # naive UTC: the end of the newest processed interval of the block
    processed: tuple[bool, ...]  # simple status, one per interval (p.239)

    @property
    def last_processed(self) -> int | None:
        found = [i for i, done in enumerate(self.processed) if done]
        return found[-1] if found else None


@dataclass(frozen=True)
class IntervalData:
    """One interval as stored: common flags, a status name per channel, raw INT32 values."""

    index: int  # within its block
    common: frozenset[CommonFlag]
    channel_status: tuple[str, ...]
    values: tuple[int, ...]


def decode_block_header(data: bytes, layout: BlockLayout) -> BlockHeader:
    require_at_least("BT64", data, layout.header_size, "block header")
    end = decode_datetime("BT64", data[:STIME_DATE_BYTES])
    bits = data[layout.simple_status_offset : layout.header_size]
    processed = tuple(bool(bits[i // 8] >> (i % 8) & 1) for i in range(layout.intervals_per_block))
    return BlockHeader(end, processed)


def decode_intervals(data: bytes, layout: BlockLayout, first: int) -> tuple[IntervalData, ...]:
    """Whole intervals `first`, `first` + 1, ... from bytes read at `interval_offset(first)`."""
    size = layout.interval_size
    if len(data) % size:
        raise DecodeError(f"BT64: {len(data)} bytes is not a whole number of {size}-byte intervals")
    out = []
    for n in range(len(data) // size):
        record = data[n * size : (n + 1) * size]
        nibbles = [
            b >> 4 if k % 2 == 0 else b & 15
            for b in record[: layout.channel0_offset]
            for k in (0, 1)
        ]
        common = frozenset(flag for flag in CommonFlag if nibbles[0] >> flag.bit & 1)
        statuses = tuple(
            CHANNEL_STATUS_NAMES.get(nibbles[1 + c], f"status_{nibbles[1 + c]}")
            for c in range(layout.channels)
        )
        values = tuple(
            _INT32.unpack_from(record, layout.channel0_offset + 4 * c)[0]
            for c in range(layout.channels)
        )
        out.append(IntervalData(first + n, common, statuses, values))
    return tuple(out)


def decode_block_start(
    data: bytes, layout: BlockLayout, *, cut_short: bool = False
) -> tuple[BlockHeader, tuple[IntervalData, ...]]:
    """A read from a block's start: its header and the intervals read with it (p.238).

    A planned read carries whole intervals, and anything else is a DecodeError; `cut_short`
    (a dump cut at its size limit) drops a partial interval at the end instead."""
    header = decode_block_header(data, layout)
    after = data[layout.interval0_offset :]
    if cut_short:
        after = after[: len(after) // layout.interval_size * layout.interval_size]
    return header, decode_intervals(after, layout, 0)


def encode_block(
    layout: BlockLayout,
    end: datetime,
    intervals: tuple[tuple[int, frozenset[CommonFlag], tuple[int, ...]], ...],
    channel_nibbles: dict[int, tuple[int, ...]] | None = None,
) -> bytes:
    """A block with the given (index, common flags, values) intervals processed."""
    out = bytearray(layout.block_size)
    out[:STIME_DATE_BYTES] = encode_datetime(end, STIME_DATE_BYTES, "BT64 block end")
    for index, common, values in intervals:
        out[layout.simple_status_offset + index // 8] |= 1 << (index % 8)
        at = layout.interval0_offset + index * layout.interval_size
        nibbles = [sum(1 << f.bit for f in common)]
        nibbles += list((channel_nibbles or {}).get(index, (0,) * layout.channels))
        nibbles += [0] * (2 * layout.channel0_offset - len(nibbles))
        for k in range(layout.channel0_offset):
            out[at + k] = (nibbles[2 * k] << 4) | nibbles[2 * k + 1]
        for c, value in enumerate(values):
            _INT32.pack_into(out, at + layout.channel0_offset + 4 * c, value)
    return bytes(out)


def plan_intervals(
    table: int, layout: BlockLayout, block: int, first: int, count: int
) -> tuple[PartialRead, ...]:
    """Reads of intervals first..first+count-1 of `block`, whole intervals each, <= 465 bytes."""
    if first < 0 or count < 0 or first + count > layout.intervals_per_block:
        raise ValueError(f"intervals {first}..{first + count - 1} outside the block")
    per_read = MAX_READ_COUNT // layout.interval_size
    return tuple(
        PartialRead(
            table,
            layout.interval_offset(block, start),
            layout.interval_size * min(per_read, first + count - start),
        )
        for start in range(first, first + count, per_read)
    )


def interval_end(header: BlockHeader, index: int, interval: timedelta) -> datetime:
    """The end of interval `index`: the block's end is that of its newest processed one."""
    last = header.last_processed
    if last is None:
        raise DecodeError("BT64: a block with no processed interval has no times")
    return header.end - (last - index) * interval
