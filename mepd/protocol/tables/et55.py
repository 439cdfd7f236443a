"""ET55 Meter Configuration (0x0837; p.139-160): only the Energy Register Unit.

CT meters on fw 3.70+ (and Control Point/OSGP Modules on 1.20+) can be built to record Wh and
varh in units of 1, 10 or 100; BT23 then counts in that unit (p.158, p.207), and a value of 10
there means 100 Wh with unit 10. All other devices use 1 (p.158).

The field sits after the step tariff thresholds, whose count comes from BT20.7 (the most
tiers the meter supports), so its offset is computed (p.155):

    A = 146 + 4 * (BT20.7 - 1)    meter 3.X, Control Point/OSGP Module
    A = 147 + 4 * (BT20.7 - 1)    meter 4.0+
    Energy Register Unit: UINT8 at A + 39 (p.158)

A client reads that one byte (one partial read, p.8), not the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from mepd.protocol.tables._window import Layout, Window

TABLE = "ET55"
ENERGY_UNITS_ALLOWED = (1, 10, 100)  # p.158: "units of 1, 10 or 100"
_STEP_TARIFF_THRESHOLDS_AT = {False: 146, True: 147}  # p.154-155: 3.X / 4.0+ column
_UINT32 = 4
_ENERGY_REGISTER_UNIT_AFTER_A = 39  # p.158
_FIRST_FIRMWARE = (3, 70)  # p.118, p.158: CT meters on fw 3.70 and higher


def step_tariff_end(max_tiers: int, *, gen4: bool) -> int:
    """A (p.155): the offset after the step tariff thresholds, UINT32[BT20.7 - 1]."""
    if not 1 <= max_tiers <= 255:
        raise ValueError(f"BT20.7 = {max_tiers} tiers: need 1..255")
    return _STEP_TARIFF_THRESHOLDS_AT[gen4] + _UINT32 * (max_tiers - 1)


def energy_unit_offset(max_tiers: int, *, gen4: bool) -> int:
    """Where the Energy Register Unit byte is: A + 39 (p.158)."""
    return step_tariff_end(max_tiers, gen4=gen4) + _ENERGY_REGISTER_UNIT_AFTER_A


def may_have_energy_unit(major: int, minor: int) -> bool:
    """Firmware 3.70+ is where the field appears (p.118, p.158); older meters count in 1 Wh."""
    return (major, minor) >= _FIRST_FIRMWARE


@dataclass(frozen=True)
class EnergyRegisterUnit:
    """The raw byte; `multiplier` is the Wh per count, None if the byte is none of 1, 10, 100."""

    raw: int

    @property
    def multiplier(self) -> int | None:
        return self.raw if self.raw in ENERGY_UNITS_ALLOWED else None


def decode_et55_energy_unit(
    data: bytes, *, offset: int, max_tiers: int, gen4: bool
) -> EnergyRegisterUnit:
    """The Energy Register Unit from a read of ET55 starting at `offset`.

    `max_tiers` is BT20.7 and `gen4` the meter's column (fw 4.0+): together they place it.
    """
    at = energy_unit_offset(max_tiers, gen4=gen4)
    window = Window(TABLE, data, offset, {at: 1})
    raw = window.uint(at, 1)
    assert raw is not None  # Window guarantees the only field is inside
    return EnergyRegisterUnit(raw)


def et55_size(max_tiers: int, *, gen4: bool) -> int:
    """Bytes through the Energy Register Unit: what the simulator's ET55 must at least hold."""
    return energy_unit_offset(max_tiers, gen4=gen4) + 1


def encode_et55(
    unit: EnergyRegisterUnit, *, max_tiers: int, gen4: bool, size: int | None = None
) -> bytes:
    """ET55 with every field 0 but the Energy Register Unit (for the simulator)."""
    at = energy_unit_offset(max_tiers, gen4=gen4)
    table = Layout(TABLE, et55_size(max_tiers, gen4=gen4) if size is None else size)
    table.put_uint(at, 1, unit.raw, "energy register unit")
    return table.bytes()
