"""The history policies one step at a time against the simulator's tables (no link, no poller):
the header read again after the entries (p.108), a meter without a table, local times."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from mepd.drivers.simulator.factory import simulated_meter
from mepd.drivers.simulator.profiles import PROFILES
from mepd.drivers.simulator.tables import LiveState
from mepd.engine.history import Found
from mepd.engine.meter_now import Relay
from mepd.engine.meter_records import EventLogs, OutageLog
from mepd.engine.scripted_source import Policy, ScriptedSource
from mepd.protocol import PartialRead
from mepd.protocol.codes import ResponseCode
from mepd.protocol.errors import ResponseError
from mepd.protocol.tables.event_log import EventLog
from mepd.protocol.tables.ids import BT74
from mepd.protocol.tables.local_clock import BT53, encode_bt53
from mepd.readings import MeterEventRecord
from tests.engine.inprocess import START_WALL

NOW = datetime.fromtimestamp(START_WALL + 10, UTC)


class Tables:
    """Reads straight from a simulated meter's tables; a table it lacks is refused."""

    def __init__(self, profile: str) -> None:
        self.meter = simulated_meter(PROFILES[profile], start_wall=START_WALL, seed=1).meter
        self.asked: list[PartialRead] = []
        self.before_read: dict[int, int] = {}  # table -> its read that `hook` runs before
        self.hook: Callable[[], object] = lambda: None

    async def read(self, request: PartialRead) -> bytes:
        self.asked.append(request)
        if self.before_read.get(request.table) == sum(
            1 for r in self.asked if r.table == request.table
        ):
            self.hook()
        data = self.meter.tables.read(request.table, self.meter.truth_at(10.0), LiveState(0, 0))
        if data is None or request.offset + request.count > len(data):
            raise ResponseError(ResponseCode.OPERATION_NOT_POSSIBLE)
        return data[request.offset : request.offset + request.count]


def drain(source: ScriptedSource, tables: Tables, now: datetime = NOW) -> list[Found]:
    async def steps() -> list[Found]:
        found: list[Found] = []
        for _ in range(100):
            if not source.has_work(now):
                break
            found += await source.step(tables.read, now)
        return found

    return asyncio.run(steps())


def source(policy: Policy) -> ScriptedSource:
    scripted = ScriptedSource(policy)
    scripted.adopt("SIM", None)
    return scripted


def sequences(found: Sequence[Found]) -> list[int]:
    return [f.event.sequence for f in found if isinstance(f.event, MeterEventRecord)]


def test_a_log_that_moved_while_read_is_read_again_at_once() -> None:
    tables = Tables("gen4")
    history = tables.meter.tables.history.events
    policy = EventLogs()
    logs = source(policy)
    drain(logs, tables)  # everything held so far
    wall = START_WALL + 10
    history.log_live(wall, random.Random(1))  # a voltage sag: the alternate log (ET79)
    # The next look reads BT74's header, ET79's header and new entry, then BT74's header
    # again: a phase loss (BT74) is logged just before that second header read.
    tables.before_read = {BT74: 2 + sum(1 for r in tables.asked if r.table == BT74)}
    tables.hook = lambda: history.log_live(wall, random.Random(2))
    later = NOW + timedelta(minutes=2)
    found = asyncio.run(_until_done(logs, tables, later))
    assert found == []
    assert policy.again
    assert logs.has_work(later)  # at once, not after a minute
    tables.hook = lambda: None
    again = drain(logs, tables, later)
    newest = max(e.sequence for log in EventLog for e in history.logged(log))
    assert sequences(again) == [newest - 1, newest]


async def _until_done(logs: ScriptedSource, tables: Tables, now: datetime) -> list[Found]:
    found: list[Found] = []
    while True:
        found += await logs.step(tables.read, now)
        if logs._run is None:
            return found


def test_a_meter_without_a_relay_is_asked_once() -> None:
    tables = Tables("gen3")  # no disconnect relay
    relay = source(Relay())
    assert drain(relay, tables) == []
    assert not relay.offered
    assert not relay.has_work(NOW + timedelta(days=1))
    assert len(tables.asked) == 1


def test_outage_times_are_local_minus_the_zone() -> None:
    tables = Tables("gen4")
    tables.meter.tables.write(BT53, 0, encode_bt53(60, 0))  # UTC+1, no DST
    found = drain(source(OutageLog()), tables)
    truth = tables.meter.tables.history.events.outage_records()
    assert [f.event.time for f in found if isinstance(f.event, MeterEventRecord)] == [
        (r.start - timedelta(hours=1)).replace(tzinfo=UTC) for r in truth
    ]
