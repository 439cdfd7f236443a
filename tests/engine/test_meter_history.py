"""Billing snapshots, event logs, outages, the phase and the relay, read by the poller from the
simulator in-process in virtual time, each against the simulator's truth.

The test plays the broker as tests/engine/test_load_profile_history.py does: it confirms each
event's receipt (the publisher does so on the QoS 1 PUBACK).
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from pathlib import Path

from mepd.drivers.simulator.faults import FaultSettings
from mepd.engine.scripted_source import ScriptedSource
from mepd.engine.state import MeterState, StateFile
from mepd.protocol.tables.event_log import EventLog
from mepd.protocol.tables.names import ENERGY_REGISTERS
from mepd.readings import (
    BillingSnapshotRead,
    Condition,
    ConditionState,
    DisconnectState,
    EventsLost,
    HistoryLog,
    IntervalRecord,
    MeterEventRecord,
    PresentReading,
    RelayState,
    SnapshotKind,
)
from tests.engine.inprocess import START_WALL, Rig, in_virtual_time, served

SERIAL = "SIM-GEN4-0001"
# The load profile's day first (it comes first, `ScriptedSource.yields_to`), then about ten
# history frames a minute, of which five sources take one per `PACE`: all have looked by then.
LOOKED_S = 540.0
EVENTS_S = 240.0  # the event log is the first of them: it has looked by then
Recorded = MeterEventRecord | EventsLost


class Broker:
    """Confirms every record as it arrives (a broker that is up): events, and the load
    profile's intervals, which come first."""

    def __init__(self) -> None:
        self.delivered: list[Recorded] = []
        self._seen = 0

    def take(self, rig: Rig) -> None:
        records = [e for _, e in rig.events if isinstance(e, Recorded | IntervalRecord)]
        for record in records[self._seen :]:
            if record.receipt is not None:
                if not isinstance(record, IntervalRecord):
                    self.delivered.append(record)
                record.receipt.delivered()
        self._seen = len(records)


def _event_log(rig: Rig) -> ScriptedSource:
    (source,) = [q.source for q in rig.poller.history._queues if q.source.name == "event_log"]
    assert isinstance(source, ScriptedSource)
    return source


def _utc(naive: datetime) -> datetime:
    return naive.replace(tzinfo=UTC)


def _logged(rig: Rig) -> list[MeterEventRecord]:
    return [e for e in rig.of(MeterEventRecord) if e.log is not HistoryLog.ET81]


def _assert_events_are_the_truth(rig: Rig, wall: float) -> None:
    history = rig.port.meter.tables.history.events
    truth = sorted(
        (*history.held(EventLog.PRIMARY, wall), *history.held(EventLog.ALTERNATE, wall)),
        key=lambda e: e.sequence,
    )
    got = _logged(rig)
    assert [(e.sequence, e.time, e.code, e.argument) for e in got] == [
        (t.sequence, _utc(t.time), t.code, t.argument) for t in truth
    ]
    assert {e.log for e in got} == {HistoryLog.BT74, HistoryLog.ET79}
    outages = [e for e in rig.of(MeterEventRecord) if e.log is HistoryLog.ET81]
    assert [(o.sequence, o.time, o.end) for o in outages] == [
        (r.sequence, _utc(r.start), _utc(r.end)) for r in history.outage_records()
    ]


def _assert_billing_is_the_truth(rig: Rig, wall: float) -> None:
    billing = rig.port.meter.tables.history.billing
    sequence, when, registers = billing.self_reads(wall)[-1]
    (self_read,) = [s for s in rig.of(BillingSnapshotRead) if s.kind is SnapshotKind.SELF_READ]
    assert self_read.sequence == sequence
    assert self_read.time == datetime.fromtimestamp(when, UTC)
    raws = [m.raw for m in registers.total.summations.items[: len(ENERGY_REGISTERS)]]
    assert [self_read.registers.by_name[name].raw for name in ENERGY_REGISTERS] == raws
    (reset,) = [s for s in rig.of(BillingSnapshotRead) if s.kind is SnapshotKind.DEMAND_RESET]
    assert reset.time == datetime.fromtimestamp(billing.demand_reset(wall)[0], UTC)


def test_history_is_the_simulators_truth_once_and_a_restart_sends_no_event_again(
    tmp_path: Path,
) -> None:
    broker = Broker()
    state = tmp_path / "meter.json"

    async def scenario() -> None:
        async with served(broker, state) as rig:
            await asyncio.sleep(LOOKED_S)
            wall = START_WALL + asyncio.get_running_loop().time()
            _assert_events_are_the_truth(rig, wall)
            _assert_billing_is_the_truth(rig, wall)
            (phase,) = rig.of(ConditionState)  # the scripted phase loss was restored
            assert (phase.condition, phase.on) == (Condition.PHASE_MISSING, False)
            (relay,) = rig.of(RelayState)
            assert relay.state is DisconnectState.CLOSED
            assert rig.of(EventsLost) == []
            assert rig.port.stats.read_rate_violations == 0
            times = rig.at(PresentReading)[1:]
            assert max(b - a for a, b in itertools.pairwise(times)) <= 2.0
            newest = _logged(rig)[-1].sequence
        saved = StateFile(state.with_name(f"{SERIAL}.json")).load().cursors
        assert saved["event_log"] == str(newest)
        assert len(broker.delivered) == len(rig.of(MeterEventRecord))
        async with served(broker, state) as again:
            await asyncio.sleep(EVENTS_S)
            assert _event_log(again).policy.configured  # it looked, and found nothing new
            assert again.of(MeterEventRecord) == []  # every event went out once
            assert again.of(ConditionState)  # status (retained): said again after a start

    in_virtual_time(scenario)


def test_an_overflowed_log_reports_the_lost_range_once(tmp_path: Path) -> None:
    """BT74 shrunk to 5 entries (`event_log_capacity`) while the cursor stood at the first
    event: what the logs no longer hold is one `EventsLost`, then the events still held."""
    broker = Broker()
    state = tmp_path / "meter.json"
    first = 65_530  # event_history.FIRST_SEQUENCE: the cursor after the first event
    cursors = {"event_log": str(first)}
    StateFile(state).save(MeterState(serial=SERIAL, cursors=cursors), 0.0, force=True)
    small = FaultSettings(event_log_capacity=5)

    async def scenario() -> None:
        async with served(broker, state, small) as rig:
            await asyncio.sleep(EVENTS_S)
            wall = START_WALL + asyncio.get_running_loop().time()
            history = rig.port.meter.tables.history.events
            held = {e.sequence for log in EventLog for e in history.held(log, wall)}
            newest = max(held)
            expected = [n for n in range(first + 1, newest + 1) if n not in held]
            (lost,) = rig.of(EventsLost)
            assert lost.log is HistoryLog.EVENT_LOGS
            assert list(range(lost.first, lost.last + 1)) == expected
            assert [e.sequence for e in _logged(rig)] == sorted(n for n in held if n > lost.last)
            assert rig.port.stats.read_rate_violations == 0
        async with served(broker, state, small) as again:
            await asyncio.sleep(EVENTS_S)
            assert _event_log(again).policy.configured
            assert again.of(EventsLost) == []  # said once

    in_virtual_time(scenario)
