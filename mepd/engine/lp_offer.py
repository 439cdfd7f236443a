"""What load profile a meter keeps, for `mepd probe` (guide p.27-31): three frames."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from mepd.engine.history import Reader
from mepd.protocol import PartialRead
from mepd.protocol.tables.ids import BT61, BT62, ET21
from mepd.protocol.tables.lp_config import (
    BT61_HEADER,
    BT61_SET,
    ET21_READ,
    bt62_set_size,
    channel_source,
    decode_bt61,
    decode_bt62,
    decode_et21,
)


@dataclass(frozen=True)
class LoadProfileOffer:
    """What load profile a meter keeps (for `mepd probe`): data set 1's shape and extent."""

    interval_s: int
    channels: tuple[str, ...]  # value names, as the energy registers'
    blocks: int
    intervals_per_block: int
    held_intervals: int
    newest_end: datetime | None

    @property
    def held_days(self) -> float:
        return self.held_intervals * self.interval_s / 86_400


async def read_offer(read: Reader) -> LoadProfileOffer:
    """BT61, BT62 and ET21 (p.30 steps 1, 2 and 4): three frames."""
    bt61 = decode_bt61(await read(PartialRead(BT61, 0, BT61_HEADER + BT61_SET)))
    dims = bt61.sets[0]
    size = bt62_set_size(dims.channels, bt61.scalar_divisor[0])
    channels = decode_bt62(await read(PartialRead(BT62, 0, size)), bt61).sets[0]
    et21 = decode_et21(await read(PartialRead(ET21, 0, ET21_READ)))
    held = 0
    if et21.valid_blocks:
        held = (et21.valid_blocks - 1) * dims.intervals_per_block + et21.last_interval + 1
    newest = et21.interval_end_utc
    return LoadProfileOffer(
        interval_s=dims.interval_s,
        channels=tuple(channel_source(c.source_id).name for c in channels),
        blocks=dims.blocks,
        intervals_per_block=dims.intervals_per_block,
        held_intervals=min(held, dims.blocks * dims.intervals_per_block),
        newest_end=newest.replace(tzinfo=UTC) if newest is not None else None,
    )
