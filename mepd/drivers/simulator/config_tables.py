"""BT20 and ET55 as the simulated meter reports them: where its energy unit sits, and which.

A client finds ET55's Energy Register Unit at A + 39, with A from BT20.7 (p.155, p.158), so
the two tables are served together. The simulated meters use every tier they support, so
BT20 (the maximum dimensions, OPG p.20-21) equals BT21. ET55 exists from fw 3.70 here (the
field's first firmware, p.158); an older simulated meter answers a read of it with 0x05, as
for a table it does not have.
"""

from __future__ import annotations

from mepd.drivers.simulator.profiles import MeterProfile
from mepd.protocol.tables.bt21 import encode_bt21
from mepd.protocol.tables.et55 import EnergyRegisterUnit, encode_et55, may_have_energy_unit


def bt20(profile: MeterProfile) -> bytes:
    return encode_bt21(profile.dims)


def et55(profile: MeterProfile) -> bytes | None:
    """Zero but for the Energy Register Unit (p.158); None below fw 3.70."""
    firmware = profile.firmware
    if not may_have_energy_unit(firmware.major, firmware.minor):
        return None
    return encode_et55(
        EnergyRegisterUnit(profile.energy_unit),
        max_tiers=max(profile.dims.tiers, 1),
        gen4=profile.generation >= 4,
    )
