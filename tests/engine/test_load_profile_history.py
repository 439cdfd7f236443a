"""Issue 20's "done when" for intervals, in virtual time against the simulator in-process.

The test plays the broker: it confirms each `IntervalRecord`'s receipt (the publisher does so
on the QoS 1 PUBACK) while "up", and drops records while "down", as the publisher does when
the broker is away.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mepd.drivers.simulator.faults import FaultSettings
from mepd.drivers.simulator.profiles import PROFILES
from mepd.engine.history import RESEND_S
from mepd.engine.state import StateFile
from mepd.protocol.tables.ids import BT61
from mepd.readings import DemandPeak, IntervalRecord, PresentReading
from tests.engine.inprocess import START_WALL, Rig, in_virtual_time, running, served

ONE_MINUTE = FaultSettings(lp_interval_min=1, lp_blocks=2, lp_block_intervals=60)


class Broker:
    """Confirms what arrives while up; what arrives while down is lost (never confirmed)."""

    def __init__(self) -> None:
        self.up = True
        self.delivered: list[IntervalRecord] = []
        self._seen = 0

    def take(self, rig: Rig) -> None:
        records = rig.of(IntervalRecord)
        for record in records[self._seen :]:
            if self.up and record.receipt is not None:
                self.delivered.append(record)
                record.receipt.delivered()
        self._seen = len(records)


def _assert_truth(rig: Rig, records: list[IntervalRecord]) -> None:
    lp = rig.port.meter.tables.load_profile
    for record in records:
        expected = lp.expected(lp.interval_at(record.end))
        assert (record.start, record.end) == (expected.start, expected.end)
        assert {m.name: m.value for m in record.values} == expected.energy_wh
        assert set(record.status) == {flag.value for flag in expected.flags}


def _assert_contiguous(records: list[IntervalRecord]) -> None:
    for before, after in itertools.pairwise(records):
        assert after.start == before.end, (before, after)


def _power_gaps(rig: Rig, after_s: float) -> float:
    times = [t for t in rig.at(PresentReading) if t >= after_s]
    return max(b - a for a, b in itertools.pairwise(times))


def test_the_last_day_goes_out_within_60_s_once_and_a_restart_sends_none(tmp_path: Path) -> None:
    broker = Broker()
    state = tmp_path / "meter.json"

    async def scenario() -> None:
        async with served(broker, state) as rig:
            await asyncio.sleep(60)
            records = rig.of(IntervalRecord)
            assert len(records) == 96  # 24 h of 15-minute intervals
            _assert_contiguous(records)
            _assert_truth(rig, records)
            assert records[-1].end == datetime.fromtimestamp(START_WALL - START_WALL % 900, UTC)
            assert rig.port.stats.read_rate_violations == 0
            assert _power_gaps(rig, rig.at(PresentReading)[1]) <= 2.0
            assert rig.of(DemandPeak)  # this month's peak, from the same intervals
        assert len(broker.delivered) == 96
        saved = StateFile(state.with_name("SIM-GEN4-0001.json")).load().cursors
        assert json.loads(saved["load_profile"])["end"] == records[-1].end.isoformat()
        async with served(broker, state) as again:
            await asyncio.sleep(30)  # the next interval closes later
            assert again.of(IntervalRecord) == []

    in_virtual_time(scenario)


def test_a_broker_outage_of_three_intervals_then_exactly_the_missed_ones(tmp_path: Path) -> None:
    broker = Broker()

    async def scenario() -> None:
        async with served(broker, tmp_path / "meter.json", ONE_MINUTE) as rig:
            await asyncio.sleep(150)  # the two hours held, then live
            caught_up = len(broker.delivered)
            broker.up = False
            await asyncio.sleep(200)  # three intervals and more close meanwhile
            lost = len(rig.of(IntervalRecord)) - caught_up
            assert lost >= 3
            broker.up = True
            await asyncio.sleep(RESEND_S + 60)
            delivered = broker.delivered
            assert len({r.end for r in delivered}) == len(delivered)  # none twice
            _assert_contiguous(delivered)
            _assert_truth(rig, delivered)
            newest = rig.port.meter.tables.load_profile.last_closed(START_WALL + 410)
            assert rig.port.meter.tables.load_profile.interval_at(delivered[-1].end) >= newest - 1
            assert rig.port.stats.read_rate_violations == 0

    in_virtual_time(scenario)


def test_a_week_backfills_within_the_read_budget_while_power_keeps_its_period(
    tmp_path: Path,
) -> None:
    broker = Broker()
    state = tmp_path / "SIM-GEN4-0001.json"
    week_ago = datetime.fromtimestamp(START_WALL - START_WALL % 900, UTC) - timedelta(days=7)
    state.write_text(
        json.dumps(
            {
                "version": 1,
                "serial": "SIM-GEN4-0001",
                "cursors": {"load_profile": json.dumps({"end": week_ago.isoformat()})},
            }
        )
    )

    async def scenario() -> None:
        async with served(broker, state) as rig:
            await asyncio.sleep(240)
            records = rig.of(IntervalRecord)
            lp = rig.port.meter.tables.load_profile
            now = START_WALL + asyncio.get_running_loop().time()
            assert len(records) == lp.last_closed(now) - lp.interval_at(week_ago)  # 7 x 96 + 1
            assert records[0].start == week_ago
            _assert_contiguous(records)
            _assert_truth(rig, records[::7])
            assert any(record.status for record in records)  # the outages of that week
            assert rig.port.stats.read_rate_violations == 0
            assert _power_gaps(rig, rig.at(PresentReading)[1]) <= 2.0

    in_virtual_time(scenario)


def test_intervals_the_meter_no_longer_holds_are_reported_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = Broker()
    state = tmp_path / "SIM-GEN4-0001.json"
    long_ago = datetime.fromtimestamp(START_WALL - START_WALL % 60, UTC) - timedelta(hours=5)
    cursor = {"load_profile": json.dumps({"end": long_ago.isoformat()})}
    state.write_text(json.dumps({"version": 1, "serial": "SIM-GEN4-0001", "cursors": cursor}))
    caplog.set_level(logging.WARNING, "mepd.engine.load_profile")

    async def scenario() -> None:
        for _ in range(2):  # a restart does not report it again
            async with served(broker, state, ONE_MINUTE) as rig:
                await asyncio.sleep(90)
                assert rig.port.stats.read_rate_violations == 0
        _assert_contiguous(broker.delivered)

    in_virtual_time(scenario)
    gaps = [r for r in caplog.records if "no longer holds" in r.getMessage()]
    assert len(gaps) == 1
    assert broker.delivered[0].start > long_ago + timedelta(hours=2)


def test_damaged_cursors_are_dropped_not_the_state_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "energy": {"energy_import": [5.0, 1.0]},
                "cursors": {"load_profile": 7, "events": "x" * 5000, "ok": "a"},
            }
        )
    )
    state = StateFile(path).load()
    assert state.energy == {"energy_import": (5.0, 1.0)}
    assert state.cursors == {"ok": "a"}
    path.write_text(json.dumps({"version": 1, "cursors": ["not", "a", "map"]}))
    assert StateFile(path).load().cursors == {}


def test_a_meter_without_a_load_profile_is_asked_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """p.29: a meter may keep none; BT61 is refused (0x05), power is read as ever."""
    monkeypatch.setitem(PROFILES, "gen4", dataclasses.replace(PROFILES["gen4"], load_profile=None))
    caplog.set_level(logging.INFO, "mepd.engine.load_profile")

    async def scenario() -> None:
        async with running("gen4") as rig:
            asked: list[int] = []
            read = rig.poller.session.read

            async def counting(request, **options):  # type: ignore[no-untyped-def]
                asked.append(request.table)
                return await read(request, **options)

            rig.poller.session.read = counting  # type: ignore[method-assign]
            await asyncio.sleep(90)
            assert asked.count(BT61) == 1
            assert rig.of(IntervalRecord) == []
            assert _power_gaps(rig, rig.at(PresentReading)[1]) <= 2.0

    in_virtual_time(scenario)
    assert any("offers no load profile" in r.getMessage() for r in caplog.records)
