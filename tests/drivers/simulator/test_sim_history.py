"""The simulator's history tables decode, through the client's planners, to its own truth."""

from __future__ import annotations

import random
from datetime import UTC

import pytest

from mepd.drivers.simulator.event_history import ALTERNATE_ENTRIES, OUTAGE_ENTRIES
from mepd.drivers.simulator.outages import outages_between
from mepd.drivers.simulator.physics import PhysicsModel
from mepd.drivers.simulator.profiles import PROFILES, MeterProfile
from mepd.drivers.simulator.tables import LiveState, MeterTables
from mepd.protocol.frames import PartialRead
from mepd.protocol.tables.billing import (
    decode_bt25,
    decode_bt26_status,
    decode_self_read,
    plan_bt25,
    plan_self_reads,
    self_reads_after,
)
from mepd.protocol.tables.event_log import (
    EventBatch,
    EventLog,
    LogRead,
    decode_alternate_entries,
    decode_bt71,
    decode_log_status,
    events_after,
    log_layout,
    plan_alternate_entries,
    plan_events_after,
)
from mepd.protocol.tables.ids import BT25, BT26, BT71, BT74, ET04, ET23, ET46, ET54, ET79, ET81
from mepd.protocol.tables.lists import SMALL_LIST, fitted, plan_newest, sequence_at, split_entries
from mepd.protocol.tables.names import ENERGY_REGISTERS
from mepd.protocol.tables.outage_log import decode_et81_status, decode_outage, et81_layout
from mepd.protocol.tables.power_quality import decode_et09, plan_et09
from mepd.protocol.tables.relay import (
    DisconnectState,
    decode_disconnect_status,
    decode_et46,
    plan_disconnect_status,
)
from tests.drivers.simulator.conftest import MakeClient

START = 1_796_500_000.0  # 2026-12-06 04:26:40 UTC
HOUR = 3600.0


class Reader:
    """Reads a simulated meter's tables the way a client does: planned partial reads."""

    def __init__(self, profile: MeterProfile, start: float = START, seed: int = 3) -> None:
        self.profile = profile
        self.physics = PhysicsModel(seed, start, profile.physics_tiers, profile.load)
        self.tables = MeterTables(profile, self.physics)
        self.t = 5.0

    def read(self, read: PartialRead) -> bytes:
        data = self.tables.read(read.table, self.physics.truth_at(self.t), LiveState(0, 0))
        assert data is not None, f"table {read.table} missing"
        assert read.offset + read.count <= len(data)
        return data[read.offset : read.offset + read.count]

    def log(self, log: EventLog, entries: int, after: int | None) -> LogRead:
        layout = log_layout(
            log, entries, decode_bt71(self.read(PartialRead(BT71, 0, 9))).history_data_length
        )
        status = decode_log_status(log, self.read(layout.status_read()))
        plan = plan_events_after(layout, status, after)
        return LogRead.of(log, layout, status, [(item, self.read(item.read)) for item in plan])

    def events(self, after: int | None = None) -> EventBatch:
        primary = decode_bt71(self.read(PartialRead(BT71, 0, 9))).history_entries
        logs = [self.log(EventLog.PRIMARY, primary, after)]
        if self.tables.exists(ET79):
            alternate = decode_alternate_entries(self.read(plan_alternate_entries()))
            logs.append(self.log(EventLog.ALTERNATE, alternate, after))
        return events_after(after, logs)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_self_reads_and_demand_reset_are_the_truth_and_never_above_the_registers(name: str) -> None:
    reader = Reader(PROFILES[name])
    dims, sources = reader.profile.dims, reader.profile.summation_sources
    unit = reader.profile.energy_unit
    status = decode_bt26_status(reader.read(PartialRead(BT26, 0, 6)))
    due = self_reads_after(dims, status, None)
    assert (due.new, due.lost) == (dims.self_reads, 0)
    plan = plan_self_reads(dims, status, due.new)
    sequences = [sequence_at(status, due.new - 1 - k, SMALL_LIST) for k in range(len(plan))]
    snapshots = [
        decode_self_read(reader.read(item.read), dims, sequence, sources, unit)
        for item, sequence in zip(plan, sequences, strict=True)
    ]
    truth = reader.tables.history.billing.self_reads(reader.physics.start_wall + reader.t)
    assert [(s.sequence, s.time.replace(tzinfo=UTC).timestamp()) for s in snapshots] == [
        (seq, when) for seq, when, _ in truth
    ]
    assert all(s.time.hour == s.time.minute == 0 for s in snapshots)  # midnight (UTC here)
    live = reader.tables._registers(reader.physics.truth_at(reader.t)).total.summations
    for register in ENERGY_REGISTERS:
        counts = [s.registers.by_name[register].raw for s in snapshots]
        assert counts == sorted(counts)  # never falls from one self-read to the next
        assert counts[-1] <= live.by_name[register].raw
        assert counts[0] < counts[-1] or register != ENERGY_REGISTERS[0]
    for snapshot, (_, _, registers) in zip(snapshots, truth, strict=True):
        raws = [m.raw for m in registers.total.summations.items[: len(ENERGY_REGISTERS)]]
        assert [m.raw for m in snapshot.registers] == raws
    reset = decode_bt25(reader.read(plan_bt25(dims)), dims, sources, unit)
    assert (reset.time.day, reset.time.hour, reset.time.minute) == (1, 0, 0)  # monthly reset
    same = [s for s in snapshots if s.time == reset.time]  # 2026-12-01 00:00 is a self-read too
    assert len(same) == 1
    assert same[0].registers == reset.registers


def test_self_reads_after_a_cursor_and_the_day_they_were_lost() -> None:
    reader = Reader(PROFILES["gen3"])
    status = decode_bt26_status(reader.read(PartialRead(BT26, 0, 6)))
    assert self_reads_after(reader.profile.dims, status, status.last_sequence - 2).new == 2
    away = self_reads_after(reader.profile.dims, status, status.last_sequence - 15)
    assert (away.new, away.lost) == (12, 3)


@pytest.mark.parametrize("name", ["gen3", "gen4", "fw-350"])
def test_event_logs_hold_every_outage_and_the_script_in_one_sequence(name: str) -> None:
    reader = Reader(PROFILES[name])
    batch = reader.events()
    history = reader.tables.history.events
    truth = sorted(
        [*history.logged(EventLog.PRIMARY), *history.logged(EventLog.ALTERNATE)],
        key=lambda e: e.sequence,
    )
    assert [(e.log, e.sequence, e.code, e.argument) for e in batch.events] == [
        (e.log, e.sequence, e.code, e.argument) for e in truth
    ]
    assert [e.time for e in batch.events] == [e.time for e in truth]
    sequences = [e.sequence for e in batch.events]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))  # no gap
    assert sequences[-1] > 0xFFFF  # the entries' 2-byte numbers wrapped on the way
    outages = outages_between(START - 10 * 86_400, START, 3)
    downs = [e.time.timestamp() for e in batch.events if e.meaning.name == "power_down"]
    assert len(downs) == len([o for o in outages if o.end <= START]) > 0
    assert (name == "fw-350") == all(e.log is EventLog.PRIMARY for e in batch.events)
    assert batch.lost == ()
    assert reader.events(batch.newest).events == ()


def test_the_outage_log_is_the_outage_timeline() -> None:
    reader = Reader(PROFILES["gen3"])
    status = decode_et81_status(reader.read(PartialRead(ET81, 0, 6)))
    layout = fitted(et81_layout(OUTAGE_ENTRIES), status)  # ET36 unread: sized by the header
    records = [
        decode_outage(raw)
        for item in plan_newest(layout, status, status.valid)
        for _, raw in split_entries(layout, item, reader.read(item.read))
    ]
    expected = [o for o in outages_between(START - 10 * 86_400, START, 3) if o.end <= START]
    assert [
        (r.start.replace(tzinfo=UTC).timestamp(), r.end.replace(tzinfo=UTC).timestamp())
        for r in records
    ] == [(float(int(o.start)), float(int(o.end))) for o in expected]
    assert len(records) == status.valid > 0


def test_a_small_log_overflows_and_the_lost_range_is_reported_once() -> None:
    reader = Reader(PROFILES["gen3"])
    cursor = reader.events().newest
    assert cursor is not None
    history = reader.tables.history.events
    history.set_primary_entries(4)
    rng = random.Random(1)
    for _ in range(12):
        history.log_live(reader.physics.start_wall + reader.t, rng)
    batch = reader.events(cursor)
    status = decode_log_status(EventLog.PRIMARY, reader.read(PartialRead(BT74, 0, 11)))
    assert status.overflow
    assert decode_bt71(reader.read(PartialRead(BT71, 0, 9))).history_entries == 4
    primary = [e.sequence for e in history.logged(EventLog.PRIMARY)][-4:]
    alternate = [e.sequence for e in history.logged(EventLog.ALTERNATE) if e.sequence > cursor]
    assert [e.sequence for e in batch.events] == sorted(primary + alternate)
    assert batch.lost_count == 12 - 4 - len(alternate)
    assert reader.events(batch.newest).lost == ()


def test_live_events_come_from_the_event_rate_fault(make_client: MakeClient) -> None:
    client = make_client("gen3")
    port = client.port
    before = len(port.meter.tables.history.events.logged(EventLog.PRIMARY))
    port.set_faults(event_rate=1.0)
    for _ in range(10):
        client.request(PartialRead(BT74, 0, 11))
    after = port.meter.tables.history.events
    assert len(after.logged(EventLog.PRIMARY)) + len(after.logged(EventLog.ALTERNATE)) > before


def test_the_relay_of_a_meter_that_has_one() -> None:
    reader = Reader(PROFILES["gen4"])
    assert decode_disconnect_status(reader.read(plan_disconnect_status())) is DisconnectState.CLOSED
    assert decode_et46(reader.read(PartialRead(ET46, 0, 23))).prepay_negative_credit_wh == 0
    assert not Reader(PROFILES["gen3"]).tables.exists(ET46)
    assert not Reader(PROFILES["gen3"]).tables.exists(ET23)
    assert Reader(PROFILES["gen3"]).tables.exists(BT25)
    assert (
        int.from_bytes(Reader(PROFILES["gen3"]).read(PartialRead(ET54, 80, 2)), "little")
        == ALTERNATE_ENTRIES
    )


def test_power_quality_tells_the_same_story_as_the_logs() -> None:
    reader = Reader(PROFILES["gen3"])
    records = reader.read(PartialRead(ET04, 53, 1))[0]
    quality = decode_et09(reader.read(plan_et09(records)), records)
    outages = reader.tables.history.events.outage_records()
    assert [c.power_off for c in quality.cycles] == [o.start for o in reversed(outages)]
    assert quality.phase_lost_now == (False, False, False)  # the scripted loss was restored
    assert quality.phase_losses[1].count == 1
    assert (quality.sags[0].count, quality.surges[2].count) == (1, 1)
    history = reader.tables.history.events
    rng = random.Random(0)
    history.log_live(reader.physics.start_wall + reader.t, rng)  # a sag
    history.log_live(reader.physics.start_wall + reader.t, rng)  # L3 lost
    later = decode_et09(reader.read(plan_et09(records)), records)
    assert later.phase_lost_now == (False, False, True)
