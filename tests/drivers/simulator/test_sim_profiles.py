"""Registers that never go backwards across runs, and what each zoo profile serves."""

from __future__ import annotations

from datetime import UTC

import pytest

from mepd.drivers.simulator.factory import simulated_meter
from mepd.drivers.simulator.physics import SIM_EPOCH
from mepd.drivers.simulator.profiles import PROFILES
from mepd.drivers.simulator.registers import meter_present_value, meter_summation, summation
from mepd.drivers.simulator.tables import BT20, BT23, BT28, ET55, LiveState
from mepd.protocol.tables import (
    decode_bt20,
    decode_bt23,
    decode_bt28,
    decode_et55_energy_unit,
    energy_unit_offset,
)
from mepd.protocol.tables.bt27 import PresentRegisterSelection

WALL = SIM_EPOCH + 300 * 86_400.0  # some day in the simulator's present


def _registers(profile: str, start_wall: float, t: float) -> tuple[int, ...]:
    port = simulated_meter(PROFILES[profile], start_wall=start_wall)
    truth = port.meter.physics.truth_at(t)
    return tuple(summation(truth, source) for source in (0, 1, 2, 3))


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("gap_s", [0.0, 1.0, 3600.0])
def test_a_later_run_starts_where_no_earlier_run_can_have_got(profile: str, gap_s: float) -> None:
    run_s = 600.0  # the first run: ten minutes of real consumption
    first_end = _registers(profile, WALL, run_s)
    second_start = _registers(profile, WALL + run_s + gap_s, 0.0)
    assert all(b >= a for a, b in zip(first_end, second_start, strict=True)), (
        first_end,
        second_start,
    )
    assert second_start[0] > _registers(profile, WALL, 0.0)[0]  # it really rose


def test_registers_before_the_epoch_are_as_before() -> None:
    # Fixed-time tests (start_wall in 2024) see the registers they always saw.
    early = _registers("gen4", SIM_EPOCH - 86_400.0, 0.0)
    earlier = _registers("gen4", SIM_EPOCH - 2 * 86_400.0, 0.0)
    assert early == earlier


def _serve(profile: str, table: int, t: float = 600.0) -> tuple[bytes, object]:
    port = simulated_meter(PROFILES[profile], start_wall=WALL)
    truth = port.meter.physics.truth_at(t)
    data = port.meter.tables.read(table, truth, LiveState(0, 1))
    assert data is not None
    return data, truth


@pytest.mark.parametrize(("profile", "unit"), [("ct-10", 10), ("ct-100", 100), ("gen3", 1)])
def test_et55_says_the_unit_and_bt23_counts_in_it(profile: str, unit: int) -> None:
    meter = PROFILES[profile]
    gen4 = meter.generation >= 4
    tiers = decode_bt20(_serve(profile, BT20)[0]).tiers
    at = energy_unit_offset(tiers, gen4=gen4)
    et55, _ = _serve(profile, ET55)
    assert decode_et55_energy_unit(et55, offset=0, max_tiers=tiers, gen4=gen4).raw == unit
    data, truth = _serve(profile, BT23)
    decoded = decode_bt23(data, meter.dims, None, energy_unit=unit)
    wh = summation(truth, 0)  # type: ignore[arg-type]
    assert decoded.summations[0].value == (wh // unit) * unit
    assert decoded.summations[0].raw == wh // unit
    assert at in (197, 198, 214)


def test_fw_350_has_no_et55_and_41_values() -> None:
    port = simulated_meter(PROFILES["fw-350"], start_wall=WALL)
    assert not port.meter.tables.exists(ET55)
    assert PROFILES["fw-350"].dims.present_values == 41


def test_dk_83331_is_single_rate_and_exports_on_l1_while_l2_l3_import() -> None:
    meter = PROFILES["dk-83331"]
    data, truth = _serve("dk-83331", BT23)
    decoded = decode_bt23(data, meter.dims)
    assert [block.summations[0].raw for block in decoded.tiers[1:]] == [0, 0, 0]
    assert decoded.tiers[0].summations[0].raw > 0
    for hour in range(0, 24, 5):  # day and night
        port = simulated_meter(meter, start_wall=WALL + hour * 3600.0)
        truth = port.meter.physics.truth_at(0.0)
        phases = truth.phases
        assert phases[0].active_w < 0 < phases[1].active_w
        assert phases[2].active_w > 0
        assert meter_present_value(meter, truth, 18) < 0 < meter_present_value(meter, truth, 21)


@pytest.mark.parametrize("profile", ["ct-10", "ct-100"])
def test_ct_meters_report_secondary_values_except_post_ct_vt(profile: str) -> None:
    meter = PROFILES[profile]
    _, truth = _serve(profile, BT28)
    primary = meter_present_value(meter, truth, 81)  # type: ignore[arg-type]
    secondary = meter_present_value(meter, truth, 8)  # type: ignore[arg-type]
    assert primary > 1000
    assert abs(secondary - primary / meter.ct_ratio) <= 1
    assert meter_present_value(meter, truth, 15) > 200_000  # type: ignore[arg-type]  # volts unscaled
    assert meter_summation(meter, truth, 0) == summation(truth, 0) // meter.energy_unit  # type: ignore[arg-type]


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_decodes_to_its_truth(profile: str) -> None:
    meter = PROFILES[profile]
    data, truth = _serve(profile, BT28)
    selection = PresentRegisterSelection(meter.present_value_sources, meter.present_demand_sources)
    present = decode_bt28(data, meter.dims, selection)
    assert len(present.values) == len(meter.present_value_sources)
    for measured in present.values:
        assert measured.raw == meter_present_value(meter, truth, measured.source.id)  # type: ignore[arg-type]


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_the_rise_between_runs_stays_below_what_the_meter_class_passes(profile: str) -> None:
    # 80 A (ET04 max current, gen3) x 230 V x 3 phases: no plausible-rate check can object.
    assert PROFILES[profile].load.ceiling_va() < 80 * 230 * 3


DEMAND_PROFILES = sorted(name for name, p in PROFILES.items() if p.dims.date_time_field)


@pytest.mark.parametrize("profile", DEMAND_PROFILES)
@pytest.mark.parametrize("offset_s", [7.5, 59.0])
def test_bt23_demand_times_are_whole_quarter_hours_whatever_the_start(
    profile: str, offset_s: float
) -> None:
    # STIME_DATE carries no seconds (p.41): a meter started off a whole minute must still
    # encode its demand event times, the ends of the clock's 15-minute intervals.
    start_wall = WALL + offset_s
    port = simulated_meter(PROFILES[profile], start_wall=start_wall)
    for t in (1900.0, 2900.0):
        truth = port.meter.physics.truth_at(t)
        data = port.meter.tables.read(BT23, truth, LiveState(0, 1))
        assert data is not None
        decoded = decode_bt23(data, PROFILES[profile].dims)
        times = [m for d in decoded.total.demands for m in d.event_times if m is not None]
        assert times, "a completed interval has a demand time"
        for moment in times:
            assert (moment.second, moment.minute % 15) == (0, 0)
            assert moment.replace(tzinfo=UTC).timestamp() <= start_wall + t
