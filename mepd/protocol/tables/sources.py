"""Source IDs: what each number in BT22 (summations) and BT27 (present values) measures.

BT22 and BT27 share one numbering (p.203-207). Names are snake_case and stable forever: they
become MQTT topics and Home Assistant entity ids. Conventions:

* `_import`/`_export` are the guide's Fwd/Rev (active) and Import/Export (reactive).
* `_l1`.. `_l3` are phases; no suffix means L1L2L3.
* `_ct_vt` marks the "Post CT/VT Ratio" variants; BT28 values without it exclude the CT/VT
  ratios (p.215), BT23 values always include them (p.207).
* `_tierN` is 1-based like the meter's LCD: the guide's "T0" is tier1 (p.203).

SI value = raw * scale (BT28 currents in mA, voltages in mV, frequency in mHz, power factor
and sin(PA) in 1/1000, voltage angles in 1/100 degree; p.216-220).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from mepd.protocol.tables.units import Unit

SourceKind = Literal["energy", "instantaneous", "counter", "demand", "extreme", "other"]
"""energy: accumulating Wh/varh/VAh; instantaneous: present W, V, A, ...; counter: other
accumulations (outage seconds and count, pulses, errors); demand: present/previous demand
registers; extreme: recorded minimum/maximum values; other: internal or opaque values."""

MILLI = 0.001
CENTI = 0.01


@dataclass(frozen=True)
class Source:
    """One measurement source: its guide id, stable name and how its raw integer scales."""

    id: int
    name: str
    unit: Unit
    scale: float = 1.0
    phase: int | None = None
    kind: SourceKind = "instantaneous"
    description: str = ""  # the guide's own name for it
    tier: int | None = None  # the guide's 0-based "T" index for per-tier sources


def unknown_source(source_id: int) -> Source:
    """An id the guide does not define (or that we do not know): a dimensionless count."""
    return Source(source_id, f"source_{source_id}", Unit.COUNT, kind="other")


def positional_source(prefix: str, index: int) -> Source:
    """A value whose source id is unknown (more entries than the default order lists)."""
    return Source(-1, f"{prefix}_{index}", Unit.COUNT, kind="other")


_PHASES = (1, 2, 3)
_TIER_ORDER: tuple[tuple[str, Unit, float, SourceKind, str], ...] = (
    # p.203-205: each of T0..T3 lists these eleven, in this order, from id 29 on.
    ("energy_import", Unit.WATT_HOUR, 1.0, "energy", "Fwd Active Wh L1L2L3"),
    ("energy_export", Unit.WATT_HOUR, 1.0, "energy", "Rev Active Wh L1L2L3"),
    ("reactive_energy_import", Unit.VAR_HOUR, 1.0, "energy", "Import Reactive VArh L1L2L3"),
    ("reactive_energy_export", Unit.VAR_HOUR, 1.0, "energy", "Export Reactive VArh L1L2L3"),
    # p.204 says "Power Off Minutes" for tiers (seconds for id 4); never filled in (p.208).
    ("power_outage_duration", Unit.SECOND, 60.0, "counter", "Power Off Minutes"),
    ("power_outage_count", Unit.COUNT, 1.0, "counter", "Power Outage Qty"),
    ("energy_import_plus_export", Unit.WATT_HOUR, 1.0, "energy", "Fwd+Rev Active Wh L1L2L3"),
    ("energy_import_minus_export", Unit.WATT_HOUR, 1.0, "energy", "Fwd-Rev Active Wh L1L2L3"),
    ("pulse_input_1", Unit.COUNT, 1.0, "counter", "Channel 0 Pulse Input"),
    ("pulse_input_2", Unit.COUNT, 1.0, "counter", "Channel 1 Pulse Input"),
    ("error_count", Unit.COUNT, 1.0, "counter", "Error Counter"),
)
_FIRST_TIER_ID = 29
_TIERS = 4


class _Registry:
    def __init__(self) -> None:
        self.table: dict[int, Source] = {}

    def __call__(
        self,
        source_id: int,
        name: str,
        unit: Unit,
        description: str,
        *,
        scale: float = 1.0,
        phase: int | None = None,
        kind: SourceKind = "instantaneous",
        tier: int | None = None,
    ) -> None:
        assert source_id not in self.table, source_id
        self.table[source_id] = Source(source_id, name, unit, scale, phase, kind, description, tier)


def _totals(add: _Registry) -> None:
    """p.204: ids 0-28."""
    add(0, "energy_import", Unit.WATT_HOUR, "Fwd Active Wh L1L2L3", kind="energy")
    add(1, "energy_export", Unit.WATT_HOUR, "Rev Active Wh L1L2L3", kind="energy")
    add(2, "reactive_energy_import", Unit.VAR_HOUR, "Import Reactive Varh L1L2L3", kind="energy")
    add(3, "reactive_energy_export", Unit.VAR_HOUR, "Export Reactive Varh L1L2L3", kind="energy")
    add(4, "power_outage_duration", Unit.SECOND, "Power Off Seconds", kind="counter")
    add(5, "power_outage_count", Unit.COUNT, "Power Outage Qty", kind="counter")
    add(6, "energy_import_plus_export", Unit.WATT_HOUR, "Fwd+Rev Active Wh L1L2L3", kind="energy")
    # p.209: clamped at 0.
    add(7, "energy_import_minus_export", Unit.WATT_HOUR, "Fwd-Rev Active Wh L1L2L3", kind="energy")
    add(8, "power_import", Unit.WATT, "Fwd Active W L1L2L3")
    add(9, "power_export", Unit.WATT, "Rev Active W L1L2L3")
    add(10, "reactive_power_import", Unit.VAR, "Import Reactive Var L1L2L3")
    add(11, "reactive_power_export", Unit.VAR, "Export Reactive Var L1L2L3")
    for index, phase in enumerate(_PHASES):
        # p.216: RMS current in mA, RMS voltage in mV.
        add(
            12 + index,
            f"current_l{phase}",
            Unit.AMPERE,
            f"RMS Current L{phase}",
            scale=MILLI,
            phase=phase,
        )
        add(
            15 + index,
            f"voltage_l{phase}",
            Unit.VOLT,
            f"RMS Voltage L{phase}",
            scale=MILLI,
            phase=phase,
        )
    # p.216: power factor and sin(PA) in 1/1000, frequency in mHz.
    add(18, "power_factor_l1", Unit.RATIO, "Power Factor L1", scale=MILLI, phase=1)
    add(19, "frequency", Unit.HERTZ, "Frequency", scale=MILLI)
    add(20, "apparent_power", Unit.VOLT_AMPERE, "VA Power L1L2L3")
    add(21, "power_factor_l2", Unit.RATIO, "Power Factor L2", scale=MILLI, phase=2)
    add(22, "power_factor_l3", Unit.RATIO, "Power Factor L3", scale=MILLI, phase=3)
    for index, phase in enumerate(_PHASES):
        add(
            23 + index,
            f"sin_phase_angle_l{phase}",
            Unit.RATIO,
            f"Sin phase angle (L{phase})",
            scale=MILLI,
            phase=phase,
        )
    add(26, "pulse_input_1", Unit.COUNT, "Channel 0 Pulse Input", kind="counter")
    add(27, "pulse_input_2", Unit.COUNT, "Channel 1 Pulse Input", kind="counter")
    add(28, "error_count", Unit.COUNT, "Error Counter", kind="counter")


def _tiers_and_counters(add: _Registry) -> None:
    """p.204-205: ids 29-72, eleven per tier for T0..T3; then 73-111."""
    for tier in range(_TIERS):
        for index, (name, unit, scale, kind, description) in enumerate(_TIER_ORDER):
            add(
                _FIRST_TIER_ID + tier * len(_TIER_ORDER) + index,
                f"{name}_tier{tier + 1}",
                unit,
                f"T{tier} {description}",
                scale=scale,
                kind=kind,
                tier=tier,
            )

    # p.205: MEP device counters, 73-80.
    for device in range(1, 5):
        for counter in (1, 2):
            add(
                73 + (device - 1) * 2 + counter - 1,
                f"mep_device_{device}_counter_{counter}",
                Unit.COUNT,
                f"MEP Dev {device} Counter {counter}",
                kind="counter",
            )
    add(81, "power_import_ct_vt", Unit.WATT, "Fwd Active W L1L2L3 Post CT/VT Ratio")
    add(82, "power_export_ct_vt", Unit.WATT, "Rev Active W L1L2L3 Post CT/VT Ratio")
    add(83, "reactive_power_import_ct_vt", Unit.VAR, "Import VAR L1L2L3 Post CT/VT Ratio")
    add(84, "reactive_power_export_ct_vt", Unit.VAR, "Export VAR L1L2L3 Post CT/VT Ratio")
    # 85-87: "Unused" (p.205); left to unknown_source().
    for number in range(1, 9):
        # The unit is that of the demand source BT22 selects, so it stays a plain count here.
        add(
            87 + number,
            f"present_demand_{number}",
            Unit.COUNT,
            f"Present Dmd {number}",
            kind="demand",
        )
        add(
            95 + number,
            f"previous_demand_{number}",
            Unit.COUNT,
            f"Previous Dmd {number}",
            kind="demand",
        )
    for quadrant in range(1, 5):
        add(
            103 + quadrant,
            f"reactive_power_q{quadrant}",
            Unit.VAR,
            f"Q{quadrant} Reactive VAr L1L2L3",
        )
        add(
            107 + quadrant,
            f"reactive_energy_q{quadrant}",
            Unit.VAR_HOUR,
            f"Q{quadrant} Reactive VArh L1L2L3",
            kind="energy",
        )


def _mapped_and_extremes(add: _Registry) -> None:
    """p.205-206: ids 112-184."""
    # p.205, p.30, p.173: 112-163 are keys into ET66 (load profile mapping), not quantities.
    for mapped in range(112, 164):
        add(mapped, f"mapped_source_{mapped}", Unit.COUNT, "Mapped Source", kind="other")
    # p.205-206: recorded extremes. [D] The guide gives no unit for min/max voltage; mV like
    # every other voltage here.
    for index, phase in enumerate(_PHASES):
        add(
            164 + index,
            f"voltage_min_l{phase}",
            Unit.VOLT,
            f"Min Voltage L{phase}",
            scale=MILLI,
            phase=phase,
            kind="extreme",
        )
        add(
            167 + index,
            f"voltage_max_l{phase}",
            Unit.VOLT,
            f"Max Voltage L{phase}",
            scale=MILLI,
            phase=phase,
            kind="extreme",
        )
    add(170, "power_import_max", Unit.WATT, "Max Active Fwd Power L1L2L3", kind="extreme")
    add(171, "power_export_max", Unit.WATT, "Max Active Rev Power L1L2L3", kind="extreme")
    for quadrant in range(1, 5):
        add(
            171 + quadrant,
            f"reactive_power_max_q{quadrant}",
            Unit.VAR,
            f"Max Reactive Power Q{quadrant}",
            kind="extreme",
        )
    add(176, "timestamp_previous_source", Unit.COUNT, "Time Stamp Previous Source", kind="other")
    add(
        177,
        "power_import_max_ct_vt",
        Unit.WATT,
        "Max forward active power L1L2L3 Post CT/VT Ratio",
        kind="extreme",
    )
    add(
        178,
        "power_export_max_ct_vt",
        Unit.WATT,
        "Max reverse active power L1L2L3 Post CT/VT Ratio",
        kind="extreme",
    )


def _per_phase(add: _Registry) -> None:
    """p.206: ids 179-215."""
    for index, phase in enumerate(_PHASES):
        add(
            179 + index,
            f"power_import_max_l{phase}_ct_vt",
            Unit.WATT,
            f"Max forward active power L{phase} Post CT/VT Ratio",
            phase=phase,
            kind="extreme",
        )
        # p.205 prints 182 as "A"; A/B/C are L1/L2/L3 elsewhere (p.206, 236-244).
        add(
            182 + index,
            f"power_export_max_l{phase}_ct_vt",
            Unit.WATT,
            f"Max reverse active power L{phase} Post CT/VT Ratio",
            phase=phase,
            kind="extreme",
        )
        add(185 + index, f"power_import_l{phase}", Unit.WATT, f"Fwd Active W L{phase}", phase=phase)
        add(188 + index, f"power_export_l{phase}", Unit.WATT, f"Rev Active W L{phase}", phase=phase)
        add(
            191 + index,
            f"power_import_l{phase}_ct_vt",
            Unit.WATT,
            f"Fwd Active W L{phase} Post CT/VT Ratio",
            phase=phase,
        )
        add(
            194 + index,
            f"power_export_l{phase}_ct_vt",
            Unit.WATT,
            f"Rev Active W L{phase} Post CT/VT Ratio",
            phase=phase,
        )
        add(
            197 + index,
            f"current_l{phase}_ct",
            Unit.AMPERE,
            f"RMS Current L{phase} Post CT/VT Ratio",
            scale=MILLI,
            phase=phase,
        )
    # 200: "Reserved For Internal Use" (p.206); left to unknown_source().
    # [D] 201: no unit given; kept opaque.
    add(
        201,
        "load_profile_interval_time_adjustment",
        Unit.COUNT,
        "Current Load Profile Interval Time Adjustment",
        kind="other",
    )
    for index, phase in enumerate(_PHASES):
        add(
            202 + index,
            f"voltage_continuous_l{phase}",
            Unit.VOLT,
            f"Continuous RMS Voltage L{phase}",
            scale=MILLI,
            phase=phase,
        )
        add(
            205 + index,
            f"voltage_average_l{phase}",
            Unit.VOLT,
            f"Average RMS Voltage L{phase}",
            scale=MILLI,
            phase=phase,
        )
    add(208, "power_import_average", Unit.WATT, "Average Fwd Active W L1L2L3")
    add(209, "power_export_average", Unit.WATT, "Average Rev Active W L1L2L3")
    for index, phase in enumerate(_PHASES):
        add(
            210 + index,
            f"power_import_average_l{phase}",
            Unit.WATT,
            f"Average Fwd Active W L{phase}",
            phase=phase,
        )
        add(
            213 + index,
            f"power_export_average_l{phase}",
            Unit.WATT,
            f"Average Rev Active W L{phase}",
            phase=phase,
        )


def _fw4(add: _Registry) -> None:
    """p.206-207: ids 216-244, fw 4.0+ (236-244: fw 4.30+)."""
    # p.206: 216-231 apparent power per quadrant, L1L2L3 then L1, L2, L3 (fw 4.0+).
    for group, group_phase in enumerate((None, 1, 2, 3)):
        suffix = "" if group_phase is None else f"_l{group_phase}"
        label = "L1L2L3" if group_phase is None else f"L{group_phase}"
        for quadrant in range(1, 5):
            add(
                216 + group * 4 + quadrant - 1,
                f"apparent_power_q{quadrant}{suffix}",
                Unit.VOLT_AMPERE,
                f"Apparent Power Q{quadrant} VA {label}",
                phase=group_phase,
            )
    add(232, "current_neutral", Unit.AMPERE, "Neutral Current mA", scale=MILLI)
    for index, phase in enumerate(_PHASES):
        add(
            233 + index,
            f"current_average_l{phase}",
            Unit.AMPERE,
            f"Average RMS Current mA L{phase}",
            scale=MILLI,
            phase=phase,
        )
    # p.219-220: angles between adjacent phase voltages in 1/100 degree.
    for index, (start, end) in enumerate(((1, 2), (2, 3), (3, 1))):
        add(
            236 + index,
            f"voltage_angle_l{start}_l{end}",
            Unit.DEGREE,
            f"Voltage Angle {'ABC'[start - 1]} to {'ABC'[end - 1]}",
            scale=CENTI,
        )
    for index, phase in enumerate(_PHASES):
        add(
            239 + index,
            f"reactive_power_import_l{phase}",
            Unit.VAR,
            f"Imp Reactive VAr {'ABC'[index]}",
            phase=phase,
        )
        add(
            242 + index,
            f"reactive_power_export_l{phase}",
            Unit.VAR,
            f"Exp Reactive VAr {'ABC'[index]}",
            phase=phase,
        )


def _build() -> dict[int, Source]:
    add = _Registry()
    for group in (_totals, _tiers_and_counters, _mapped_and_extremes, _per_phase, _fw4):
        group(add)
    return add.table


SOURCES: Mapping[int, Source] = MappingProxyType(_build())
SOURCES_BY_NAME: Mapping[str, Source] = MappingProxyType(
    {source.name: source for source in SOURCES.values()}
)


def source_for(source_id: int) -> Source:
    """The source a BT27 (or BT22 demand/coincident) id names; unknown ids never raise."""
    return SOURCES.get(source_id) or unknown_source(source_id)


# [D] Summations 15-18 on fw 4.0+ are apparent energy VAh Q1-Q4 (p.210), but the source list
# (p.203-206) has no VAh ids. The only apparent-per-quadrant ids are 216-219 (VA); in a
# summation list we read them as their accumulated energy.
_SUMMATION_MEANINGS: Mapping[int, Source] = MappingProxyType(
    {
        216 + q: Source(
            216 + q,
            f"apparent_energy_q{q + 1}",
            Unit.VOLT_AMPERE_HOUR,
            kind="energy",
            description=f"Apparent Energy VAh Q{q + 1}",
        )
        for q in range(4)
    }
)


def summation_source(source_id: int) -> Source:
    """The source a BT22 summation id names, as accumulated in BT23."""
    return _SUMMATION_MEANINGS.get(source_id) or source_for(source_id)


# p.208-210: the default BT23 summation order. The first 11 on fw 3.x without demand, 15 with
# demand (p.207), 19 on fw 4.0+ (p.202). Pulse inputs and error counter are ids 26-28.
DEFAULT_SUMMATION_IDS = (0, 1, 2, 3, 4, 5, 6, 7, 26, 27, 28, 108, 109, 110, 111, 216, 217, 218, 219)
DEFAULT_SUMMATION_SOURCES: tuple[Source, ...] = tuple(
    summation_source(i) for i in DEFAULT_SUMMATION_IDS
)

# p.216-220: the default BT28 present-value order, 84 entries on fw 4.30. Meters report a
# prefix: 22, 26 (3.10), 41 (3.50), 55 (3.70), 72 (4.0), 75 (4.10), 84 (4.30).
DEFAULT_PRESENT_VALUE_IDS: tuple[int, ...] = (
    *(8, 9, 10, 11),  # 0-3
    *(12, 13, 14, 15, 16, 17),  # 4-9: currents (mA), voltages (mV)
    *(18, 19, 20, 21, 22),  # 10-14: PF L1, frequency, VA, PF L2-L3
    *(23, 24, 25),  # 15-17: sin(PA)
    *(81, 82, 83, 84),  # 18-21: post CT/VT
    *(104, 105, 106, 107),  # 22-25: fw 3.10
    *range(185, 200),  # 26-40: fw 3.50
    *range(202, 216),  # 41-54: fw 3.70
    *range(216, 233),  # 55-71: fw 4.0
    *(233, 234, 235),  # 72-74: fw 4.10
    *range(236, 245),  # 75-83: fw 4.30
)
DEFAULT_PRESENT_VALUE_SOURCES: tuple[Source, ...] = tuple(
    SOURCES[i] for i in DEFAULT_PRESENT_VALUE_IDS
)
