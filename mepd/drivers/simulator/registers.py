"""The physics truth as the meter's registers: one integer per source ID (p.203-206).

BT23 summations and BT28 present values are selected by source IDs (BT22, BT27); this module
answers "what is source N now" in the units BT23/BT28 carry (p.216-220: W, var, VA, mA, mV,
mHz, PF and sin(PA) x1000, angles in 1/100 degree; p.208: energy in whole Wh/varh/VAh).
Values the household model does not have (pulse inputs, outages, error counter) are 0.

`summation` and `present_value` are the truth as a direct-connected meter counts it. What a
profile's meter reports (`meter_summation`, `meter_present_value`) may differ, as the guide
says real ones do: BT23 counts in ET55's Energy Register Unit (p.158, p.207); a CT meter's
BT28 values lack the CT ratio unless "post CT/VT" (p.215); a power factor may carry a sign.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Callable

from mepd.drivers.simulator.physics import Energy, PhaseTruth, Truth
from mepd.drivers.simulator.profiles import MeterProfile
from mepd.protocol.tables.sources import summation_source
from mepd.protocol.tables.units import ENERGY_UNITS

_FULL_TURN_CENTIDEG = 36_000

# p.204-206: summation sources, as accumulated energy.
_SUMMATIONS: dict[int, Callable[[Energy], int]] = {
    0: lambda e: e.forward_wh,
    1: lambda e: e.reverse_wh,
    2: lambda e: e.import_varh,
    3: lambda e: e.export_varh,
    6: lambda e: e.forward_wh + e.reverse_wh,
    7: lambda e: max(e.forward_wh - e.reverse_wh, 0),  # p.209: clamped at 0
}


def _quadrant_energy(quadrant: int, apparent: bool) -> Callable[[Energy], int]:
    if apparent:
        return lambda energy: energy.quadrant_vah[quadrant]
    return lambda energy: energy.quadrant_varh[quadrant]


for _q in range(4):
    _SUMMATIONS[108 + _q] = _quadrant_energy(_q, apparent=False)
    # sources.py reads 216-219 in a summation list as apparent energy VAh Q1-Q4 (p.210).
    _SUMMATIONS[216 + _q] = _quadrant_energy(_q, apparent=True)
# p.204-205: ids 29-72 are the same eleven quantities per tier T0..T3.
_TIER_BASE_ID = 29
_PER_TIER = 11
_TIER_QUANTITIES = (0, 1, 2, 3, 4, 5, 6, 7, 26, 27, 28)


def summation(truth: Truth, source_id: int, tier: int | None = None) -> int:
    """A BT23 summation: the total block (tier None) or one tier block (0-based tier)."""
    if _TIER_BASE_ID <= source_id < _TIER_BASE_ID + 4 * _PER_TIER:
        offset = source_id - _TIER_BASE_ID
        tier, source_id = offset // _PER_TIER, _TIER_QUANTITIES[offset % _PER_TIER]
    energy = truth.energy if tier is None else _tier_energy(truth, tier)
    read = _SUMMATIONS.get(source_id)
    return read(energy) if read else 0


def _tier_energy(truth: Truth, tier: int) -> Energy:
    if 0 <= tier < len(truth.tier_energy):
        return truth.tier_energy[tier]
    return Energy(0, 0, 0, 0, (0, 0, 0, 0), (0, 0, 0, 0))


def present_value(truth: Truth, source_id: int) -> int:
    """A BT28 present value for source `source_id` (0 for sources the model lacks)."""
    read = _PRESENT.get(source_id)
    return read(truth) if read else 0


def _phase(index: int, read: Callable[[PhaseTruth], int]) -> Callable[[Truth], int]:
    return lambda truth: read(truth.phases[index])


def _quadrant_va(quadrant: int, phase: int | None) -> Callable[[Truth], int]:
    def read(truth: Truth) -> int:
        if phase is None:
            return truth.apparent_va if truth.quadrant == quadrant else 0
        p = truth.phases[phase]
        watts, vars_ = p.active_w, p.reactive_var
        here = (1 if vars_ >= 0 else 4) if watts >= 0 else (2 if vars_ >= 0 else 3)
        return p.apparent_va if here == quadrant else 0

    return read


def _quadrant_var(quadrant: int) -> Callable[[Truth], int]:
    return lambda truth: abs(truth.net_var) if truth.quadrant == quadrant else 0


def _neutral_current_ma(truth: Truth) -> int:
    """The phasor sum of the phase currents: what flows back in the neutral."""
    total = 0j
    for phase in truth.phases:
        angle = math.radians(phase.voltage_angle_centideg / 100)
        lag = math.asin(max(-1.0, min(1.0, phase.sin_phase_angle_milli / 1000)))
        if phase.active_w < 0:
            lag = math.pi - lag
        total += cmath.rect(phase.current_ma, -(angle + lag))
    return round(abs(total))


def _voltage_angle(start: int, end: int) -> Callable[[Truth], int]:
    def read(truth: Truth) -> int:
        first = truth.phases[start].voltage_angle_centideg
        second = truth.phases[end].voltage_angle_centideg
        return (second - first) % _FULL_TURN_CENTIDEG

    return read


_PRESENT: dict[int, Callable[[Truth], int]] = {
    8: lambda t: t.forward_w,
    9: lambda t: t.reverse_w,
    10: lambda t: t.import_var,
    11: lambda t: t.export_var,
    **{12 + i: _phase(i, lambda p: p.current_ma) for i in range(3)},
    **{15 + i: _phase(i, lambda p: p.voltage_mv) for i in range(3)},
    18: _phase(0, lambda p: p.power_factor_milli),
    19: lambda t: t.frequency_mhz,
    20: lambda t: t.apparent_va,
    21: _phase(1, lambda p: p.power_factor_milli),
    22: _phase(2, lambda p: p.power_factor_milli),
    **{23 + i: _phase(i, lambda p: p.sin_phase_angle_milli) for i in range(3)},
    81: lambda t: t.forward_w,
    82: lambda t: t.reverse_w,
    83: lambda t: t.import_var,
    84: lambda t: t.export_var,
    **{104 + q: _quadrant_var(q + 1) for q in range(4)},
    **{185 + i: _phase(i, lambda p: p.forward_w) for i in range(3)},
    **{188 + i: _phase(i, lambda p: p.reverse_w) for i in range(3)},
    **{191 + i: _phase(i, lambda p: p.forward_w) for i in range(3)},
    **{194 + i: _phase(i, lambda p: p.reverse_w) for i in range(3)},
    **{197 + i: _phase(i, lambda p: p.current_ma) for i in range(3)},
    # The model has no sub-second structure: continuous and average equal the present value.
    **{202 + i: _phase(i, lambda p: p.voltage_mv) for i in range(3)},
    **{205 + i: _phase(i, lambda p: p.voltage_mv) for i in range(3)},
    208: lambda t: t.forward_w,
    209: lambda t: t.reverse_w,
    **{210 + i: _phase(i, lambda p: p.forward_w) for i in range(3)},
    **{213 + i: _phase(i, lambda p: p.reverse_w) for i in range(3)},
    **{
        216 + group * 4 + q: _quadrant_va(q + 1, phase)
        for group, phase in enumerate((None, 0, 1, 2))
        for q in range(4)
    },
    232: _neutral_current_ma,
    **{233 + i: _phase(i, lambda p: p.current_ma) for i in range(3)},
    236: _voltage_angle(0, 1),
    237: _voltage_angle(1, 2),
    238: _voltage_angle(2, 0),
    **{239 + i: _phase(i, lambda p: p.import_var) for i in range(3)},
    **{242 + i: _phase(i, lambda p: p.export_var) for i in range(3)},
}


# p.215-218: "multiplied by CT/VT ratio if enabled": Fwd/Rev W and var L1L2L3, per-phase W
# and currents. Everything else in BT28 is the secondary side.
_POST_CT_VT = frozenset({81, 82, 83, 84, *range(191, 200)})
# Neither power nor current, so a CT does not scale them (a VT would; these meters have none).
_NOT_CT_SCALED = frozenset(
    {15, 16, 17, 18, 19, 21, 22, 23, 24, 25, *range(202, 208), 236, 237, 238}
)
_POWER_FACTOR_PHASE = {18: 0, 21: 1, 22: 2}


def meter_summation(
    profile: MeterProfile, truth: Truth, source_id: int, tier: int | None = None
) -> int:
    """A BT23 summation as `profile`'s meter holds it: Wh/varh/VAh in its energy unit (p.158)."""
    value = summation(truth, source_id, tier)
    if summation_source(source_id).unit in ENERGY_UNITS:
        return value // profile.energy_unit
    return value


def meter_present_value(profile: MeterProfile, truth: Truth, source_id: int) -> int:
    """A BT28 present value as `profile`'s meter reports it (the truth is the primary side)."""
    value = present_value(truth, source_id)
    phase = _POWER_FACTOR_PHASE.get(source_id)
    if profile.signed_power_factor and phase is not None and truth.phases[phase].active_w < 0:
        value = -value
    if profile.ct_ratio != 1 and source_id not in _POST_CT_VT | _NOT_CT_SCALED:
        value = round(value / profile.ct_ratio)
    return value
