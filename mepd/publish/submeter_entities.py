"""The entities of an M-Bus sub-meter (issue 20): one device per sub-meter, via the meter.

Kept apart from `catalog.py`'s electricity entities; the keys are `catalog.SubMeterKey`.
"""

from __future__ import annotations

from mepd.publish.catalog import EntitySpec, SubMeterKey
from mepd.readings import MBusUnit, MediumKind, Quantity

# Each register by what the device measures, as the Energy dashboard wants it: gas in m³ with
# device class gas, water in m³ with device class water, heat in kWh or GJ with device class
# energy (HA's gas units: m³, ft³, CCF; water: m³, L, gal, ft³, CCF; energy: kWh, GJ, ...).
# A heat meter's volume is the water it circulated, no consumption: device class volume.
SUB_METER_NAMES: dict[MediumKind, str] = {
    MediumKind.GAS: "Gas meter",
    MediumKind.WATER: "Water meter",
    MediumKind.WARM_WATER: "Warm water meter",
    MediumKind.HEAT: "Heat meter",
    MediumKind.ELECTRICITY: "Electricity sub-meter",
    MediumKind.OTHER: "M-Bus meter",
}
_REGISTERS: dict[tuple[MediumKind, Quantity], tuple[str, str]] = {
    (MediumKind.GAS, Quantity.VOLUME): ("Gas", "gas"),
    (MediumKind.WATER, Quantity.VOLUME): ("Water", "water"),
    (MediumKind.WARM_WATER, Quantity.VOLUME): ("Warm water", "water"),
    (MediumKind.HEAT, Quantity.ENERGY): ("Heat", "energy"),
}
_OTHER_REGISTERS: dict[Quantity, tuple[str, str]] = {
    Quantity.VOLUME: ("Volume", "volume"),
    Quantity.ENERGY: ("Energy", "energy"),
}
# Digits Home Assistant shows: litres for volumes, Wh for kWh, MJ for GJ.
_SUB_METER_PRECISION: dict[MBusUnit, int] = {
    MBusUnit.CUBIC_METRE: 3,
    MBusUnit.KILOWATT_HOUR: 3,
    MBusUnit.GIGAJOULE: 3,
}

SUB_METER_READ_AT = EntitySpec(
    SubMeterKey.READ_AT, "Last read", "mbus", device_class="timestamp", diagnostic=True
)


def sub_meter_register(kind: MediumKind, quantity: Quantity, unit: MBusUnit) -> EntitySpec:
    """A cumulative register's entity: `total_increasing` (the guard keeps it from falling)."""
    name, device_class = _REGISTERS.get((kind, quantity)) or _OTHER_REGISTERS[quantity]
    return EntitySpec(
        SubMeterKey(quantity.value),
        name,
        "mbus",
        device_class=device_class,
        unit=unit.value,
        state_class="total_increasing",
        display_precision=_SUB_METER_PRECISION.get(unit),
    )
