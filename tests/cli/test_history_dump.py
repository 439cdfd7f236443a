"""`mepd dump BT25|BT26|BT74|ET79|ET81|ET46`: decoded through the planners, against the truth."""

from __future__ import annotations

import time

import pytest

from mepd.cli.history_dump import (
    EventLogDump,
    OutageLogDump,
    SelfReadDump,
    read_history,
)
from mepd.cli.table_dump import describe, dump_table
from mepd.drivers.gpio import NoLinkControl
from mepd.drivers.serial import SerialPort
from mepd.drivers.simulator.driver import PtyMeter
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.physics import PhysicsModel
from mepd.drivers.simulator.profiles import PROFILES
from mepd.drivers.simulator.tables import LiveState, MeterTables
from mepd.protocol import MepKey
from mepd.protocol.frames import MAX_READ_COUNT
from mepd.protocol.tables.billing import BillingSnapshot
from mepd.protocol.tables.bt21 import ActualRegister
from mepd.protocol.tables.event_log import EventLog
from mepd.protocol.tables.ids import BT25, BT26, BT74, ET09, ET46, ET79, ET81
from mepd.protocol.tables.power_quality import PowerQuality
from mepd.protocol.tables.relay import ControlOutput

START = 1_796_500_000.0


class TablesReader:
    """`table_dump._Reader`'s surface over a simulated meter's tables, in process."""

    def __init__(self, profile: str = "gen4") -> None:
        self.profile = PROFILES[profile]
        physics = PhysicsModel(1, START, self.profile.physics_tiers, self.profile.load)
        self.tables = MeterTables(self.profile, physics)
        self.truth = physics.truth_at(2.0)
        self.reads = 0

    async def bytes(self, table: int, offset: int, count: int) -> bytes:
        assert 1 <= count <= MAX_READ_COUNT
        self.reads += 1
        data = self.tables.read(table, self.truth, LiveState(0, 0))
        assert data is not None
        return data[offset : offset + count]

    async def dims(self) -> ActualRegister:
        return self.profile.dims


@pytest.mark.asyncio
async def test_billing_dumps() -> None:
    reader = TablesReader()
    _header, reset = await read_history(reader, BT25)
    assert isinstance(reset, BillingSnapshot)
    assert len(reset.registers) == reader.profile.dims.summations
    _, self_reads = await read_history(reader, BT26)
    assert isinstance(self_reads, SelfReadDump)
    assert len(self_reads.snapshots) == reader.profile.dims.self_reads == 12
    truth = reader.tables.history.billing.self_reads(reader.truth.wall)
    assert [s.sequence for s in self_reads.snapshots] == [seq for seq, _, _ in truth]
    lines = describe(self_reads)
    assert any(line.startswith("snapshots.11.registers.energy_import ") for line in lines)
    assert any(line.rstrip().endswith(" Wh") for line in lines)


@pytest.mark.asyncio
async def test_event_and_outage_log_dumps() -> None:
    reader = TablesReader()
    _, primary = await read_history(reader, BT74)
    _, alternate = await read_history(reader, ET79)
    assert isinstance(primary, EventLogDump)
    assert isinstance(alternate, EventLogDump)
    history = reader.tables.history.events
    assert [e.sequence for e in primary.events] == [
        e.sequence for e in history.logged(EventLog.PRIMARY)
    ]
    assert [e.category for e in alternate.events] == ["voltage_quality", "voltage_quality"]
    assert any("Primary power down" in line for line in describe(primary))
    _, quality = await read_history(reader, ET09)
    assert isinstance(quality, PowerQuality)
    assert len(quality.cycles) == len(history.outage_records())
    _, outages = await read_history(reader, ET81)
    assert isinstance(outages, OutageLogDump)
    assert [o.start for o in outages.outages] == [o.start for o in history.outage_records()]


@pytest.mark.asyncio
async def test_dump_over_a_pty_reads_bt74_and_et46() -> None:
    """One real-port run: the session's pacing, the verified bytes and the decoded entries."""
    port = simulated_meter(PROFILES["gen4"], epoch=time.monotonic(), start_wall=time.time())
    key = MepKey.parse(DEMO_MBK)
    async with PtyMeter(port) as pty:
        dump = await dump_table(SerialPort(pty.path), NoLinkControl(), key, BT74)
        relay = await dump_table(SerialPort(pty.path), NoLinkControl(), key, ET46)
    assert isinstance(dump.decoded, EventLogDump)
    assert len(dump.data) == 11  # the header; the entries are decoded
    assert len(dump.decoded.events) == dump.decoded.status.valid > 0
    assert isinstance(relay.decoded, ControlOutput)
