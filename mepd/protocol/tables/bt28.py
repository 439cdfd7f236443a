"""BT28 Present Register Data (0x001C; p.215-220): instantaneous values and present demands.

    PresDmdRcd[BT21.8]:  TIME time remaining if BT21.0.6, then NI_FMAT2 demand value
    values: INT32[BT21.9], value k at (A+4)*BT21.8 + 4*k,     A = 3 if BT21.0.6 else 0

p.216 prints "(A+4)*BT21.8 + Present Value Number"; the x4 is missing there. What each value
is comes from BT27, never from a fixed index: the list grows with firmware (p.217-220).
Values exclude the CT/VT ratios unless the source says post CT/VT (p.215).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from mepd.protocol.errors import DecodeError
from mepd.protocol.tables._wire import (
    INT32_BYTES,
    TIME_BYTES,
    decode_time,
    encode_time,
    int32,
    pack_int32,
    require_size,
)
from mepd.protocol.tables.bt21 import ActualRegister
from mepd.protocol.tables.bt27 import PresentRegisterSelection
from mepd.protocol.tables.measurements import Measurement, Measurements
from mepd.protocol.tables.sources import (
    DEFAULT_PRESENT_VALUE_SOURCES,
    SOURCES,
    Source,
    positional_source,
    source_for,
)

TABLE = "BT28"
_PRESENT_DEMAND_IDS = 88  # p.205: "Present Dmd 1" .. "Present Dmd 8" are 88-95


def present_demand_record_size(dims: ActualRegister) -> int:
    return (TIME_BYTES if dims.time_remaining else 0) + INT32_BYTES


def present_values_offset(dims: ActualRegister) -> int:
    return present_demand_record_size(dims) * dims.present_demands


def bt28_size(dims: ActualRegister) -> int:
    return present_values_offset(dims) + INT32_BYTES * dims.present_values


@dataclass(frozen=True)
class PresentDemand:
    value: Measurement
    time_remaining: timedelta | None = None  # if BT21.0.6


@dataclass(frozen=True)
class PresentRegisterData:
    demands: tuple[PresentDemand, ...]
    values: Measurements

    def get(self, name: str) -> Measurement | None:
        return self.values.get(name)


def _demand_sources(
    dims: ActualRegister, selection: PresentRegisterSelection | None
) -> tuple[Source, ...]:
    ids = selection.present_demand_sources if selection is not None else None
    if ids is None:
        return tuple(
            SOURCES.get(_PRESENT_DEMAND_IDS + n) or positional_source("present_demand", n + 1)
            for n in range(dims.present_demands)
        )
    if len(ids) != dims.present_demands:
        raise DecodeError(
            f"{TABLE}: BT27 lists {len(ids)} present demands, BT21.8 says {dims.present_demands}"
        )
    return tuple(source_for(i) for i in ids)


def _value_sources(
    dims: ActualRegister, selection: PresentRegisterSelection | None
) -> tuple[Source, ...]:
    count = dims.present_values
    if selection is None:
        defaults = DEFAULT_PRESENT_VALUE_SOURCES[:count]
        extra = (positional_source("present_value", k) for k in range(len(defaults), count))
        return defaults + tuple(extra)
    ids = selection.present_value_sources
    if len(ids) != count:
        raise DecodeError(f"{TABLE}: BT27 lists {len(ids)} present values, BT21.9 says {count}")
    return tuple(source_for(i) for i in ids)


def value_offset(dims: ActualRegister, index: int) -> int:
    """Where present value `index` (0-based, BT27 order) starts in BT28 (p.216)."""
    if not 0 <= index <= dims.present_values:
        raise ValueError(f"BT28 has {dims.present_values} present values, not {index}")
    return present_values_offset(dims) + INT32_BYTES * index


def present_value_sources(
    dims: ActualRegister, selection: PresentRegisterSelection | None = None
) -> tuple[Source, ...]:
    """What each present value is, in BT28 order (BT27; the default order without it)."""
    return _value_sources(dims, selection)


def decode_bt28_values(
    data: bytes,
    dims: ActualRegister,
    selection: PresentRegisterSelection | None,
    first: int,
    count: int,
) -> Measurements:
    """Present values `first`..`first + count - 1` alone: the answer to a partial read of
    `count` INT32s at `value_offset(dims, first)` (a piece of BT28, read in one answer)."""
    data = bytes(data)
    require_size(TABLE, data, INT32_BYTES * count, "for the present values asked")
    sources = _value_sources(dims, selection)[first : first + count]
    if len(sources) != count:
        raise DecodeError(f"{TABLE}: values {first}..{first + count - 1} are beyond BT21.9")
    return Measurements.of(
        Measurement.of(source, int32(data, INT32_BYTES * k)) for k, source in enumerate(sources)
    )


def decode_bt28(
    data: bytes, dims: ActualRegister, selection: PresentRegisterSelection | None = None
) -> PresentRegisterData:
    """`selection` is BT27; without it the default order (p.216-220) is assumed."""
    data = bytes(data)
    require_size(TABLE, data, bt28_size(dims), "from BT21.0.6, BT21.8, BT21.9")
    demand_sources = _demand_sources(dims, selection)
    value_sources = _value_sources(dims, selection)
    record = present_demand_record_size(dims)
    demands = []
    for n, source in enumerate(demand_sources):
        at = record * n
        remaining = None
        if dims.time_remaining:
            remaining = decode_time(TABLE, data[at : at + TIME_BYTES])
            at += TIME_BYTES
        demands.append(PresentDemand(Measurement.of(source, int32(data, at)), remaining))
    base = present_values_offset(dims)
    values = Measurements.of(
        Measurement.of(source, int32(data, base + INT32_BYTES * k))
        for k, source in enumerate(value_sources)
    )
    return PresentRegisterData(tuple(demands), values)


def encode_bt28(data: PresentRegisterData, dims: ActualRegister) -> bytes:
    if (len(data.demands), len(data.values)) != (dims.present_demands, dims.present_values):
        raise ValueError("BT28 demand/value counts do not match BT21.8/BT21.9")
    out = bytearray()
    for demand in data.demands:
        if dims.time_remaining:
            if demand.time_remaining is None:
                raise ValueError("BT21.0.6 is set: each present demand needs its time remaining")
            out += encode_time(demand.time_remaining, "BT28 time remaining")
        out += pack_int32(demand.value.raw, f"BT28 {demand.value.name}")
    for value in data.values:
        out += pack_int32(value.raw, f"BT28 {value.name}")
    return bytes(out)
