"""What the simulated meter remembers (issue 20), added to its table map in one place.

M-Bus sub-meters (ET14/ET16/ET45/ET57, `mbus_tables.py`), billing snapshots, event and outage
logs and the relay (`history_tables.py`), and the load profile (`load_profile.py`, p.27-31).
All of them are views of the same physics and outage timeline as the live registers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from mepd.drivers.simulator import mep_tables
from mepd.drivers.simulator.history_tables import HistoryTables
from mepd.drivers.simulator.load_profile import LoadProfileSettings, SimLoadProfile
from mepd.drivers.simulator.mbus_tables import MBusTables
from mepd.drivers.simulator.physics import PhysicsModel, Truth
from mepd.drivers.simulator.profiles import MeterProfile
from mepd.protocol.codes import extended_table
from mepd.protocol.tables.bt23 import CurrentRegisterData

ET04, ET54 = extended_table(4), extended_table(54)
LiveTable = Callable[[Truth], bytes]


@dataclass(frozen=True)
class Remembered:
    """The history tables' owners, kept by `MeterTables` for tests' truth."""

    history: HistoryTables
    load_profile: SimLoadProfile


def add_remembered(
    profile: MeterProfile,
    physics: PhysicsModel,
    registers: Callable[[float], CurrentRegisterData],
    static: dict[int, bytearray],
    live: dict[int, LiveTable],
) -> Remembered:
    """Put the history tables into `static` and `live`; ET04 and ET54 get their counts."""
    if profile.mbus is not None:
        mbus = MBusTables(profile.mbus, mep_tables.devices(profile), physics.seed)
        static.update((table, bytearray(data)) for table, data in mbus.static.items())
        for table in mbus.live_tables:
            live[table] = partial(_mbus_live, mbus, table)
    history = HistoryTables(profile, physics, registers)
    live.update(history.live())
    static.update((n, bytearray(data)) for n, data in history.static().items())
    history.patch_et54(static[ET54])
    history.patch_et04(static[ET04])
    settings = profile.load_profile or LoadProfileSettings()
    load_profile = SimLoadProfile(physics, settings, energy_unit=profile.energy_unit)
    if profile.load_profile is not None:  # None: BT61-BT64, ET21, ET66 absent (0x05)
        static.update({n: bytearray(b) for n, b in load_profile.static_tables().items()})
        live.update({n: _at_wall(build) for n, build in load_profile.live_tables().items()})
    return Remembered(history, load_profile)


def _mbus_live(mbus: MBusTables, table: int, truth: Truth) -> bytes:
    return mbus.read(table, truth.wall)


def _at_wall(build: Callable[[float], bytes]) -> LiveTable:
    """A live table that depends on the meter's clock only (the load profile's)."""
    return lambda truth: build(truth.wall)
