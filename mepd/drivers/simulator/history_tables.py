"""The history tables a simulated meter serves: billing snapshots, event logs, outage log, relay.

One object per meter, built by `MeterTables`, holding the truth the tests compare with
(`billing`, `events`). Which tables a profile has follows the firmware: ET79 and ET81 came
with fw 3.70 (p.181, p.185); ET46 and ET23.94 only matter on a meter with a disconnect relay
(p.99, p.121).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from datetime import UTC, datetime

from mepd.drivers.simulator.billing_history import BillingHistory
from mepd.drivers.simulator.event_history import ALTERNATE_ENTRIES, POWER_CYCLES, EventHistory
from mepd.drivers.simulator.physics import PhysicsModel, Truth
from mepd.drivers.simulator.profiles import MeterProfile
from mepd.protocol.tables.bt01 import FirmwareVersion
from mepd.protocol.tables.bt23 import CurrentRegisterData
from mepd.protocol.tables.event_log import ET54_ET79_ENTRIES, EventLog
from mepd.protocol.tables.ids import BT25, BT26, BT71, BT74, ET09, ET23, ET46, ET79, ET81
from mepd.protocol.tables.local_clock import BT53, BT55, encode_bt53, encode_bt55
from mepd.protocol.tables.power_quality import ET04_POWER_CYCLES
from mepd.protocol.tables.relay import (
    DISCONNECT_STATUS_OFFSET,
    ControlOutput,
    DisconnectControl,
    DisconnectState,
    encode_et46,
)

ET23_SIZE = 186  # p.99: fw 3.X, reserved to 185 (218 on fw 4.0+)
ET23_SIZE_GEN4 = 218
_FW_370 = FirmwareVersion(3, 70, 0)


def _naive(wall: float) -> datetime:
    return datetime.fromtimestamp(math.floor(wall), tz=UTC).replace(tzinfo=None)


class HistoryTables:
    def __init__(
        self,
        profile: MeterProfile,
        physics: PhysicsModel,
        registers_at: Callable[[float], CurrentRegisterData],
    ) -> None:
        self.profile = profile
        self.fw370 = profile.firmware >= _FW_370
        self.billing = BillingHistory(profile, physics.start_wall, registers_at)
        self.events = EventHistory(physics.start_wall, physics.seed, alternate=self.fw370)
        self.relay_state = DisconnectState.CLOSED

    def live(self) -> dict[int, Callable[[Truth], bytes]]:
        tables: dict[int, Callable[[Truth], bytes]] = {
            BT25: lambda truth: self.billing.bt25(truth.wall),
            BT26: lambda truth: self.billing.bt26(truth.wall),
            BT71: lambda truth: self.events.bt71(),
            BT74: lambda truth: self.events.log_table(EventLog.PRIMARY, truth.wall),
            ET09: lambda truth: self.events.et09(truth.wall),
            # The simulator's local clock is UTC (BT53: no zone, no DST), as its snapshots say.
            BT55: lambda truth: encode_bt55(_naive(truth.wall)),
        }
        if self.fw370:
            tables[ET79] = lambda truth: self.events.log_table(EventLog.ALTERNATE, truth.wall)
            tables[ET81] = lambda truth: self.events.et81()
        if self.profile.disconnect_relay:
            tables[ET23] = lambda truth: self._et23()
        return tables

    def static(self) -> dict[int, bytes]:
        tables = {BT53: encode_bt53(0, 0)}
        if not self.profile.disconnect_relay:
            return tables
        output = ControlOutput(DisconnectControl.POWER, 0 if self.fw370 else None)
        data = encode_et46(output)
        return {**tables, ET46: data if self.fw370 else data[:13]}

    def patch_et54(self, et54: bytearray) -> None:
        """ET54.80 says how big ET79 is (fw 3.70+; 0: no alternate log)."""
        if self.fw370 and len(et54) >= ET54_ET79_ENTRIES + 2:
            et54[ET54_ET79_ENTRIES : ET54_ET79_ENTRIES + 2] = struct.pack("<H", ALTERNATE_ENTRIES)

    def patch_et04(self, et04: bytearray) -> None:
        """ET04.53: how many power cycles ET09 records (p.58)."""
        et04[ET04_POWER_CYCLES] = POWER_CYCLES

    def _et23(self) -> bytes:
        size = ET23_SIZE_GEN4 if self.profile.generation >= 4 else ET23_SIZE
        data = bytearray(size)
        data[DISCONNECT_STATUS_OFFSET] = int(self.relay_state)
        return bytes(data)
