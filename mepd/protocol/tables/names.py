"""The value names mepd's own logic depends on, as identifiers from one definition.

The source table (`sources.py`, p.203-220) names every value a meter can report; the guard's
cross-checks, the poller's choice of energy registers and the publisher's entity catalog refer
to some of them by name. They use these members, never string literals, so a renamed source
breaks at import or in `tests/protocol/tables/test_names.py` instead of silently switching a
check off. `ValueName` is a `StrEnum`: a member equals its name string, which is what
`Measurement.name` carries and what topics and entity ids are built from.
"""

from __future__ import annotations

from enum import StrEnum

PHASES = (1, 2, 3)


class ValueName(StrEnum):
    # Present values (BT28 through BT27, p.209-220): net three-phase totals first.
    POWER_IMPORT = "power_import"
    POWER_EXPORT = "power_export"
    APPARENT_POWER = "apparent_power"
    FREQUENCY = "frequency"
    REACTIVE_POWER_IMPORT = "reactive_power_import"
    REACTIVE_POWER_EXPORT = "reactive_power_export"
    VOLTAGE_L1 = "voltage_l1"
    VOLTAGE_L2 = "voltage_l2"
    VOLTAGE_L3 = "voltage_l3"
    CURRENT_L1 = "current_l1"
    CURRENT_L2 = "current_l2"
    CURRENT_L3 = "current_l3"
    CURRENT_NEUTRAL = "current_neutral"
    POWER_FACTOR_L1 = "power_factor_l1"
    POWER_FACTOR_L2 = "power_factor_l2"
    POWER_FACTOR_L3 = "power_factor_l3"
    POWER_IMPORT_L1 = "power_import_l1"
    POWER_IMPORT_L2 = "power_import_l2"
    POWER_IMPORT_L3 = "power_import_l3"
    POWER_EXPORT_L1 = "power_export_l1"
    POWER_EXPORT_L2 = "power_export_l2"
    POWER_EXPORT_L3 = "power_export_l3"
    REACTIVE_POWER_IMPORT_L1 = "reactive_power_import_l1"
    REACTIVE_POWER_IMPORT_L2 = "reactive_power_import_l2"
    REACTIVE_POWER_IMPORT_L3 = "reactive_power_import_l3"
    REACTIVE_POWER_EXPORT_L1 = "reactive_power_export_l1"
    REACTIVE_POWER_EXPORT_L2 = "reactive_power_export_l2"
    REACTIVE_POWER_EXPORT_L3 = "reactive_power_export_l3"
    # Energy registers (BT23 through BT22, p.203-208): the home owner's dashboard.
    ENERGY_IMPORT = "energy_import"
    ENERGY_EXPORT = "energy_export"
    REACTIVE_ENERGY_IMPORT = "reactive_energy_import"
    REACTIVE_ENERGY_EXPORT = "reactive_energy_export"


def per_phase(prefix: str) -> tuple[ValueName, ValueName, ValueName]:
    """The L1, L2, L3 members of `prefix` ("voltage" → VOLTAGE_L1..L3); KeyError if absent."""
    l1, l2, l3 = (ValueName(f"{prefix}_l{phase}") for phase in PHASES)
    return l1, l2, l3


VOLTAGES = per_phase("voltage")
CURRENTS = per_phase("current")
POWER_FACTORS = per_phase("power_factor")
POWERS_IMPORT = per_phase("power_import")
POWERS_EXPORT = per_phase("power_export")
REACTIVE_POWERS_IMPORT = per_phase("reactive_power_import")
REACTIVE_POWERS_EXPORT = per_phase("reactive_power_export")
ENERGY_REGISTERS = (
    ValueName.ENERGY_IMPORT,
    ValueName.ENERGY_EXPORT,
    ValueName.REACTIVE_ENERGY_IMPORT,
    ValueName.REACTIVE_ENERGY_EXPORT,
)
"""The registers a home owner's dashboard wants; by default BT23 summations 0-3 (p.208)."""
