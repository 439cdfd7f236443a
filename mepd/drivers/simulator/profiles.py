"""The meters the simulator can be: a zoo of documented layouts, each citing the guide.

Each profile fixes what a real meter of that kind reports in its dimension tables, so a client
that sizes its reads from BT21 gets the layout the guide describes for it (p.202, p.207,
p.216-220; notes §9), and what it measures (`LoadSettings`), so its values look like that
meter's. `PROFILES` names every profile; each one's comment cites the pages its layout follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from mepd.drivers.simulator.load_profile import LoadProfileSettings
from mepd.drivers.simulator.mbus import GAS_PATTERN, WATER_PATTERN, MBusSetup, SubMeter
from mepd.drivers.simulator.physics import LoadSettings
from mepd.protocol.tables.bt01 import FirmwareVersion
from mepd.protocol.tables.bt21 import ActualRegister
from mepd.protocol.tables.sources import DEFAULT_PRESENT_VALUE_IDS, DEFAULT_SUMMATION_IDS


def _dims(
    *,
    summations: int,
    tiers: int,
    present_values: int,
    demands: int = 0,
    occurrences: int = 0,
    present_demands: int = 0,
    demand_flags: bool = False,
    time_remaining: bool | None = None,
    demand_reset_counter: bool | None = None,
) -> ActualRegister:
    return ActualRegister(
        season_info=False,
        date_time_field=demand_flags,
        demand_reset_counter=demand_flags if demand_reset_counter is None else demand_reset_counter,
        demand_reset_lock=False,
        cumulative_demand=demand_flags,
        continuous_cumulative_demand=demand_flags,
        time_remaining=demand_flags if time_remaining is None else time_remaining,
        self_read_inhibit_overflow=False,
        self_read_sequence_number=True,
        daily_self_read=True,
        weekly_self_read=False,
        self_read_demand_reset=0,
        self_reads=12,
        summations=summations,
        demands=demands,
        coincident_values=0,
        occurrences=occurrences,
        tiers=tiers,
        present_demands=present_demands,
        present_values=present_values,
    )


@dataclass(frozen=True)
class MeterProfile:
    name: str
    generation: int
    manufacturer: str  # BT00.3 / BT01.0: "NES " or "ELON" (p.197)
    model: str  # BT01.4, 8 characters
    firmware: FirmwareVersion
    serial_number: str  # BT01.16, 16 BCD digits
    utility_serial: str  # ET03.0
    dims: ActualRegister
    demand_sources: tuple[int, ...] = ()  # BT22 demand select (source ids)
    present_demand_sources: tuple[int, ...] = ()  # BT27 present demand select
    # p.20: on gen 2/3 the optical port steals the UART shared with MEP.
    shares_uart_with_optical: bool = False
    # p.23, p.173: ET70.142, 1 = MEP1, 2 = MEP2; None: ET70 does not exist (fw 3.x).
    mep_channel: int | None = None
    load: LoadSettings = field(default_factory=LoadSettings)
    # Tariff tiers the meter's calendar uses; None: all of BT21.7. 1: single-rate, so tier
    # blocks 2.. stay zero (p.210-211).
    tariff_tiers: int | None = None
    energy_unit: int = 1  # ET55 Energy Register Unit, Wh per BT23 count (p.158, p.207)
    ct_ratio: int = 1  # primary / secondary: BT28 values lack it unless "post CT/VT" (p.215)
    signed_power_factor: bool = False  # PF < 0 on a phase that exports
    present_value_ids: tuple[int, ...] | None = None  # BT27; None: the default order (p.216)
    disconnect_relay: bool = False  # ET46 (p.121) and ET23.94 (p.99) describe its contactor
    description: str = ""  # one line for `mepd simulate --help`, with the guide's pages
    mbus: MBusSetup | None = None  # M-Bus sub-meters (ET14, ET16, ET36, ET45, ET57; p.25-33)
    # Data set 1 of the load profile (p.27-31, p.233-241): 15-minute intervals, 8 day blocks.
    # None: a meter without one (before fw 3.50 it is optional, p.29), BT61-BT64 absent.
    load_profile: LoadProfileSettings | None = field(default_factory=LoadProfileSettings)

    @property
    def summation_sources(self) -> tuple[int, ...]:
        return DEFAULT_SUMMATION_IDS[: self.dims.summations]

    @property
    def present_value_sources(self) -> tuple[int, ...]:
        if self.present_value_ids is not None:
            return self.present_value_ids
        return DEFAULT_PRESENT_VALUE_IDS[: self.dims.present_values]

    @property
    def physics_tiers(self) -> int:
        return self.dims.tiers if self.tariff_tiers is None else self.tariff_tiers


# fw 3.72: 11 summations without demand (p.207), 4 tiers, 55 present values (fw 3.70+, p.219).
# BT23 = 5 x 44 = 220 bytes: fits one read, as DabblerDK issue #2's real full read showed.
GEN3 = MeterProfile(
    name="gen3",
    generation=3,
    manufacturer="NES ",
    model="83331-3I",
    firmware=FirmwareVersion(3, 72, 5),
    serial_number="0000031234567890",
    utility_serial="SIM-GEN3-0001",
    dims=_dims(summations=11, tiers=4, present_values=55),
    shares_uart_with_optical=True,
    description="fw 3.72 three-phase, 11 summations x 4 tiers, 55 values (p.207, p.219)",
)

# fw 4.32: 19 summations (p.202), 4 demands with times and cumulatives, 8 tiers (fw 3.7x+),
# 84 present values (fw 4.30, p.220). BT23 = 1 + 9 x (76 + 4 x 17) = 1297 bytes: far over
# the 465 a single read can return (p.8, notes §11), so only partial reads get it.
GEN4 = MeterProfile(
    name="gen4",
    generation=4,
    manufacturer="ELON",
    model="83334-3I",
    firmware=FirmwareVersion(4, 32, 2),
    serial_number="0000041234567890",
    utility_serial="SIM-GEN4-0001",
    dims=_dims(
        summations=19,
        tiers=8,
        present_values=84,
        demands=4,
        occurrences=1,
        present_demands=4,
        demand_flags=True,
    ),
    demand_sources=(8, 9, 10, 11),
    present_demand_sources=(8, 9, 10, 11),
    mep_channel=1,
    disconnect_relay=True,
    description="fw 4.32, 19 summations x 8 tiers, 4 demands, 84 values (p.202, p.220)",
)


# Denmark's 83331-3I on fw 3.84: 55 present values (fw 3.70+, p.216-219), 11 summations
# without demand (p.207-209) x (total + 4 tiers, p.210-211), single-rate, so tier 1 holds all
# the energy and tiers 2-4 stay zero. L1 feeds in (a battery inverter) while L2 and L3 draw:
# forward and reverse on different phases at once, and the L1L2L3 totals are net of phases
# (p.216: Fwd/Rev W L1L2L3 vs per-phase Fwd/Rev W from fw 3.50). Its power factor carries the
# direction: negative on the exporting phase.
DK_83331 = MeterProfile(
    name="dk-83331",
    generation=3,
    manufacturer="NES ",
    model="83331-3I",
    firmware=FirmwareVersion(3, 84, 1),
    serial_number="0000038333100001",
    utility_serial="SIM-DK-83331",
    dims=_dims(summations=11, tiers=4, present_values=55),
    shares_uart_with_optical=True,
    load=LoadSettings(
        base_load_w=(150.0, 300.0, 250.0),
        solar_peak_w=6000.0,
        solar_phases=(),
        always_exporting=(0,),
    ),
    tariff_tiers=1,
    signed_power_factor=True,
    description=(
        "Danish 83331-3I fw 3.84: 55 values, 11 summations x 4 tiers single-rate, net totals, "
        "signed PF, L1 exporting while L2/L3 import (p.207-211, p.216-219)"
    ),
)

# A commercial load on current transformers (BT15 CT ratio, p.207): BT23 includes the ratio
# and counts in ET55's Energy Register Unit, 10 or 100 Wh (fw 3.70+, p.158, p.207); BT28
# values lack the ratio except the "post CT/VT" ones, sources 81-84 and 191-199 (p.215-218).
# Its ceiling rate (physics.py) stays under what an 80 A class meter could pass, 55 kW, so the
# registers' rise between runs is never above physics either.
_CT_LOAD = LoadSettings(
    base_load_w=(1500.0, 1800.0, 1400.0),
    appliance_w=4500.0,
    appliance_chance=0.4,
    solar_peak_w=0.0,
    solar_phases=(),
)


def _ct(name: str, unit: int, ratio: int, serial: str) -> MeterProfile:
    return MeterProfile(
        name=name,
        generation=3,
        manufacturer="NES ",
        model="83331-3C",
        firmware=FirmwareVersion(3, 72, 5),
        serial_number=serial,
        utility_serial=f"SIM-CT{unit}-0001",
        dims=_dims(summations=11, tiers=4, present_values=55),
        shares_uart_with_optical=True,
        load=_CT_LOAD,
        energy_unit=unit,
        ct_ratio=ratio,
        description=(
            f"CT-connected fw 3.72, ratio {ratio}:1, ET55 energy unit {unit} Wh, BT23 post "
            "CT/VT, BT28 secondary except sources 81-84, 191-199 (p.158, p.207, p.215-218)"
        ),
    )


CT_10 = _ct("ct-10", 10, 40, "0000038333200010")
CT_100 = _ct("ct-100", 100, 80, "0000038333200100")

# p.216-219: a single-phase meter reports the L1 quantities and the L1L2L3 totals (which are
# L1's); BT27 lists what it has, in the default order (p.214). 11 summations x 4 tiers.
_SINGLE_PHASE_IDS = (
    *(8, 9, 10, 11, 12, 15, 18, 19, 20, 23),  # 0-17, L1 only
    *(81, 82, 83, 84),  # 18-21: post CT/VT
    *(104, 105, 106, 107),  # 22-25: fw 3.10
    *(185, 188, 191, 194, 197),  # 26-40: L1 of fw 3.50's per-phase values
    *(202, 205, 208, 209, 210, 213),  # 41-54: L1 of fw 3.70's
)
SINGLE_PHASE = MeterProfile(
    name="single-phase",
    generation=3,
    manufacturer="NES ",
    model="83331-1I",
    firmware=FirmwareVersion(3, 72, 5),
    serial_number="0000018333100001",
    utility_serial="SIM-1PH-0001",
    dims=_dims(summations=11, tiers=4, present_values=len(_SINGLE_PHASE_IDS)),
    shares_uart_with_optical=True,
    load=LoadSettings(base_load_w=(400.0, 0.0, 0.0), active_phases=1),
    present_value_ids=_SINGLE_PHASE_IDS,
    description=(
        "single-phase fw 3.72: L1 values only in BT27 (29 of them), 11 summations x 4 tiers "
        "(p.207, p.214-219)"
    ),
)

# Below fw 3.70: 41 present values (fw 3.50, p.216-218), so BT28 ends at the post CT/VT
# per-phase values and has no continuous or average ones (p.218-219); no ET55 energy unit
# (fw 3.70+, p.158): the meter counts whole Wh.
FW_350 = MeterProfile(
    name="fw-350",
    generation=3,
    manufacturer="NES ",
    model="83331-3I",
    firmware=FirmwareVersion(3, 50, 2),
    serial_number="0000033500000001",
    utility_serial="SIM-FW350-0001",
    dims=_dims(summations=11, tiers=4, present_values=41),
    shares_uart_with_optical=True,
    description="fw 3.50: the 41-value BT28 prefix, no ET55 energy unit (p.158, p.213-218)",
)

# Demand configured on fw 3.72: BT21.0.2 puts the demand reset count first in BT23 (A = 1,
# p.207), two demand records follow the summations (p.208-210), and BT28 begins with two
# present demands, each a 3-byte time remaining (BT21.0.6) and a value, so the present values
# start at (3 + 4) x 2 = 14 (p.215). Sources 104-107 need demand on fw 3.X (p.206).
DEMANDS = MeterProfile(
    name="demands",
    generation=3,
    manufacturer="NES ",
    model="83331-3I",
    firmware=FirmwareVersion(3, 72, 5),
    serial_number="0000038333100002",
    utility_serial="SIM-DMD-0001",
    dims=_dims(
        summations=11,
        tiers=4,
        present_values=55,
        demands=2,
        occurrences=1,
        present_demands=2,
        time_remaining=True,
        demand_reset_counter=True,
    ),
    demand_sources=(8, 9),
    present_demand_sources=(8, 9),
    shares_uart_with_optical=True,
    description=(
        "fw 3.72 with 2 demands: BT23 starts with the reset count, BT28 values start after "
        "2 timed present demands (p.207-210, p.215)"
    ),
)

# The Gen 4 meter with a gas meter in M-Bus slot 1 and a water meter in slot 2 (p.25-27), read
# hourly since 2023-11-14 into a 96-entry ET45 of 525-byte entries (ET36 defaults, p.108): the
# log's sequence number passes 65535 and starts again in 2027 (p.120: never reset).
MBUS_SUB_METERS = MBusSetup(
    devices=(
        SubMeter(1, 101, 52_604_301, "ACW", 0x14, 0x03, 2_600.0, 1_250_000.0, GAS_PATTERN),
        SubMeter(2, 102, 71_123_402, "KAM", 0x1B, 0x07, 320.0, 180_000.0, WATER_PATTERN),
    ),
    commissioned=1_699_920_000.0,  # 2023-11-14 00:00 UTC
)
GEN4_MBUS = replace(
    GEN4,
    name="gen4-mbus",
    serial_number="0000041234567891",
    utility_serial="SIM-GEN4-MBUS",
    mbus=MBUS_SUB_METERS,
    description="fw 4.32 with M-Bus gas (slot 1) and water (slot 2) meters, hourly ET45 (p.25-33)",
)

PROFILES = {
    profile.name: profile
    for profile in (GEN3, GEN4, DK_83331, CT_10, CT_100, SINGLE_PHASE, FW_350, DEMANDS, GEN4_MBUS)
}
