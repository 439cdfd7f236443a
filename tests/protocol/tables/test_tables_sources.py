"""The source-id table: complete, unambiguous, and safe for ids it does not know."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mepd.protocol.tables import (
    DEFAULT_SUMMATION_SOURCES,
    SOURCES,
    SOURCES_BY_NAME,
    Measurement,
    Measurements,
    Unit,
    source_for,
    summation_source,
)


def test_every_defined_id_is_named_once() -> None:
    # p.204-206: 0..244, minus "Unused" 85-87 and "Reserved" 200.
    assert set(SOURCES) == set(range(245)) - {85, 86, 87, 200}
    assert len(SOURCES_BY_NAME) == len(SOURCES)
    for source_id, source in SOURCES.items():
        assert source.id == source_id
        assert source.name.isidentifier()
        assert source.name == source.name.lower()


def test_names_the_rest_of_mepd_uses() -> None:
    expected = {
        0: ("energy_import", Unit.WATT_HOUR, 1),
        1: ("energy_export", Unit.WATT_HOUR, 1),
        8: ("power_import", Unit.WATT, 1),
        9: ("power_export", Unit.WATT, 1),
        10: ("reactive_power_import", Unit.VAR, 1),
        12: ("current_l1", Unit.AMPERE, 0.001),
        16: ("voltage_l2", Unit.VOLT, 0.001),
        18: ("power_factor_l1", Unit.RATIO, 0.001),
        19: ("frequency", Unit.HERTZ, 0.001),
        20: ("apparent_power", Unit.VOLT_AMPERE, 1),
        185: ("power_import_l1", Unit.WATT, 1),
        236: ("voltage_angle_l1_l2", Unit.DEGREE, 0.01),
    }
    for source_id, (name, unit, scale) in expected.items():
        source = SOURCES[source_id]
        assert (source.name, source.unit, source.scale) == (name, unit, scale)


def test_tier_sources_follow_the_lcd_numbering() -> None:
    # p.203: "T0" is displayed as Tier 1.
    assert SOURCES[29].name == "energy_import_tier1"
    assert SOURCES[29].tier == 0
    assert SOURCES[72].name == "error_count_tier4"


def test_summation_context_reads_apparent_power_ids_as_energy() -> None:
    assert [s.unit for s in DEFAULT_SUMMATION_SOURCES[15:]] == [Unit.VOLT_AMPERE_HOUR] * 4
    assert summation_source(216).name == "apparent_energy_q1"
    assert source_for(216).name == "apparent_power_q1"


@given(st.integers(245, 10_000) | st.sampled_from([85, 86, 87, 200]))
def test_unknown_ids_never_crash(source_id: int) -> None:
    source = source_for(source_id)
    assert source.name == f"source_{source_id}"
    assert (source.unit, source.scale) == (Unit.COUNT, 1)


def test_units_are_distinct_and_render() -> None:
    assert len({unit.value for unit in Unit}) == len(Unit)
    assert Unit.RATIO.symbol == Unit.COUNT.symbol == ""
    assert Unit.WATT.symbol == "W"
    assert Unit("varh") is Unit.VAR_HOUR


def test_measurements_lookup() -> None:
    items = Measurements.of([Measurement.of(SOURCES[15], 231456), Measurement.of(SOURCES[16], 1)])
    found = items.get("voltage_l1")
    assert found is not None
    assert found.value == 231.456  # divided, not multiplied by 0.001
    assert items.get("nope") is None
    assert "voltage_l1" in items
    assert len(items) == 2
    assert items.by_name["voltage_l1"].raw == 231456


def test_a_source_listed_twice_is_in_no_lookup() -> None:
    # Two values for one name and nothing to say which is right: neither is used.
    twice = [Measurement.of(SOURCES[15], 231456), Measurement.of(SOURCES[16], 1)]
    items = Measurements.of([*twice, Measurement.of(SOURCES[15], 9)])
    assert items.duplicates == {"voltage_l1"}
    assert items.get("voltage_l1") is None
    assert "voltage_l1" not in items
    assert [item.name for item in items.unique] == [SOURCES[16].name]
    assert len(items) == 3  # every register stays in table order, for encoders and dumps
