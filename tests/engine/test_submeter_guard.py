"""The sub-meter registers' never-falls guard: the electricity guard's rules, in m³ and GJ."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from mepd.engine.submeter_guard import SubMeterRegisterGuard, guarded
from mepd.protocol.mbus.units import MBusUnit, MediumKind, Quantity

HOUR = 3600.0
M3 = MBusUnit.CUBIC_METRE


def gas() -> SubMeterRegisterGuard:
    return SubMeterRegisterGuard(
        "gas meter ELS12345678 volume", MediumKind.GAS, Quantity.VOLUME, M3
    )


def test_a_fall_is_held_and_the_published_value_stays_the_baseline() -> None:
    guard = gas()
    assert guard.check(Decimal("1234.567"), 0.0).accepted
    held = guard.check(Decimal("1234.000"), HOUR)
    assert not held.accepted
    assert held.reason == ("gas meter ELS12345678 volume went down from 1234.567 m³ to 1234.000 m³")
    # However often the device repeats it, a lower value stays held.
    assert not guard.check(Decimal("1234.000"), 2 * HOUR).accepted
    assert guard.last == (Decimal("1234.567"), 0.0)
    assert guard.check(Decimal("1234.600"), 3 * HOUR).accepted


def test_a_jump_beyond_what_a_gas_meter_passes_is_held() -> None:
    guard = gas()
    assert guard.check(Decimal(100), 0.0).accepted
    assert guard.check(Decimal(150), HOUR).accepted  # 50 m³ in an hour: a G25 at full flow
    held = guard.check(Decimal(250), 2 * HOUR)  # 100 m³ in an hour
    assert not held.accepted
    assert held.reason is not None
    assert "rose from 150 m³ to 250 m³ in 1.00 h" in held.reason


def test_a_water_meter_is_bounded_tighter_than_a_gas_meter() -> None:
    water = SubMeterRegisterGuard("water", MediumKind.WATER, Quantity.VOLUME, M3)
    water.check(Decimal(10), 0.0)
    assert not water.check(Decimal(40), HOUR).accepted
    gas_guard = gas()
    gas_guard.check(Decimal(10), 0.0)
    assert gas_guard.check(Decimal(40), HOUR).accepted


def test_an_absurd_first_value_is_held_and_a_seeded_baseline_counts() -> None:
    guard = gas()
    first = guard.check(Decimal(-1), 0.0)
    assert not first.accepted
    assert first.reason is not None
    assert "no register" in first.reason
    guard.seed(Decimal("500.000"), 0.0)
    assert not guard.check(Decimal("499.999"), HOUR).accepted
    assert guard.last == (Decimal("500.000"), 0.0)


def test_heat_in_gigajoules_is_bounded_in_watt_hours() -> None:
    heat = SubMeterRegisterGuard("heat", MediumKind.HEAT, Quantity.ENERGY, MBusUnit.GIGAJOULE)
    assert heat.check(Decimal("12.345"), 0.0).accepted
    assert heat.check(Decimal("12.600"), HOUR).accepted  # 0.255 GJ = 70.8 kWh in an hour
    assert not heat.check(Decimal("12.900"), 2 * HOUR).accepted  # 83 kWh in an hour


def test_only_cumulative_registers_in_known_units_are_guarded() -> None:
    assert guarded(Quantity.VOLUME, M3)
    assert guarded(Quantity.ENERGY, MBusUnit.KILOWATT_HOUR)
    assert not guarded(Quantity.POWER, MBusUnit.WATT)
    assert not guarded(Quantity.FLOW_TEMPERATURE, MBusUnit.CELSIUS)


@given(st.lists(st.decimals(min_value=0, max_value=10**6, places=3), min_size=1, max_size=30))
def test_what_passes_never_falls(values: list[Decimal]) -> None:
    guard = gas()
    published: list[Decimal] = []
    for hour, value in enumerate(values):
        if guard.check(value, hour * HOUR).accepted:
            published.append(value)
    assert published == sorted(published)
