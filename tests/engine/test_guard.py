"""The plausibility guard: the 117,000 kWh glitch, drops, and the owner's acceptance."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mepd.drivers.simulator.profiles import PROFILES
from mepd.engine.guard import EnergyRegisterGuard, Verdict, check_present, lifetime_energy_wh
from mepd.engine.intake import QUARANTINE_LOG_INTERVAL_S, Intake
from mepd.engine.startup import Layout
from mepd.settings import PlausibilityLimits

LIMITS = PlausibilityLimits()


def _present(**overrides: float) -> dict[str, float]:
    values = {
        "power_import": 1500.0,
        "power_export": 0.0,
        "power_import_l1": 700.0,
        "power_import_l2": 500.0,
        "power_import_l3": 300.0,
        "power_export_l1": 0.0,
        "power_export_l2": 0.0,
        "power_export_l3": 0.0,
        "voltage_l1": 231.2,
        "voltage_l2": 229.8,
        "voltage_l3": 230.5,
        "current_l1": 3.1,
        "current_l2": 2.2,
        "current_l3": 1.4,
        "power_factor_l1": 0.98,
        "power_factor_l2": 0.99,
        "power_factor_l3": 0.93,
        "frequency": 50.01,
    }
    values.update(overrides)
    return values


def test_a_normal_reading_passes() -> None:
    assert check_present(_present(), LIMITS).verdict is Verdict.ACCEPTED


def test_export_on_one_phase_still_sums_by_net_power() -> None:
    values = _present(
        power_import=400.0, power_import_l1=700.0, power_import_l3=0.0, power_export_l3=300.0
    )
    values["power_import_l2"] = 0.0
    assert check_present(values, LIMITS).verdict is Verdict.ACCEPTED


def test_phases_that_do_not_add_up_are_quarantined() -> None:
    finding = check_present(_present(power_import=2500.0), LIMITS)
    assert finding.verdict is Verdict.QUARANTINED
    assert "sum to" in finding.reasons[0]


def test_out_of_range_values_are_named() -> None:
    finding = check_present(
        _present(voltage_l2=0.0, frequency=5.0, power_factor_l1=1.7, current_l3=400.0), LIMITS
    )
    assert finding.verdict is Verdict.QUARANTINED
    text = " ".join(finding.reasons)
    for name in ("voltage_l2", "frequency", "power_factor_l1", "current_l3"):
        assert name in text


def test_missing_values_are_not_invented_for_checks() -> None:
    assert check_present({"voltage_l1": 230.0}, LIMITS).verdict is Verdict.ACCEPTED


def test_the_117000_kwh_glitch_is_quarantined_and_the_baseline_kept() -> None:
    guard = EnergyRegisterGuard("energy_import", LIMITS)
    assert guard.check(12_345_000.0, 0.0).verdict is Verdict.ACCEPTED
    glitch = guard.check(12_345_000.0 + 117_000_000.0, 15.0)
    assert glitch.verdict is Verdict.HELD
    assert "fuse allows" in glitch.reasons[0]
    assert guard.last_value == 12_345_000.0
    assert guard.check(12_345_020.0, 30.0).verdict is Verdict.ACCEPTED


def test_a_drop_is_quarantined() -> None:
    guard = EnergyRegisterGuard("energy_import", LIMITS)
    guard.check(5000.0, 0.0)
    finding = guard.check(4999.0, 10.0)
    assert finding.verdict is Verdict.HELD
    assert "went down" in finding.reasons[0]


def test_no_run_of_consistent_readings_moves_the_baseline() -> None:
    # A replaced meter, a reset or a stale layout all repeat themselves perfectly: a day of
    # consistent readings is no evidence. Only the owner moves the baseline.
    guard = EnergyRegisterGuard("energy_import", LIMITS)
    guard.check(9_000_000.0, 0.0)
    verdicts = {guard.check(10.0 + step, 15.0 * (step + 1)).verdict for step in range(5760)}
    assert verdicts == {Verdict.HELD}
    assert guard.last_value == 9_000_000.0
    assert guard.held is not None
    assert (guard.held.value, guard.held.since_s) == (10.0 + 5759, 15.0)


def test_the_owner_accepts_the_next_value_once() -> None:
    guard = EnergyRegisterGuard("energy_import", LIMITS)
    guard.check(9_000_000.0, 0.0)
    assert guard.check(10.0, 15.0).verdict is Verdict.HELD
    guard.accept_next = True
    accepted = guard.check(12.0, 30.0)
    assert accepted.verdict is Verdict.OWNER_ACCEPTED
    assert "9,000.000 kWh -> 0.012 kWh" in accepted.reasons[0]
    assert (guard.last_value, guard.held, guard.accept_next) == (12.0, None, False)
    assert guard.check(11.0, 45.0).verdict is Verdict.HELD  # used up: falling is held again


@pytest.mark.parametrize(
    "value", [-1.0, math.nan, math.inf, 1e12 * 1000, lifetime_energy_wh(LIMITS) + 1]
)
def test_no_baseline_still_needs_a_register_a_house_can_hold(value: float) -> None:
    # 1e12 kWh is far beyond the fuse at full load for 50 years (about 28.6 GWh).
    guard = EnergyRegisterGuard("energy_import", LIMITS)
    finding = guard.check(value, 0.0)
    assert finding.verdict is Verdict.HELD
    assert "no register this connection can have counted" in finding.reasons[0]
    assert guard.last_value is None
    guard.accept_next = True  # not even the owner can accept that
    assert guard.check(value, 15.0).verdict is Verdict.HELD
    assert guard.check(5_000_000.0, 30.0).verdict is Verdict.ACCEPTED


def test_the_lifetime_bound_follows_the_fuse() -> None:
    assert lifetime_energy_wh(LIMITS) == pytest.approx(28.58e9, rel=1e-3)  # 3 x 63 A
    single = PlausibilityLimits(main_fuse_a=25.0, phases=1)
    assert lifetime_energy_wh(single) == pytest.approx(lifetime_energy_wh(LIMITS) * 25 / 63 / 3)


def test_glitches_that_disagree_with_each_other_never_become_a_baseline() -> None:
    guard = EnergyRegisterGuard("energy_import", LIMITS)
    guard.check(1000.0, 0.0)
    for step, value in enumerate([9e9, 1.0, 9e9, 1.0, 9e9, 1.0, 9e9]):
        assert guard.check(value, 15.0 * (step + 1)).verdict is Verdict.HELD
    assert guard.last_value == 1000.0


@given(
    steps=st.lists(st.tuples(st.floats(0.5, 120.0), st.floats(0.0, 1.0)), min_size=1, max_size=50)
)
def test_physically_possible_series_are_always_accepted(
    steps: list[tuple[float, float]],
) -> None:
    guard = EnergyRegisterGuard("energy_import", LIMITS)
    value, now = 1_000_000.0, 0.0
    guard.check(value, now)
    for elapsed, load in steps:
        now += elapsed
        value += LIMITS.max_power_w / LIMITS.margin * load * elapsed / 3600.0
        assert guard.check(round(value), now).verdict is Verdict.ACCEPTED


@given(spike=st.floats(1e6, 1e12), elapsed=st.floats(0.1, 60.0))
def test_any_spike_beyond_the_fuse_is_quarantined(spike: float, elapsed: float) -> None:
    guard = EnergyRegisterGuard("energy_import", LIMITS)
    guard.check(1_000_000.0, 0.0)
    if spike > LIMITS.max_energy_increase_wh(elapsed):
        assert guard.check(1_000_000.0 + spike, elapsed).verdict is Verdict.HELD


def test_quarantines_are_all_counted_and_logged_throttled_per_table(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    counters = dict.fromkeys(("quarantined", "energy_held", "readings"), 0)
    intake = Intake(LIMITS, counters, clock=lambda: now[0])
    layout = Layout(PROFILES["gen4"].dims, None, None, 4, None)
    host = datetime(2026, 1, 1, tzinfo=UTC)
    with caplog.at_level(logging.WARNING, logger="mepd.engine.intake"):
        intake.clock(b"\x00", host)  # BT52 is 6 or 7 bytes: the first line is always said
        intake.clock(b"\x00", host)  # the same table within the interval: held back
        assert intake.present(b"\x00", layout, "S", host) is None  # another table: said
        now[0] = QUARANTINE_LOG_INTERVAL_S + 1.0
        intake.clock(b"\x00", host)
    lines = [record.getMessage() for record in caplog.records]
    assert [line.split()[1] for line in lines] == ["BT52", "BT28", "BT52"]
    assert "data 00" in lines[0]
    assert "(1 similar in the last 1 min not shown)" in lines[-1]
    assert counters == {"quarantined": 4, "energy_held": 0, "readings": 0}
    assert intake.clock_offset_s is None
