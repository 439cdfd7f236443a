"""The never-falls guard for sub-meter registers: gas, water and heat as electricity.

Home Assistant takes a fall of a `total_increasing` sensor for a new meter and a jump for
real consumption, whatever the meter measures. So each cumulative register of an M-Bus
device goes through the electricity meter's `EnergyRegisterGuard` (composed, not copied):
never below the last published value, never above what the device's largest household size
could count since then, nothing a device could not have counted in 50 years. The guard
counts in the register's smallest natural step (litres, Wh) with a "fuse" that is the
device's maximum flow or heat power, so its one-step allowance is one litre or one Wh.

The time between two values is the time between the reads themselves (the meter's read
stamps, corrected to UTC), not when mepd happened to fetch them from the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from mepd.engine.guard import EnergyRegisterGuard, Verdict
from mepd.protocol.mbus.units import MBusUnit, MediumKind, Quantity
from mepd.settings import PlausibilityLimits

# Per register unit: how many guard steps (litres, Wh) one unit is.
STEPS_PER_UNIT: dict[MBusUnit, Decimal] = {
    MBusUnit.CUBIC_METRE: Decimal(1000),  # litres
    MBusUnit.KILOWATT_HOUR: Decimal(1000),  # Wh
    MBusUnit.GIGAJOULE: Decimal(10**9) / Decimal(3600),  # Wh (1 Wh = 3600 J)
}

# The most a household device of each kind passes in an hour, in guard steps, margin included:
# gas G25 (40 m³/h, far above a house's G4/G6) x 1.5; water Q3 16 m³/h (a house has 2.5-4)
# x 1.5; heat and anything else 50 kW x 1.5.
_GAS_L_PER_H = 60_000.0
_WATER_L_PER_H = 24_000.0
_HEAT_WH_PER_H = 75_000.0
MAX_RATE_PER_H: dict[tuple[MediumKind, Quantity], float] = {
    (MediumKind.GAS, Quantity.VOLUME): _GAS_L_PER_H,
    (MediumKind.WATER, Quantity.VOLUME): _WATER_L_PER_H,
    (MediumKind.WARM_WATER, Quantity.VOLUME): _WATER_L_PER_H,
    (MediumKind.HEAT, Quantity.VOLUME): _WATER_L_PER_H,  # the circulating water
}
DEFAULT_RATE_PER_H: dict[Quantity, float] = {
    Quantity.VOLUME: _GAS_L_PER_H,
    Quantity.ENERGY: _HEAT_WH_PER_H,
}


def rate_limits(per_hour: float) -> PlausibilityLimits:
    """Limits whose "fuse" passes `per_hour` guard steps an hour: what `EnergyRegisterGuard`
    bounds a rise with (`max_energy_increase_wh`) and a first value (`lifetime_energy_wh`)."""
    return PlausibilityLimits(main_fuse_a=per_hour, phases=1, nominal_voltage_v=1.0, margin=1.0)


def guarded(quantity: Quantity, unit: MBusUnit) -> bool:
    """Whether a register is a meter reading the guard knows how to bound."""
    return quantity.cumulative and unit in STEPS_PER_UNIT


@dataclass(frozen=True)
class SubMeterFinding:
    """What the guard said of one value; `reason` (None when accepted) in the register's unit."""

    accepted: bool
    reason: str | None = None


@dataclass
class SubMeterRegisterGuard:
    """One cumulative register of one sub-meter, in its own unit; the bounds in guard steps."""

    name: str  # for the log: the sub-meter and the register
    kind: MediumKind
    quantity: Quantity
    unit: MBusUnit
    _guard: EnergyRegisterGuard = field(init=False)
    _published: Decimal | None = field(default=None, init=False)  # exact, as the device said

    def __post_init__(self) -> None:
        rate = MAX_RATE_PER_H.get((self.kind, self.quantity), DEFAULT_RATE_PER_H[self.quantity])
        self._guard = EnergyRegisterGuard(self.name, rate_limits(rate))

    @property
    def last(self) -> tuple[Decimal, float] | None:
        """The last published value and its read time (UTC seconds): what the state file keeps."""
        at_s = self._guard.last_at_s
        return None if self._published is None or at_s is None else (self._published, at_s)

    def seed(self, value: Decimal, at_s: float) -> None:
        """The baseline from the state file: the value published before a restart."""
        self._guard.last_value = float(value * STEPS_PER_UNIT[self.unit])
        self._guard.last_at_s = at_s
        self._published = value

    def check(self, value: Decimal, at_s: float) -> SubMeterFinding:
        steps = STEPS_PER_UNIT[self.unit]
        before = self.last
        finding = self._guard.check(float(value * steps), at_s)
        if finding.verdict is not Verdict.HELD:
            self._published = value
            return SubMeterFinding(True)
        return SubMeterFinding(False, self._reason(value, at_s, before))

    def _reason(self, value: Decimal, at_s: float, before: tuple[Decimal, float] | None) -> str:
        unit = self.unit.value
        if before is None:
            return f"{self.name} = {value} {unit} is no register such a device can have counted"
        last, last_s = before
        if value < last:
            return f"{self.name} went down from {last} {unit} to {value} {unit}"
        hours = (at_s - last_s) / 3600.0
        return (
            f"{self.name} rose from {last} {unit} to {value} {unit} in {hours:.2f} h, "
            f"more than such a device can pass"
        )
