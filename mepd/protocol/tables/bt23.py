"""BT23 Current Register Data (0x0017; p.207-211, OPG p.24-26): energy and other summations.

Layout (symbols A-D from p.207):

    [A]  UINT8 number of demand resets, present iff BT21.0 bit 2
    total block:  INT32[BT21.3] summations, DmdRcd[BT21.4], CoinRcd[BT21.5]
    tier blocks:  BT21.7 more blocks laid out like the total block (p.210-211)

    DmdRcd  = STIME_DATE[occ] if BT21.0.1, INT32 if BT21.0.4, INT32 if BT21.0.5, INT32[occ]
    CoinRcd = INT32[occ]                                          occ = BT21.6

The printed offsets "B+5*BT21.6", "+4", "+8" (p.210) hold only when every optional field is
present; the sizes here follow the flags. On the guide's example meter the table is 981 bytes,
more than one read can return (465), so BT23 is always read in partial reads (planning.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from mepd.protocol.errors import DecodeError
from mepd.protocol.tables._wire import (
    INT32_BYTES,
    STIME_DATE_BYTES,
    decode_optional_datetime,
    encode_optional_datetime,
    int32,
    pack_int32,
    pack_uint,
    require_at_least,
    require_size,
)
from mepd.protocol.tables.bt21 import ActualRegister
from mepd.protocol.tables.bt22 import DataSelection
from mepd.protocol.tables.measurements import Measurement, Measurements
from mepd.protocol.tables.sources import (
    DEFAULT_SUMMATION_SOURCES,
    Source,
    positional_source,
    source_for,
    summation_source,
)
from mepd.protocol.tables.units import ENERGY_UNITS

TABLE = "BT23"
ENERGY_UNITS_ALLOWED = (1, 10, 100)  # ET55 "Energy Register Unit" (p.158, p.207)


def demand_resets_size(dims: ActualRegister) -> int:
    """A (p.207): 1 if BT21.0.2 (demand reset counter) else 0."""
    return 1 if dims.demand_reset_counter else 0


def demand_record_size(dims: ActualRegister) -> int:
    occurrences = dims.occurrences
    return (
        (STIME_DATE_BYTES * occurrences if dims.date_time_field else 0)
        + (INT32_BYTES if dims.cumulative_demand else 0)
        + (INT32_BYTES if dims.continuous_cumulative_demand else 0)
        + INT32_BYTES * occurrences
    )


def coincident_record_size(dims: ActualRegister) -> int:
    return INT32_BYTES * dims.occurrences


def block_size(dims: ActualRegister) -> int:
    """One data block, total or tier: what ET42.21 "Tier Size" reports (p.114)."""
    return (
        INT32_BYTES * dims.summations
        + dims.demands * demand_record_size(dims)
        + dims.coincident_values * coincident_record_size(dims)
    )


def bt23_size(dims: ActualRegister) -> int:
    return demand_resets_size(dims) + (1 + dims.tiers) * block_size(dims)


@dataclass(frozen=True)
class DemandRecord:
    """One DmdRcd. Values are raw NI_FMAT; their unit is that of `source` (BT22 demand select)."""

    source: Source | None
    values: tuple[int, ...]  # one per occurrence
    event_times: tuple[datetime | None, ...] = ()  # if BT21.0.1; None = all-zero (never set)
    cumulative: int | None = None  # if BT21.0.4
    continuous_cumulative: int | None = None  # if BT21.0.5


@dataclass(frozen=True)
class CoincidentRecord:
    source: Source | None
    values: tuple[int, ...]  # one per occurrence, raw NI_FMAT2
    demand_index: int | None = None  # BT22 coincident demand associated


@dataclass(frozen=True)
class RegisterBlock:
    summations: Measurements
    demands: tuple[DemandRecord, ...] = ()
    coincidents: tuple[CoincidentRecord, ...] = ()


@dataclass(frozen=True)
class CurrentRegisterData:
    """All of BT23. Tier blocks use the same sources as the total block; tier k is tiers[k].

    Outage, pulse and error summations are "not populated in tier groups" (p.208-209).
    """

    demand_resets: int | None
    total: RegisterBlock
    tiers: tuple[RegisterBlock, ...] = ()

    @property
    def summations(self) -> Measurements:
        return self.total.summations


@dataclass(frozen=True)
class TotalSummations:
    """The start of BT23, as a short partial read returns it."""

    demand_resets: int | None
    summations: Measurements


def _check_energy_unit(energy_unit: int) -> None:
    if energy_unit not in ENERGY_UNITS_ALLOWED:
        raise ValueError(f"energy unit {energy_unit} is not one of {ENERGY_UNITS_ALLOWED}")


def _summation_sources(
    count: int, selection: DataSelection | Sequence[int] | None
) -> tuple[Source, ...]:
    if selection is None:
        defaults = DEFAULT_SUMMATION_SOURCES[:count]
        extra = (positional_source("summation", k) for k in range(len(defaults), count))
        return defaults + tuple(extra)
    ids = selection.summation_sources if isinstance(selection, DataSelection) else selection
    if len(ids) < count:
        raise DecodeError(f"{TABLE}: BT22 names {len(ids)} summation sources, need {count}")
    return tuple(summation_source(i) for i in ids[:count])


def _measure(source: Source, raw: int, energy_unit: int) -> Measurement:
    # p.207: Wh/varh registers may count in units of 1, 10 or 100 (ET55).
    return Measurement.of(source, raw, energy_unit if source.unit in ENERGY_UNITS else 1)


def _decode_summations(
    data: bytes, at: int, sources: Sequence[Source], energy_unit: int
) -> Measurements:
    return Measurements.of(
        _measure(source, int32(data, at + INT32_BYTES * k), energy_unit)
        for k, source in enumerate(sources)
    )


def decode_bt23_summations(
    data: bytes,
    dims: ActualRegister,
    sources: DataSelection | Sequence[int] | None = None,
    energy_unit: int = 1,
) -> TotalSummations:
    """A prefix of BT23: [A] then the first k = (len - A) // 4 total summations.

    A trailing partial register is ignored, never guessed at. `sources` are BT22 (or its
    summation ids); without them the default order applies (p.208-210).
    """
    _check_energy_unit(energy_unit)
    data = bytes(data)
    a = demand_resets_size(dims)
    require_at_least(TABLE, data, a, "demand reset count (BT21.0.2)")
    if len(data) > bt23_size(dims):
        raise DecodeError(
            f"{TABLE}: {len(data)} bytes is more than the {bt23_size(dims)}-byte table"
        )
    count = min((len(data) - a) // INT32_BYTES, dims.summations)
    names = _summation_sources(count, sources)
    return TotalSummations(
        demand_resets=data[0] if a else None,
        summations=_decode_summations(data, a, names, energy_unit),
    )


def _check_selection(dims: ActualRegister, selection: DataSelection | None) -> None:
    if selection is None:
        return
    counts = (
        len(selection.summation_sources),
        len(selection.demand_sources),
        len(selection.coincident_sources),
    )
    if counts != (dims.summations, dims.demands, dims.coincident_values):
        raise DecodeError(
            f"{TABLE}: BT22 lists {counts} summation/demand/coincident sources, BT21 says "
            f"{(dims.summations, dims.demands, dims.coincident_values)}"
        )


def decode_bt23(
    data: bytes,
    dims: ActualRegister,
    selection: DataSelection | None = None,
    energy_unit: int = 1,
) -> CurrentRegisterData:
    """The whole table; `selection` (BT22) names summations, demands and coincidents."""
    _check_energy_unit(energy_unit)
    data = bytes(data)
    require_size(TABLE, data, bt23_size(dims), "from BT21")
    _check_selection(dims, selection)
    summation_sources = _summation_sources(dims.summations, selection)
    demand_sources: tuple[Source | None, ...] = (None,) * dims.demands
    coincident_sources: tuple[Source | None, ...] = (None,) * dims.coincident_values
    coincident_demands: tuple[int | None, ...] = (None,) * dims.coincident_values
    if selection is not None:
        demand_sources = tuple(source_for(i) for i in selection.demand_sources)
        coincident_sources = tuple(source_for(i) for i in selection.coincident_sources)
        coincident_demands = selection.coincident_demands

    occurrences = dims.occurrences

    def values(at: int) -> tuple[int, ...]:
        return tuple(int32(data, at + INT32_BYTES * k) for k in range(occurrences))

    def demand(at: int, source: Source | None) -> DemandRecord:
        times: tuple[datetime | None, ...] = ()
        if dims.date_time_field:
            times = tuple(
                _stime(data[at + STIME_DATE_BYTES * k : at + STIME_DATE_BYTES * (k + 1)])
                for k in range(occurrences)
            )
            at += STIME_DATE_BYTES * occurrences
        cumulative = continuous = None
        if dims.cumulative_demand:
            cumulative, at = int32(data, at), at + INT32_BYTES
        if dims.continuous_cumulative_demand:
            continuous, at = int32(data, at), at + INT32_BYTES
        return DemandRecord(source, values(at), times, cumulative, continuous)

    def block(at: int) -> RegisterBlock:
        summations = _decode_summations(data, at, summation_sources, energy_unit)
        at += INT32_BYTES * dims.summations
        demands = []
        for source in demand_sources:
            demands.append(demand(at, source))
            at += demand_record_size(dims)
        coincidents = []
        for source, associated in zip(coincident_sources, coincident_demands, strict=True):
            coincidents.append(CoincidentRecord(source, values(at), associated))
            at += coincident_record_size(dims)
        return RegisterBlock(summations, tuple(demands), tuple(coincidents))

    a = demand_resets_size(dims)
    size = block_size(dims)
    return CurrentRegisterData(
        demand_resets=data[0] if a else None,
        total=block(a),
        tiers=tuple(block(a + size * (1 + tier)) for tier in range(dims.tiers)),
    )


def _stime(raw: bytes) -> datetime | None:
    return decode_optional_datetime(TABLE, raw)  # [D] a demand never recorded carries no time


def _encode_demand(record: DemandRecord, dims: ActualRegister) -> bytes:
    if len(record.values) != dims.occurrences:
        raise ValueError("BT23 demand record needs one value per occurrence")
    out = bytearray()
    if dims.date_time_field:
        if len(record.event_times) != dims.occurrences:
            raise ValueError("BT23 demand record needs one event time per occurrence")
        for moment in record.event_times:
            out += encode_optional_datetime(moment, STIME_DATE_BYTES, "BT23 event time")
    for flag, value in (
        (dims.cumulative_demand, record.cumulative),
        (dims.continuous_cumulative_demand, record.continuous_cumulative),
    ):
        if flag:
            if value is None:
                raise ValueError("BT23 demand record lacks a cumulative value BT21 requires")
            out += pack_int32(value, "BT23 cumulative demand")
    return bytes(out) + b"".join(pack_int32(v, "BT23 demand") for v in record.values)


def _encode_block(block: RegisterBlock, dims: ActualRegister) -> bytes:
    if len(block.summations) != dims.summations:
        raise ValueError(
            f"BT23 block has {len(block.summations)} summations, BT21 says {dims.summations}"
        )
    if (len(block.demands), len(block.coincidents)) != (dims.demands, dims.coincident_values):
        raise ValueError("BT23 block demand/coincident counts do not match BT21")
    out = bytearray()
    for item in block.summations:
        out += pack_int32(item.raw, f"BT23 {item.name}")
    for record in block.demands:
        out += _encode_demand(record, dims)
    for coincident in block.coincidents:
        if len(coincident.values) != dims.occurrences:
            raise ValueError("BT23 coincident record needs one value per occurrence")
        out += b"".join(pack_int32(v, "BT23 coincident") for v in coincident.values)
    return bytes(out)


def encode_bt23(data: CurrentRegisterData, dims: ActualRegister) -> bytes:
    """The whole table as a meter holds it (raw values; sources are not encoded)."""
    if len(data.tiers) != dims.tiers:
        raise ValueError(f"BT23 has {len(data.tiers)} tier blocks, BT21 says {dims.tiers}")
    head = b""
    if dims.demand_reset_counter:
        if data.demand_resets is None:
            raise ValueError("BT21.0.2 is set: BT23 needs a demand reset count")
        head = pack_uint(data.demand_resets, 1, "BT23 demand resets")
    return head + b"".join(_encode_block(block, dims) for block in (data.total, *data.tiers))
