"""BT22 Data Selection (0x0016; p.202-203): which source each BT23 register holds.

"Read-NVM only" (p.259): read it once per IDT change, not on every poll.
"""

from __future__ import annotations

from dataclasses import dataclass

from mepd.protocol.tables._wire import pack_uint8s, require_size
from mepd.protocol.tables.bt21 import ActualRegister

TABLE = "BT22"


def _set_bytes(count: int) -> int:
    """SET((n+7)/8): one bit per demand (p.203)."""
    return (count + 7) // 8


def bt22_size(dims: ActualRegister) -> int:
    return dims.summations + dims.demands + _set_bytes(dims.demands) + 2 * dims.coincident_values


@dataclass(frozen=True)
class DataSelection:
    summation_sources: tuple[int, ...]  # [BT21.3], in BT23 order
    demand_sources: tuple[int, ...]  # [BT21.4]
    demand_is_maximum: tuple[bool, ...]  # [BT21.4]: True = maximum, False = minimum
    coincident_sources: tuple[int, ...]  # [BT21.5]
    coincident_demands: tuple[int, ...]  # [BT21.5]: index into demand_sources


def decode_bt22(data: bytes, dims: ActualRegister) -> DataSelection:
    data = bytes(data)
    require_size(TABLE, data, bt22_size(dims), "from BT21.3-5")
    at = 0

    def take(count: int) -> bytes:
        nonlocal at
        chunk = data[at : at + count]
        at += count
        return chunk

    summations = tuple(take(dims.summations))
    demands = tuple(take(dims.demands))
    flags = take(_set_bytes(dims.demands))
    # SET: element i is bit i % 8 of byte i // 8, bit 0 = LSB (p.40).
    maximum = tuple(bool(flags[i // 8] >> (i % 8) & 1) for i in range(dims.demands))
    coincidents = tuple(take(dims.coincident_values))
    associated = tuple(take(dims.coincident_values))
    return DataSelection(summations, demands, maximum, coincidents, associated)


def encode_bt22(selection: DataSelection) -> bytes:
    s = selection
    if len(s.demand_is_maximum) != len(s.demand_sources):
        raise ValueError("BT22: one min/max flag per demand source")
    if len(s.coincident_demands) != len(s.coincident_sources):
        raise ValueError("BT22: one associated demand per coincident source")
    flags = bytearray(_set_bytes(len(s.demand_sources)))
    for i, is_max in enumerate(s.demand_is_maximum):
        flags[i // 8] |= int(is_max) << (i % 8)
    return (
        pack_uint8s(s.summation_sources, "BT22 summation source")
        + pack_uint8s(s.demand_sources, "BT22 demand source")
        + bytes(flags)
        + pack_uint8s(s.coincident_sources, "BT22 coincident source")
        + pack_uint8s(s.coincident_demands, "BT22 coincident demand")
    )
