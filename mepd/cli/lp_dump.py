"""`mepd dump` of the load profile tables (p.93-98, p.233-241): BT61-BT64 and ET21.

BT62 is decoded with BT61's dimensions, BT64 with ET21's block layout; a whole BT64 is larger
than one response (p.8), so a dump without --count reads its first block.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from mepd.protocol.tables.ids import BT61, BT62, BT63, BT64, ET21
from mepd.protocol.tables.lp_config import (
    decode_bt61,
    decode_bt62,
    decode_bt63,
    decode_et21,
)
from mepd.protocol.tables.lp_data import (
    BlockLayout,
    IntervalData,
    decode_block_start,
)

TableReader = Callable[[int], Awaitable[bytes]]  # a full read of a small table
LOAD_PROFILE_TABLES = frozenset({BT61, BT62, BT63, BT64, ET21})


@dataclass(frozen=True)
class BlockDump:
    end: datetime  # UTC: the end of its newest processed interval (p.238)
    processed: int  # intervals marked processed in the simple status (p.239)
    intervals: tuple[IntervalData, ...]  # the processed ones read


@dataclass(frozen=True)
class LoadProfileData:
    blocks: tuple[BlockDump, ...]


async def bt64_layout(read: TableReader) -> BlockLayout:
    dims = decode_bt61(await read(BT61)).sets[0]
    return BlockLayout.from_et21(decode_et21(await read(ET21)), dims)


async def decode_load_profile(table: int, data: bytes, read: TableReader) -> object:
    """The decoded table; `DecodeError` if it does not decode."""
    if table == BT61:
        return decode_bt61(data)
    if table == BT62:
        return decode_bt62(data, decode_bt61(await read(BT61)))
    if table == BT63:
        return decode_bt63(data)
    if table == ET21:
        return decode_et21(data)
    layout = await bt64_layout(read)
    blocks = []
    for start in range(0, len(data) - layout.header_size + 1, layout.block_size):
        block = data[start : start + layout.block_size]
        header, intervals = decode_block_start(block, layout, cut_short=True)
        done = tuple(i for i in intervals if header.processed[i.index])
        blocks.append(BlockDump(header.end, sum(header.processed), done))
    return LoadProfileData(tuple(blocks))
