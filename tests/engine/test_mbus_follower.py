"""The M-Bus follower against the gen4-mbus simulator's tables: identities from ET16, every
logged read once, in order, equal to the simulator's truth; a cursor kept across restarts."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC
from decimal import Decimal

import pytest

from mepd.drivers.simulator import mbus as sim
from mepd.drivers.simulator.physics import PhysicsModel
from mepd.drivers.simulator.profiles import GEN4_MBUS, MBUS_SUB_METERS, PROFILES
from mepd.drivers.simulator.tables import LiveState, MeterTables
from mepd.engine.mbus_cursor import MBusCursor, register_id
from mepd.engine.mbus_follower import MBusFollower
from mepd.engine.mbus_source import survey
from mepd.protocol import PartialRead
from mepd.protocol.tables.et36 import plan_et45_dimensions
from mepd.protocol.tables.et45 import ET45_FORMAT
from mepd.protocol.tables.ids import ET14
from mepd.protocol.tables.local_clock import BT53, encode_bt53
from mepd.readings import (
    Event,
    MBusUnit,
    MediumKind,
    Quantity,
    SubMeterIdentity,
    SubMeterReading,
)

SERIAL = "SIM-GEN4-MBUS"
WALL = 1_796_083_200.0 + 5 * 86_400 + 3_700  # 2026-12-06 01:01:40 UTC
GAS, WATER = MBUS_SUB_METERS.devices


class Meter:
    """The profile's tables at a wall time; counts the frames a step sends."""

    def __init__(self, wall: float) -> None:
        physics = PhysicsModel(start_wall=wall)
        self.tables = MeterTables(GEN4_MBUS, physics)
        self.truth = physics.truth_at(0)
        self.frames = 0

    async def read(self, request: PartialRead) -> bytes:
        self.frames += 1
        data = self.tables.read(request.table, self.truth, LiveState(0, 0))
        assert data is not None
        return data[request.offset : request.offset + request.count]


def follow(
    wall: float, cursor: MBusCursor | None = None, *, deliver: bool = True
) -> tuple[list[Event], MBusCursor, int]:
    """Steps until nothing is due, as the history backbone would; returns the events, the
    cursor delivered (every event is delivered at once unless `deliver` is False) and the
    most frames a step took."""
    meter = Meter(wall)
    events: list[Event] = []
    delivered = cursor or MBusCursor()
    follower = MBusFollower(SERIAL, delivered)
    most = 0

    async def run() -> None:
        nonlocal most, delivered
        for _ in range(2000):
            if not follower.has_work(wall):
                return
            meter.frames = 0
            for out in await follower.step(meter.read, wall):
                events.append(out.event)
                if deliver:
                    delivered = out.cursor
            most = max(most, meter.frames)
        raise AssertionError("the follower never rests")

    asyncio.run(run())
    return events, delivered, most


def readings(events: list[Event]) -> list[SubMeterReading]:
    return [e for e in events if isinstance(e, SubMeterReading)]


def as_truth(reading: SubMeterReading) -> tuple[str, float, Decimal]:
    [value] = reading.values
    assert (value.quantity, value.unit) == (Quantity.VOLUME, MBusUnit.CUBIC_METRE)
    return reading.key, reading.read_time.timestamp(), value.value


def truth(wall: float, first: int = 0) -> list[tuple[str, float, Decimal]]:
    return [
        (f"{r.device.manufacturer}{r.device.serial:08d}", float(int(r.wall)), r.volume_m3)
        for r in sim.reads_until(MBUS_SUB_METERS, wall)[first:]
    ]


def test_both_sub_meters_are_identified_and_every_logged_read_published_once() -> None:
    events, cursor, most = follow(WALL)
    identities = [e for e in events if isinstance(e, SubMeterIdentity)]
    assert [(i.slot, i.kind, i.manufacturer, i.mbus_id) for i in identities] == [
        (1, MediumKind.GAS, "ACW", f"{GAS.serial:08d}"),
        (2, MediumKind.WATER, "KAM", f"{WATER.serial:08d}"),
    ]
    assert all(i.meter == SERIAL for i in identities)
    assert all(i.registers == ((Quantity.VOLUME, MBusUnit.CUBIC_METRE),) for i in identities)
    published = readings(events)
    assert [as_truth(r) for r in published] == truth(WALL)  # all 96, oldest first
    assert all(r.read_time.tzinfo is UTC for r in published)
    assert most == 1  # one frame a step: it fits in a gap of the read budget
    assert cursor.sequence == sim.logged_reads(MBUS_SUB_METERS, WALL)
    gas_key = identities[0].key
    assert (
        cursor.baselines[register_id(gas_key, Quantity.VOLUME, MBusUnit.CUBIC_METRE)][0]
        == (truth(WALL)[-2][2])
    )


def test_a_restart_with_the_saved_cursor_publishes_only_the_new_reads() -> None:
    _, cursor, _ = follow(WALL)
    saved = MBusCursor.from_json(cursor.to_json())
    later = WALL + 3 * 3600
    events, after, _ = follow(later, saved)
    assert [as_truth(r) for r in readings(events)] == truth(later)[-6:]  # 3 hours x 2 meters
    assert after.sequence == sim.logged_reads(MBUS_SUB_METERS, later)
    # Nothing new: nothing published again.
    again, _, _ = follow(later, MBusCursor.from_json(after.to_json()))
    assert readings(again) == []


def test_reads_not_committed_are_read_again_after_a_restart() -> None:
    _, cursor, _ = follow(WALL)
    later = WALL + 2 * 3600
    first, kept, _ = follow(later, MBusCursor.from_json(cursor.to_json()), deliver=False)
    second, _, _ = follow(later, kept)
    assert [as_truth(r) for r in readings(second)] == [as_truth(r) for r in readings(first)]
    assert len(readings(second)) == 4


def test_reads_the_meter_no_longer_holds_are_said_once(caplog: pytest.LogCaptureFixture) -> None:
    _, cursor, _ = follow(WALL)
    later = WALL + 3 * 86_400  # 144 new reads; the log holds 96
    with caplog.at_level(logging.WARNING):
        events, _, _ = follow(later, cursor)
    assert [as_truth(r) for r in readings(events)] == truth(later)
    lost = [r.getMessage() for r in caplog.records if "overwritten" in r.getMessage()]
    assert lost == ["48 M-Bus reads were overwritten in the meter before mepd could read them"]


def test_a_register_below_its_published_value_is_held_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, cursor, _ = follow(WALL)
    name = next(k for k in cursor.baselines if k.startswith("ACW"))
    value, at = cursor.baselines[name]
    cursor.baselines[name] = (value + 1000, at)  # as if a glitch had been published
    later = WALL + 24 * 3600  # 24 hourly reads held, not 24 lines
    with caplog.at_level(logging.WARNING):
        events, after, _ = follow(later, cursor)
    keys = [r.key for r in readings(events)]
    assert keys
    assert all(not key.startswith("ACW") for key in keys)
    held = [r for r in caplog.records if "held back" in r.getMessage()]
    assert len(held) == 1
    assert "went down" in held[0].getMessage()
    assert after.baselines[name] == (value + 1000, at)  # the baseline stands


def test_a_malformed_cursor_starts_afresh() -> None:
    assert MBusCursor.from_json(None) == MBusCursor()
    assert MBusCursor.from_json({"sequence": -3, "baselines": {"x": "y"}}) == MBusCursor()
    kept = MBusCursor.from_json({"sequence": 7, "baselines": {"k": ["1.5", 10], "j": [1]}})
    assert kept == MBusCursor(7, {"k": (Decimal("1.5"), 10.0)})


def test_a_meter_without_sub_meters_costs_one_et14_read_a_minute() -> None:
    physics = PhysicsModel(start_wall=WALL)
    tables = MeterTables(PROFILES["gen4"], physics)
    asked: list[PartialRead] = []

    async def read(request: PartialRead) -> bytes:
        asked.append(request)
        data = tables.read(request.table, physics.truth_at(0), LiveState(0, 0))
        assert data is not None
        return data[request.offset : request.offset + request.count]

    async def run() -> list[Event]:
        follower = MBusFollower(SERIAL)
        events: list[Event] = []
        for now in (0.0, 1.0, 30.0, 60.0, 61.0):
            while follower.has_work(now):
                events += [out.event for out in await follower.step(read, now)]
        return events

    assert asyncio.run(run()) == []
    assert [request.table for request in asked] == [ET14, ET14]  # at 0 s and at 60 s


def test_the_cursor_survives_its_text_form() -> None:
    _, cursor, _ = follow(WALL)
    text = cursor.to_text()
    assert len(text) < 500  # two devices; the state file keeps up to 1000 characters
    assert MBusCursor.from_text(text) == cursor
    assert MBusCursor.from_text("{not json") == MBusCursor()
    assert MBusCursor.from_text(None) == MBusCursor()


def test_the_survey_names_each_slots_device() -> None:
    meter = Meter(WALL)
    found = asyncio.run(survey(meter.read, SERIAL))
    assert [(o.slot.slot, o.slot.handle) for o in found] == [(1, GAS.handle), (2, WATER.handle)]
    assert [o.identity.kind if o.identity else None for o in found] == [
        MediumKind.GAS,
        MediumKind.WATER,
    ]


def test_an_entry_that_does_not_decode_is_skipped_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    meter = Meter(WALL)
    dims = asyncio.run(meter.read(plan_et45_dimensions()[0]))
    entry_size = int.from_bytes(dims[2:4], "little")
    bad = ET45_FORMAT.header_bytes + 5 * entry_size  # element 5: its length field garbled
    real = meter.read

    async def garbled(request: PartialRead) -> bytes:
        data = await real(request)
        if request.table == ET45_FORMAT.table and request.offset == bad:
            return b"\xff\xff" + data[2:]
        return data

    meter.read = garbled  # type: ignore[method-assign]
    events: list[Event] = []
    follower = MBusFollower(SERIAL)

    async def run() -> None:
        while follower.has_work(WALL):
            events.extend(out.event for out in await follower.step(meter.read, WALL))

    with caplog.at_level(logging.WARNING):
        asyncio.run(run())
    published = readings(events)
    assert len(published) == len(truth(WALL)) - 1
    assert {as_truth(r) for r in published} < set(truth(WALL))
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 1
    assert "more than its 525" in skipped[0]


def test_the_meters_local_stamps_are_made_utc_with_its_zone() -> None:
    """p.91: an MBR's stamp is local time; BT53 says the meter is an hour ahead of UTC."""
    meter = Meter(WALL)
    real = meter.read

    async def zoned(request: PartialRead) -> bytes:
        if request.table == BT53:
            return encode_bt53(60, 60)[: request.count]  # UTC+1, DST (not in effect) +1 h
        return await real(request)

    meter.read = zoned  # type: ignore[method-assign]
    events: list[Event] = []
    follower = MBusFollower(SERIAL)

    async def run() -> None:
        while follower.has_work(WALL):
            events.extend(out.event for out in await follower.step(meter.read, WALL))

    asyncio.run(run())
    hour = 3600.0
    assert [as_truth(r) for r in readings(events)] == [
        (key, at - hour, value) for key, at, value in truth(WALL)
    ]
