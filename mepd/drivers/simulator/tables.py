"""The simulated meter's tables: static ones built once, live ones from the physics truth.

Every table with a codec in `mepd.protocol.tables` is built with its encoder, so the simulator
and the client share one definition of each layout. The MEP client tables (ET13, ET14,
ET50-ET54, BT07, BT08) are in `mep_tables.py`; BT20 and ET55 in `config_tables.py`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mepd.drivers.simulator import config_tables, mep_tables
from mepd.drivers.simulator.physics import PhysicsModel, Truth
from mepd.drivers.simulator.profiles import MeterProfile
from mepd.drivers.simulator.registers import meter_present_value, meter_summation, summation
from mepd.drivers.simulator.remembered import add_remembered
from mepd.protocol.codes import basic_table, extended_table
from mepd.protocol.tables.bt00 import GeneralConfiguration, encode_bt00
from mepd.protocol.tables.bt01 import ManufacturerInfo, encode_bt01
from mepd.protocol.tables.bt21 import encode_bt21
from mepd.protocol.tables.bt22 import DataSelection, encode_bt22
from mepd.protocol.tables.bt23 import (
    CurrentRegisterData,
    DemandRecord,
    RegisterBlock,
    encode_bt23,
)
from mepd.protocol.tables.bt27 import PresentRegisterSelection, encode_bt27
from mepd.protocol.tables.bt28 import PresentDemand, PresentRegisterData, encode_bt28
from mepd.protocol.tables.bt52 import ClockFlags, UtcClock, encode_bt52
from mepd.protocol.tables.et03 import UtilityInformation, encode_et03
from mepd.protocol.tables.et04 import SystemInformation, encode_et04
from mepd.protocol.tables.et11 import ET11_SIZE, MfgDimensions, encode_et11
from mepd.protocol.tables.et70 import RamOnlyStatus, encode_et70
from mepd.protocol.tables.measurements import Measurement, Measurements
from mepd.protocol.tables.sources import source_for, summation_source

BT00, BT01, BT07, BT08, BT20 = (basic_table(n) for n in (0, 1, 7, 8, 20))
BT21, BT22, BT23, BT27, BT28, BT52 = (basic_table(n) for n in (21, 22, 23, 27, 28, 52))
ET03, ET04, ET11, ET13, ET14 = (extended_table(n) for n in (3, 4, 11, 13, 14))
ET50, ET51, ET52, ET54, ET55 = (extended_table(n) for n in (50, 51, 52, 54, 55))
ET59, ET70 = extended_table(59), extended_table(70)

# Appendix C (p.259-263) and p.13: what each key may write. Reads: every table, either key.
MBK_WRITABLE = frozenset({BT07, ET50, ET51, ET52})
MAK_WRITABLE = MBK_WRITABLE | frozenset({BT23, ET03, ET04, ET13})

ET04_IDT_VERSION = 116  # p.65
ET04_MEP_SEQUENCE_GEN3 = 103  # p.63: UINT32, unused on fw 4.0+
ET04_MEP_SEQUENCES_GEN4 = 129  # p.66: ARRAY[2] of UINT32, one per MEP channel
DEMAND_INTERVAL_S = 900.0


def _utc(wall: float) -> datetime:
    return datetime.fromtimestamp(math.floor(wall), tz=UTC)


@dataclass(frozen=True)
class LiveState:
    """What a live table depends on besides the truth (kept by the meter)."""

    sequence: int
    idt_version: int


class MeterTables:
    """Table bytes by number. `read` returns None for a table this meter does not have."""

    def __init__(self, profile: MeterProfile, physics: PhysicsModel) -> None:
        self.profile = profile
        self.physics = physics
        self._static: dict[int, bytearray] = {
            number: bytearray(build(profile)) for number, build in _STATIC_BUILDERS.items()
        }
        if profile.mep_channel is not None:
            # p.173-174: 0-141 reserved, 142 channel, 143-155 reserved.
            self._static[ET70] = bytearray(encode_et70(RamOnlyStatus(profile.mep_channel)))
        self._static[BT20] = bytearray(config_tables.bt20(profile))
        et55 = config_tables.et55(profile)
        if et55 is not None:
            self._static[ET55] = bytearray(et55)
        self._live: dict[int, Callable[[Truth], bytes]] = {
            BT23: self._bt23,
            BT28: self._bt28,
            BT52: _bt52,
        }
        self._max_demands: dict[int, tuple[int, ...]] = {}
        # What the meter remembers (issue 20), from the same physics: `remembered.py`.
        remembered = add_remembered(
            profile,
            physics,
            lambda t: self._registers(physics.truth_at(t)),
            self._static,
            self._live,
        )
        self.history, self.load_profile = remembered.history, remembered.load_profile

    def exists(self, table: int) -> bool:
        return table in self._static or table in self._live

    def size(self, table: int, truth: Truth) -> int:
        data = self.read(table, truth, LiveState(0, 0))
        return 0 if data is None else len(data)

    def read(self, table: int, truth: Truth, state: LiveState) -> bytes | None:
        live = self._live.get(table)
        if live is not None:
            return live(truth)
        static = self._static.get(table)
        if static is None:
            return None
        if table == ET04:
            return self._et04(static, state)
        return bytes(static)

    def write(self, table: int, offset: int, data: bytes) -> None:
        """p.12: bytes past the table's end are ignored. Live tables ignore writes."""
        static = self._static.get(table)
        if static is None or offset >= len(static):
            return
        end = min(len(static), offset + len(data))
        static[offset:end] = data[: end - offset]

    def _et04(self, static: bytearray, state: LiveState) -> bytes:
        et04 = bytearray(static)
        et04[ET04_IDT_VERSION] = state.idt_version & 0xFF
        if self.profile.generation >= 4:
            channel = (self.profile.mep_channel or 1) - 1
            at = ET04_MEP_SEQUENCES_GEN4 + 4 * channel
        else:
            at = ET04_MEP_SEQUENCE_GEN3
        et04[at : at + 4] = struct.pack("<I", state.sequence)
        return bytes(et04)

    # --- BT23 and BT28 ------------------------------------------------------------------------

    def _bt23(self, truth: Truth) -> bytes:
        return encode_bt23(self._registers(truth), self.profile.dims)

    def _registers(self, truth: Truth) -> CurrentRegisterData:
        profile, dims = self.profile, self.profile.dims
        sources = profile.summation_sources

        def block(tier: int | None) -> RegisterBlock:
            values = Measurements.of(
                Measurement.of(summation_source(i), meter_summation(profile, truth, i, tier))
                for i in sources
            )
            demands = tuple(
                self._demand_record(truth, index, source, tier)
                for index, source in enumerate(profile.demand_sources)
            )
            return RegisterBlock(values, demands)

        return CurrentRegisterData(
            demand_resets=0 if dims.demand_reset_counter else None,
            total=block(None),
            tiers=tuple(block(tier) for tier in range(dims.tiers)),
        )

    def _demand_record(
        self, truth: Truth, index: int, source: int, tier: int | None
    ) -> DemandRecord:
        """Maximum demand over the completed 15-minute intervals (of `tier`, if given).

        The intervals are the clock's quarter hours since the meter started, as a real
        meter's: the event time is an interval's end, a whole minute, which is all an
        STIME_DATE can carry (p.41); a start off the minute changes nothing.
        """
        best, best_end = 0, None
        start_wall = self.physics.start_wall
        first = math.ceil(start_wall / DEMAND_INTERVAL_S)  # the first whole quarter hour
        for interval in range(first, math.floor((start_wall + truth.t) / DEMAND_INTERVAL_S)):
            start = interval * DEMAND_INTERVAL_S - start_wall  # physics time
            if tier is not None and self.physics.tier_at(start) != tier:
                continue
            value = self._interval_demand(interval, index, source)
            if value > best:
                best, best_end = value, (interval + 1) * DEMAND_INTERVAL_S
        dims = self.profile.dims
        when = _utc(best_end) if best_end is not None else None
        return DemandRecord(
            source=source_for(source),
            values=(best,),
            event_times=(when,) if dims.date_time_field else (),
            cumulative=0 if dims.cumulative_demand else None,
            continuous_cumulative=best if dims.continuous_cumulative_demand else None,
        )

    def _interval_demand(self, interval: int, index: int, source: int) -> int:
        cached = self._max_demands.get(interval)
        if cached is None:
            began = interval * DEMAND_INTERVAL_S - self.physics.start_wall  # physics time
            start = self.physics.truth_at(began)
            end = self.physics.truth_at(began + DEMAND_INTERVAL_S)
            cached = tuple(_average_power(start, end, s) for s in self.profile.demand_sources)
            self._max_demands[interval] = cached
        return cached[index]

    def _bt28(self, truth: Truth) -> bytes:
        profile, dims = self.profile, self.profile.dims
        interval_start = (truth.t // DEMAND_INTERVAL_S) * DEMAND_INTERVAL_S
        remaining = timedelta(seconds=math.ceil(interval_start + DEMAND_INTERVAL_S - truth.t))
        start = self.physics.truth_at(interval_start)
        demands = tuple(
            PresentDemand(
                Measurement.of(source_for(s), _average_power(start, truth, s)),
                remaining if dims.time_remaining else None,
            )
            for s in profile.present_demand_sources
        )
        values = Measurements.of(
            Measurement.of(source_for(i), meter_present_value(profile, truth, i))
            for i in profile.present_value_sources
        )
        return encode_bt28(PresentRegisterData(demands, values), dims)


_DEMAND_ENERGY = {8: 0, 9: 1, 10: 2, 11: 3}  # demand source (W/var) -> its energy summation


def _average_power(start: Truth, end: Truth, source: int) -> int:
    """Demand = energy over the interval / its length (Wh x 3600 / s = W)."""
    elapsed = end.t - start.t
    energy_source = _DEMAND_ENERGY.get(source)
    if elapsed < 1.0 or energy_source is None:
        return 0
    delta = summation(end, energy_source) - summation(start, energy_source)
    return round(delta * 3600 / elapsed)


def _bt52(truth: Truth) -> bytes:
    """p.224-225: UTC, no DST or time zone; byte 6 bit 0-2 day of week (0 = Sunday)."""
    moment = _utc(truth.wall)
    flags = ClockFlags(
        day_of_week=(moment.weekday() + 1) % 7,
        dst_in_effect=False,
        gmt=True,
        time_zone_applied=False,
        dst_applied=False,
    )
    return encode_bt52(UtcClock(moment, flags))


# --- static tables -----------------------------------------------------------------------------


def _bt00(profile: MeterProfile) -> bytes:
    """p.196-198; notes §6.2."""
    gen4 = profile.generation >= 4
    return encode_bt00(
        GeneralConfiguration(
            data_order_msb_first=False,
            char_format=1,
            time_format=2,
            data_access_method=1,
            id_format_bcd=False,
            int_format=0,
            ni_format1=8,
            ni_format2=8,
            manufacturer=profile.manufacturer,
            nameplate_type=2,
            default_set_used=0,
            procedure_parameter_length=255,
            response_data_length=12,
            standard_version=1,
            standard_revision=0,
            dim_basic_tables_used=10,
            dim_extended_tables_used=20 if gen4 else 13,
            dim_basic_procedures_used=2,
            dim_extended_procedures_used=12,
            manufacturer_status_length=9,
            pending_tables=4 if gen4 else 3,
        )
    )


def _bt01(profile: MeterProfile) -> bytes:
    """p.198-199, OPG p.19: bytes 14-15 packed x.yy.zz, MSB first; BCD serial after."""
    return encode_bt01(
        ManufacturerInfo(
            manufacturer=profile.manufacturer,
            model=profile.model,
            hardware_version=profile.generation,
            hardware_revision=1,
            firmware=profile.firmware,
            serial_number=profile.serial_number,
        )
    )


def _bt22(profile: MeterProfile) -> bytes:
    dims = profile.dims
    return encode_bt22(
        DataSelection(
            summation_sources=profile.summation_sources,
            demand_sources=profile.demand_sources,
            demand_is_maximum=(True,) * dims.demands,
            coincident_sources=(),
            coincident_demands=(),
        )
    )


def _bt27(profile: MeterProfile) -> bytes:
    return encode_bt27(
        PresentRegisterSelection(profile.present_value_sources, profile.present_demand_sources)
    )


def _et03(profile: MeterProfile) -> bytes:
    """p.55-56: utility serial char[30], image CRC at 137; 143 bytes."""
    return encode_et03(UtilityInformation(profile.utility_serial, image_crc=0x5A17))


# p.63, p.66: the MEP sequence number(s) at 103 / 129 reach to offset 137.
_ET04_SIZE = ET04_MEP_SEQUENCES_GEN4 + 8 + 3


def _et04(profile: MeterProfile) -> bytes:
    """p.56-66: rated values; IDT version (116) and MEP sequence numbers are filled live."""
    info = SystemInformation(
        rated_frequency=50,
        program_id=b"SIMPRG" + bytes((profile.generation, 1)),
        registration_current=0.25,
        max_current=100 if profile.generation >= 4 else 80,
        rated_voltage=230,
        idt_version=0,
        security_mode=0,  # RC4 (p.66)
    )
    return encode_et04(info, size=_ET04_SIZE)


def _et11(profile: MeterProfile) -> bytes:
    """p.77-80: MFG dimensions; fields 32+ exist on fw 4.0+ only (notes §6.12)."""
    gen4 = profile.generation >= 4
    dims = MfgDimensions(
        number_of_devices=6 if gen4 else 5,
        config_entry_size=66,
        status_entry_size=36,
        on_demand_queue_size=5,
        on_demand_entry_size=6,
        data_entry_size=517,
        transaction_request_length=769,
        transaction_response_length=1785,
        on_demand_write_entry_size=25,
        phase_data_size=16,
        config_entry2_size=22,
        group_ids=10,
        harmonics=10,
        mbus_multicast_length=65,
        et22_alarm_size=120,
        mep_data_sources=6,
        et48_entry_count=10,
        critical_event_bitmaps=10,
        et57_entry_count=16,
        relay_switches=80,
        data_alert_sources=10,
        ram_transaction_request_length=261,
        ram_transaction_response_length=769,
        mep_channel_count=2 if gen4 else None,
    )
    return encode_et11(dims, size=ET11_SIZE if gen4 else 32)


_STATIC_BUILDERS: dict[int, Callable[[MeterProfile], bytes]] = {
    BT00: _bt00,
    BT01: _bt01,
    BT07: mep_tables.bt07,
    BT08: mep_tables.bt08,
    BT21: lambda profile: encode_bt21(profile.dims),
    BT22: _bt22,
    BT27: _bt27,
    ET03: _et03,
    ET04: _et04,
    ET11: _et11,
    ET13: mep_tables.et13,
    ET14: mep_tables.et14,
    ET50: mep_tables.et50,
    ET51: mep_tables.et51,
    ET52: mep_tables.et52,
    ET54: mep_tables.et54,
    ET59: mep_tables.bt08,
}
