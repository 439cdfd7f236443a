"""The statistics backfill's intake and its file of pending hours (`ha_pending`).

What the engine sends it: `IntervalRecord`s only count; one the broker has not confirmed comes
again every 30 s and after a restart, and must count once. What a restart keeps: the hours
still waiting for Home Assistant, from a file in the state directory that, damaged, is set
aside with one warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mepd.backoff import Backoff
from mepd.publish.ha_backfill import HourlyEnergy
from mepd.publish.ha_pending import SAVE_EVERY_S, PendingFile, decode, encode
from mepd.publish.ha_statistics import MAX_PENDING_HOURS, StatisticsBackfill
from mepd.publish.ha_websocket import Connection, ConnectionLostError
from mepd.readings import Measurements, PresentReading, Receipt
from tests.publish.ha_standin import StandIn
from tests.publish.test_ha_statistics import (
    NOW,
    SERIAL,
    TOKEN,
    TRUTH,
    dashboard,
    ha_settings,
    hour,
    intervals,
    seed_recorder,
)

REGISTERS = ("energy_import", "energy_export")
QUARTER = timedelta(minutes=15)


@dataclasses.dataclass(frozen=True)
class _LooksLikeAnInterval:
    """A future event with an interval's fields: still not a load-profile interval."""

    meter: str
    start: datetime
    end: datetime
    values: Measurements


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def backfill(
    port: int = 9, path: Path | None = None, clock: _Clock | None = None
) -> StatisticsBackfill:
    return StatisticsBackfill(
        ha_settings(port),
        pending=PendingFile(path) if path else None,
        now=lambda: NOW,
        clock=clock or _Clock(),
    )


def saved(path: Path) -> int:
    """How many intervals the file holds."""
    return sum(len(entry["intervals"]) for entry in json.loads(path.read_text())["statistics"])


def test_only_interval_records_count() -> None:
    subject = backfill()
    first = intervals()[0]
    subject.receive(_LooksLikeAnInterval(SERIAL, first.start, first.end, first.values))  # type: ignore[arg-type]
    subject.receive(PresentReading(SERIAL, first.values, first.start, None))
    assert subject.pending_hours() == 0
    subject.receive(first)
    assert subject.pending_hours() == 1


@pytest.mark.asyncio
async def test_an_interval_sent_again_counts_once_and_never_reopens_its_hour() -> None:
    """The engine emits an unconfirmed interval again (broker away): same start and end."""
    standin = StandIn(TOKEN)
    seed_recorder(standin)
    port = await standin.start()
    try:
        subject = backfill(port)
        for interval in intervals():
            subject.receive(interval)
            subject.receive(dataclasses.replace(interval, receipt=Receipt(lambda: None)))
        assert await subject.sync_once() == 4
        assert dashboard(standin) == pytest.approx(dict(enumerate(TRUTH)))
        assert await subject.sync_once() == 0  # confirmed: every hour done with
        assert subject.pending_hours() == 0
        for interval in intervals():  # the broker is still away: all of them once more
            subject.receive(interval)
        assert subject.pending_hours() == 0
    finally:
        await standin.stop()


def test_an_hour_that_cannot_complete_is_given_up_when_a_later_one_starts() -> None:
    hours = HourlyEnergy()
    assert hours.add(hour(0) + 3 * QUARTER, hour(1), 100)  # mepd started at 00:45
    assert hours.add(hour(1), hour(1) + QUARTER, 100)
    assert hours.hours() == [hour(1)]
    assert hours.finished == hour(0)
    assert not hours.add(hour(0), hour(0) + QUARTER, 100)  # resent: not taken again
    for quarter in range(1, 4):
        assert hours.add(hour(1) + quarter * QUARTER, hour(1) + (quarter + 1) * QUARTER, 100)
    assert hours.add(hour(2), hour(2) + QUARTER, 100)
    assert hours.complete() == {hour(1): 0.4}  # a whole hour is kept


@pytest.mark.asyncio
async def test_a_restart_keeps_the_hours_waiting_for_home_assistant(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ha-statistics.pending.json"
    clock = _Clock()
    before = backfill(path=path, clock=clock)
    for interval in intervals():
        before.receive(interval)
    assert before.save() is None  # the first change: written at once
    assert json.loads(path.read_text())["statistics"][0]["meter"] == SERIAL
    standin = StandIn(TOKEN)
    seed_recorder(standin)
    port = await standin.start()
    try:
        after = backfill(port, path)  # mepd restarted while Home Assistant was away
        assert after.pending_hours() == len(TRUTH)
        for interval in intervals()[-8:]:  # the engine resends what the broker never confirmed
            after.receive(interval)
        assert await after.sync_once() == 4
        assert dashboard(standin) == pytest.approx(dict(enumerate(TRUTH)))
    finally:
        await standin.stop()


def test_writes_are_paced_and_a_failed_one_is_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ha-statistics.pending.json"
    clock = _Clock()
    subject = backfill(path=path, clock=clock)
    records = intervals()
    subject.receive(records[0])
    assert subject.save() is None
    subject.receive(records[1])
    assert subject.save() == pytest.approx(SAVE_EVERY_S)  # not yet: SD card wear
    assert saved(path) == 1
    clock.now += SAVE_EVERY_S
    assert subject.save() is None
    assert saved(path) == 2
    path.unlink()
    path.mkdir()  # the file cannot be replaced now
    caplog.set_level(logging.ERROR)
    for record in records[2:5]:
        subject.receive(record)
        clock.now += SAVE_EVERY_S
        subject.save(force=True)
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert "kept in memory" in caplog.text


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe not JSON", b"[1, 2]", b'{"version": 99, "statistics": []}', b'{"version": 1}'],
)
def test_a_damaged_file_is_set_aside_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    path = tmp_path / "ha-statistics.pending.json"
    path.write_bytes(content)
    caplog.set_level(logging.WARNING)
    assert backfill(path=path).pending_hours() == 0
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "no hours carried over" in caplog.text
    (kept,) = tmp_path.glob("ha-statistics.pending.json.bad-*")
    assert kept.read_bytes() == content
    assert not path.exists()


def test_bad_entries_are_skipped_alone_and_the_bound_holds() -> None:
    hours = HourlyEnergy()
    for n in range(MAX_PENDING_HOURS + 5):
        hours.add(hour(n), hour(n + 1), 1000)
    document = encode({(SERIAL, "energy_import"): hours})
    entry = document["statistics"][0]  # type: ignore[index]
    entry["intervals"] += [["x", 1, 2], [1e300, 1e301, 5], [0, 60, float("nan")], None, [1, 2]]
    document["statistics"] += [{"meter": 5}, "garbage", {"meter": SERIAL, "register": "volts"}]  # type: ignore[operator]
    pending = decode(json.loads(json.dumps(document)), registers=REGISTERS, limit=10)
    (restored,) = pending.values()
    assert restored.hours() == [
        hour(n) for n in range(MAX_PENDING_HOURS - 5, MAX_PENDING_HOURS + 5)
    ]
    assert not restored.add(hour(3), hour(4), 1)  # finished before the bound: not taken again


@settings(max_examples=50, deadline=None)
@given(
    quarters=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 5000)), max_size=60),
    finished=st.none() | st.integers(-5, 60),
)
def test_pending_hours_round_trip(quarters: list[tuple[int, int]], finished: int | None) -> None:
    hours = HourlyEnergy()
    if finished is not None:
        hours.finish([hour(finished)])
    for quarter, wh in sorted(quarters):
        start = hour(0) + quarter * QUARTER
        hours.add(start, start + QUARTER, wh)
    document = json.loads(json.dumps(encode({(SERIAL, "energy_export"): hours})))
    restored = decode(document, registers=REGISTERS, limit=MAX_PENDING_HOURS).get(
        (SERIAL, "energy_export"), HourlyEnergy()
    )
    assert restored.intervals() == hours.intervals()
    assert restored.complete() == hours.complete()
    assert restored.finished == hours.finished
    assert all(moment.tzinfo is UTC for moment, _, _ in restored.intervals())


@pytest.mark.asyncio
async def test_intervals_coming_in_do_not_cut_the_backoff_short() -> None:
    """Home Assistant away while the load profile is read: one try per backoff step, not one
    per interval."""
    tries = 0

    async def refuse(url: str) -> Connection:
        nonlocal tries
        tries += 1
        raise ConnectionLostError(f"cannot connect to {url}")

    subject = StatisticsBackfill(
        ha_settings(9), connect=refuse, now=lambda: NOW, retry=Backoff(0.5, 1.0)
    )
    records = intervals()
    for record in records[:8]:  # two whole hours: work to do
        subject.receive(record)
    task = asyncio.create_task(subject.run())
    try:
        for record in records[8:]:
            await asyncio.sleep(0.01)
            subject.receive(record)
        assert tries == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
