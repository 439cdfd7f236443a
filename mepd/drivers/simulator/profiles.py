"""The meters the simulator can be: gen3 (fw 3.7x, shared UART) and gen4 (fw 4.x, two MEPs).

Each profile fixes what a real meter of that generation reports in its dimension tables, so
a client that sizes its reads from BT21 gets the layout the guide describes for it (p.202,
p.207, p.216-220; notes §9).
"""

from __future__ import annotations

from dataclasses import dataclass

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
) -> ActualRegister:
    return ActualRegister(
        season_info=False,
        date_time_field=demand_flags,
        demand_reset_counter=demand_flags,
        demand_reset_lock=False,
        cumulative_demand=demand_flags,
        continuous_cumulative_demand=demand_flags,
        time_remaining=demand_flags,
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

    @property
    def summation_sources(self) -> tuple[int, ...]:
        return DEFAULT_SUMMATION_IDS[: self.dims.summations]

    @property
    def present_value_sources(self) -> tuple[int, ...]:
        return DEFAULT_PRESENT_VALUE_IDS[: self.dims.present_values]


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
)

PROFILES = {profile.name: profile for profile in (GEN3, GEN4)}
