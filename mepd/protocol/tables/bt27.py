"""BT27 Present Register Selection (0x001B; p.214): which source each BT28 value holds.

"Read-NVM only" (p.260). A client that has no present demands to decode can read just the
present-value ids: a partial read at offset BT21.8 of BT21.9 bytes, decoded with that offset.
"""

from __future__ import annotations

from dataclasses import dataclass

from mepd.protocol.errors import DecodeError
from mepd.protocol.tables._wire import pack_uint8s, require_size
from mepd.protocol.tables.bt21 import ActualRegister

TABLE = "BT27"


def bt27_size(dims: ActualRegister) -> int:
    return dims.present_demands + dims.present_values


@dataclass(frozen=True)
class PresentRegisterSelection:
    present_value_sources: tuple[int, ...]  # [BT21.9] at offset BT21.8, in BT28 order
    present_demand_sources: tuple[int, ...] | None = ()  # [BT21.8]; None if not read


def decode_bt27(data: bytes, dims: ActualRegister, *, offset: int = 0) -> PresentRegisterSelection:
    """The whole table (offset 0), or only the present values (offset BT21.8)."""
    data = bytes(data)
    if offset == 0:
        require_size(TABLE, data, bt27_size(dims), "BT21.8 + BT21.9")
        split = dims.present_demands
        return PresentRegisterSelection(tuple(data[split:]), tuple(data[:split]))
    if offset == dims.present_demands:
        require_size(TABLE, data, dims.present_values, f"BT21.9 at offset {offset}")
        return PresentRegisterSelection(tuple(data), None)
    raise DecodeError(
        f"{TABLE}: data at offset {offset} is neither the table (0) "
        f"nor its present values ({dims.present_demands})"
    )


def encode_bt27(selection: PresentRegisterSelection) -> bytes:
    demands = selection.present_demand_sources or ()
    return pack_uint8s(demands, "BT27 present demand source") + pack_uint8s(
        selection.present_value_sources, "BT27 present value source"
    )
