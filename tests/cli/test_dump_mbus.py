"""`mepd dump` of the M-Bus tables: ET14 through a pty, the rest against the simulator's tables."""

from __future__ import annotations

import time

import pytest

from mepd.cli.mbus_dump import (
    NEWEST_ENTRIES,
    DataTypes,
    DeviceData,
    RecurringLog,
    decode_mbus,
    mbus_size,
    plan_reader,
    read_recurring_log,
)
from mepd.cli.table_dump import describe, dump_table
from mepd.drivers.gpio import NoLinkControl
from mepd.drivers.serial import SerialPort
from mepd.drivers.simulator import mbus as sim
from mepd.drivers.simulator.driver import PtyMeter
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.physics import PhysicsModel
from mepd.drivers.simulator.profiles import GEN4_MBUS, MBUS_SUB_METERS
from mepd.drivers.simulator.tables import LiveState, MeterTables
from mepd.protocol import MepKey
from mepd.protocol.mbus import Quantity
from mepd.protocol.tables.et14 import DeviceStatusTable
from mepd.protocol.tables.ids import ET14, ET16, ET57

KEY = MepKey.parse(DEMO_MBK)
SETUP = MBUS_SUB_METERS
WALL = 1_796_083_200.0 + 5 * 86_400 + 3_700


@pytest.mark.asyncio
async def test_dump_et14_reads_the_size_et11_gives() -> None:
    port = simulated_meter(GEN4_MBUS, epoch=time.monotonic(), start_wall=time.time())
    async with PtyMeter(port) as pty:
        dump = await dump_table(SerialPort(pty.path), NoLinkControl(), KEY, ET14)
    assert isinstance(dump.decoded, DeviceStatusTable)
    assert len(dump.data) == 6 + 6 * 36
    assert [slot.handle for slot in dump.decoded.devices] == [101, 102]


class FakeReads:
    def __init__(self) -> None:
        physics = PhysicsModel(start_wall=WALL)
        self.tables = MeterTables(GEN4_MBUS, physics)
        self.truth = physics.truth_at(0)
        self.reads = 0

    async def read(self, table: int, offset: int, count: int) -> bytes:
        self.reads += 1
        data = self.tables.read(table, self.truth, LiveState(0, 0))
        assert data is not None
        return data[offset : offset + count]


@pytest.mark.asyncio
async def test_dump_et16_and_et57_decode_the_sub_meters() -> None:
    fake = FakeReads()
    size = await mbus_size(ET16, fake.read)
    assert size == 6 * 517
    data = await decode_mbus(ET16, await fake.read(ET16, 0, size), fake.read)
    assert isinstance(data, DeviceData)
    lines = [line.split() for line in describe(data)]
    assert ["entries.0.telegrams.0.identity.manufacturer", "ACW"] in lines
    assert ["entries.1.telegrams.0.values.0.quantity", "VOLUME"] in lines
    size = await mbus_size(ET57, fake.read)
    types = await decode_mbus(ET57, await fake.read(ET57, 0, size or 0), fake.read)
    assert isinstance(types, DataTypes)
    assert [t.mdt for t in types.types] == [1, 2, 3]


@pytest.mark.asyncio
async def test_dump_et45_reads_the_newest_entries_like_a_client() -> None:
    fake = FakeReads()
    log = await read_recurring_log(plan_reader(fake.read))
    assert isinstance(log, RecurringLog)
    assert fake.reads == 2 + NEWEST_ENTRIES  # dimensions, header, one read per short entry
    truth = sim.reads_until(SETUP, WALL)[-NEWEST_ENTRIES:]
    got = []
    for entry in log.entries:
        assert entry.read is not None
        assert entry.read.telegram is not None
        volume = entry.read.telegram.first(Quantity.VOLUME)
        assert volume is not None
        got.append((entry.handle, volume.value))
    assert got == [(read.device.handle, read.volume_m3) for read in truth]
