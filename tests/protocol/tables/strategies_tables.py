"""Hypothesis strategies for the table codecs (shared by the table tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from mepd.protocol.tables import (
    DEFAULT_PRESENT_VALUE_SOURCES,
    DEFAULT_SUMMATION_SOURCES,
    SOURCES,
    ActualRegister,
    CoincidentRecord,
    CurrentRegisterData,
    DataSelection,
    DemandRecord,
    Measurement,
    Measurements,
    PresentDemand,
    PresentRegisterData,
    PresentRegisterSelection,
    RegisterBlock,
    Source,
    source_for,
    summation_source,
)

INT32 = st.integers(-(2**31), 2**31 - 1)
UINT8 = st.integers(0, 255)


@st.composite
def actual_registers(
    draw: st.DrawFn,
    max_summations: int = 19,
    max_present_values: int = 84,
    max_tiers: int = 8,
) -> ActualRegister:
    flag = st.booleans()
    return ActualRegister(
        season_info=draw(flag),
        date_time_field=draw(flag),
        demand_reset_counter=draw(flag),
        demand_reset_lock=draw(flag),
        cumulative_demand=draw(flag),
        continuous_cumulative_demand=draw(flag),
        time_remaining=draw(flag),
        self_read_inhibit_overflow=draw(flag),
        self_read_sequence_number=draw(flag),
        daily_self_read=draw(flag),
        weekly_self_read=draw(flag),
        self_read_demand_reset=draw(st.integers(0, 3)),
        self_reads=draw(UINT8),
        summations=draw(st.integers(0, max_summations)),
        demands=draw(st.integers(0, 8)),
        coincident_values=draw(st.integers(0, 4)),
        occurrences=draw(st.integers(0, 3)),
        tiers=draw(st.integers(0, max_tiers)),
        present_demands=draw(st.integers(0, 8)),
        present_values=draw(st.integers(0, max_present_values)),
    )


def measurements(sources: tuple[Source, ...], raws: list[int]) -> Measurements:
    return Measurements.of(Measurement.of(s, r) for s, r in zip(sources, raws, strict=True))


stime_dates = st.one_of(
    st.none(),
    st.datetimes(datetime(2001, 1, 1), datetime(2099, 12, 31, 23, 59)).map(
        lambda moment: moment.replace(second=0, microsecond=0)
    ),
)
ltime_dates = st.datetimes(
    datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59, 59), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=0))
times_remaining = st.integers(0, 24 * 3600 - 1).map(lambda s: timedelta(seconds=s))


@st.composite
def data_selections(draw: st.DrawFn, dims: ActualRegister) -> DataSelection:
    def uint8s(n: int) -> tuple[int, ...]:
        return tuple(draw(st.lists(UINT8, min_size=n, max_size=n)))

    return DataSelection(
        summation_sources=uint8s(dims.summations),
        demand_sources=uint8s(dims.demands),
        demand_is_maximum=tuple(
            draw(st.lists(st.booleans(), min_size=dims.demands, max_size=dims.demands))
        ),
        coincident_sources=uint8s(dims.coincident_values),
        coincident_demands=uint8s(dims.coincident_values),
    )


@st.composite
def current_register_data(
    draw: st.DrawFn, dims: ActualRegister, selection: DataSelection | None
) -> CurrentRegisterData:
    """BT23 contents whose sources are what decode_bt23 assigns for `selection`."""
    occ = dims.occurrences

    def int32s(n: int) -> list[int]:
        return draw(st.lists(INT32, min_size=n, max_size=n))

    if selection is None:
        sum_sources = DEFAULT_SUMMATION_SOURCES[: dims.summations]
        dmd_sources: list[Source | None] = [None] * dims.demands
        coin_sources: list[Source | None] = [None] * dims.coincident_values
        coin_demands: list[int | None] = [None] * dims.coincident_values
    else:
        sum_sources = tuple(summation_source(i) for i in selection.summation_sources)
        dmd_sources = [source_for(i) for i in selection.demand_sources]
        coin_sources = [source_for(i) for i in selection.coincident_sources]
        coin_demands = list(selection.coincident_demands)

    def block() -> RegisterBlock:
        demands = tuple(
            DemandRecord(
                source=source,
                values=tuple(int32s(occ)),
                event_times=(
                    tuple(draw(st.lists(stime_dates, min_size=occ, max_size=occ)))
                    if dims.date_time_field
                    else ()
                ),
                cumulative=draw(INT32) if dims.cumulative_demand else None,
                continuous_cumulative=draw(INT32) if dims.continuous_cumulative_demand else None,
            )
            for source in dmd_sources
        )
        coincidents = tuple(
            CoincidentRecord(source, tuple(int32s(occ)), associated)
            for source, associated in zip(coin_sources, coin_demands, strict=True)
        )
        return RegisterBlock(
            measurements(sum_sources, int32s(len(sum_sources))), demands, coincidents
        )

    return CurrentRegisterData(
        demand_resets=draw(UINT8) if dims.demand_reset_counter else None,
        total=block(),
        tiers=tuple(block() for _ in range(dims.tiers)),
    )


@st.composite
def present_register_data(
    draw: st.DrawFn, dims: ActualRegister, selection: PresentRegisterSelection | None
) -> PresentRegisterData:
    if selection is None:
        demand_sources = tuple(SOURCES[88 + n] for n in range(dims.present_demands))
        value_sources = DEFAULT_PRESENT_VALUE_SOURCES[: dims.present_values]
    else:
        demand_sources = tuple(source_for(i) for i in selection.present_demand_sources or ())
        value_sources = tuple(source_for(i) for i in selection.present_value_sources)
    demands = tuple(
        PresentDemand(
            Measurement.of(source, draw(INT32)),
            draw(times_remaining) if dims.time_remaining else None,
        )
        for source in demand_sources
    )
    raws = draw(st.lists(INT32, min_size=len(value_sources), max_size=len(value_sources)))
    return PresentRegisterData(demands, measurements(value_sources, raws))
