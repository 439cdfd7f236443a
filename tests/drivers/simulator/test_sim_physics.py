"""The physics model: integer-consistent powers, monotone energy, export, determinism."""

from __future__ import annotations

from mepd.drivers.simulator.physics import PhysicsModel
from mepd.drivers.simulator.registers import present_value, summation


def test_phase_power_is_v_i_pf_in_integers_and_totals_are_sums() -> None:
    model = PhysicsModel(seed=5)
    for t in range(0, 7200, 37):
        truth = model.truth_at(t)
        for phase in truth.phases:
            product = phase.voltage_mv * phase.current_ma * phase.power_factor_milli
            assert abs(phase.active_w) == round(product / 1e9)
        net = sum(p.forward_w - p.reverse_w for p in truth.phases)
        assert truth.forward_w - truth.reverse_w == net
        assert present_value(truth, 8) - present_value(truth, 9) == sum(
            present_value(truth, 185 + i) - present_value(truth, 188 + i) for i in range(3)
        )
        assert all(215_000 < p.voltage_mv < 245_000 for p in truth.phases)
        assert 49_800 < truth.frequency_mhz < 50_200


def test_energy_never_decreases_and_integrates_power() -> None:
    model = PhysicsModel(seed=2)
    previous = model.truth_at(0)
    for t in range(1, 3600, 13):
        truth = model.truth_at(t + 0.5)
        for source in (0, 1, 2, 3):
            assert summation(truth, source) >= summation(previous, source)
        previous = truth
    first, last = model.truth_at(0), model.truth_at(3600)
    joules = sum(model.truth_at(s).forward_w for s in range(3600))  # 1 s steps
    assert abs(last.energy.forward_wh - first.energy.forward_wh - joules / 3600) <= 1


def test_solar_export_at_noon_and_import_at_night() -> None:
    noon = PhysicsModel(seed=1, start_wall=1_718_971_200.0)  # 2024-06-21 12:00 UTC
    truth = noon.truth_at(0)
    assert truth.phases[0].reverse_w > 0  # the inverter's phase exports
    night = PhysicsModel(seed=1, start_wall=1_718_928_000.0)  # 00:00 UTC
    assert all(p.reverse_w == 0 for p in night.truth_at(0).phases)


def test_same_seed_same_truth_whatever_was_asked_before() -> None:
    a, b = PhysicsModel(seed=9), PhysicsModel(seed=9)
    a.truth_at(500)
    assert a.truth_at(120.5) == b.truth_at(120.5)
    assert PhysicsModel(seed=10).truth_at(120.5) != b.truth_at(120.5)


def test_tiers_add_up_to_the_total() -> None:
    model = PhysicsModel(seed=4, tiers=4)
    truth = model.truth_at(30_000)
    assert sum(e.forward_wh for e in truth.tier_energy) in range(
        truth.energy.forward_wh - 4, truth.energy.forward_wh + 1
    )
