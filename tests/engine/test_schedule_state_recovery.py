"""Schedule budget, state file and recovery ladder: the daemon's small rules."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from mepd.backoff import Backoff
from mepd.engine.recovery import PORT_RETRY_BACKOFF, WRONG_KEY_BACKOFF, RecoveryLadder, Step
from mepd.engine.state import MeterState, StateFile, StateStore
from mepd.engine.timetable import Timetable
from mepd.errors import ConfigError
from mepd.settings import Schedule


def test_default_schedule_is_within_the_vendors_budget() -> None:
    schedule = Schedule()
    schedule.validate()
    assert schedule.reads_per_second() < 0.8  # p.51: <= 1 read/s, with headroom for retries
    assert schedule.present_s <= 2.0  # fresher than the community modules' 1-2 s


def test_a_greedy_schedule_is_refused_with_an_explanation() -> None:
    with pytest.raises(ConfigError) as caught:
        Schedule(present_s=1.0, energy_s=2.0).validate()
    message = str(caught.value)
    assert "1.50 tables per second" in message
    assert "p.51" in message
    assert "present_s" in message


def test_multi_chunk_tables_count_against_the_budget() -> None:
    Schedule(present_s=2.5).validate(present_reads=1)
    with pytest.raises(ConfigError):
        Schedule(present_s=2.5).validate(present_reads=2)


def test_state_round_trips_and_is_written_atomically(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "meter.json"
    state_file = StateFile(path, min_interval_s=300)
    state = MeterState(serial="5706567000001", energy={"energy_import": (1234.0, 1e9)})
    assert state_file.save(state, now_s=1000.0)
    assert not state_file.save(state, now_s=1100.0)  # rate limited: the SD card wears
    assert state_file.save(state, now_s=1100.0, force=True)
    loaded = StateFile(path).load()
    assert loaded.serial == "5706567000001"
    assert loaded.energy == {"energy_import": (1234.0, 1e9)}
    assert [p.name for p in path.parent.iterdir()] == ["meter.json"]


@pytest.mark.parametrize(
    "content", ["{not json", json.dumps({"version": 99}), json.dumps({"version": 1, "energy": 5})]
)
def test_a_damaged_state_file_starts_fresh(tmp_path: Path, content: str) -> None:
    path = tmp_path / "meter.json"
    path.write_text(content)
    assert StateFile(path).load() == MeterState()


def test_ladder_with_a_hat_power_cycles_first() -> None:
    ladder = RecoveryLadder(can_power_cycle=True)
    steps = [ladder.next_step() for _ in range(5)]
    assert steps == [Step.POWER_CYCLE, Step.REOPEN, Step.BACKOFF, Step.BACKOFF, Step.BACKOFF]
    assert ladder.backoff_attempt == 3
    assert ladder.succeeded()
    assert ladder.next_step() is Step.POWER_CYCLE
    assert ladder.counts[Step.BACKOFF] == 3


def test_ladder_without_gpio_skips_the_power_cycle() -> None:
    ladder = RecoveryLadder(can_power_cycle=False)
    assert [ladder.next_step() for _ in range(3)] == [Step.REOPEN, Step.BACKOFF, Step.BACKOFF]


def test_backoff_grows_and_caps() -> None:
    rng = random.Random(1)
    delays = [Backoff(1.0, 30.0, jitter=0.0).delay(n, rng) for n in range(8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert all(d <= 60.0 * 1.1 for d in (PORT_RETRY_BACKOFF.delay(n, rng) for n in range(20)))


def test_wrong_key_backoff_allows_only_a_handful_of_requests_a_minute() -> None:
    # Three quick tries reveal the wrong key; after that the first wait alone is 30 s.
    assert WRONG_KEY_BACKOFF.delay(0, random.Random(0)) >= 27.0


def test_an_older_state_file_with_a_sequence_number_still_loads(tmp_path: Path) -> None:
    # Versions before this one saved the last sequence number; it is no longer kept.
    path = tmp_path / "meter.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "serial": "5706567000001",
                "energy": {"energy_import": [1234.0, 1e9]},
                "last_sequence": 12345,
                "security": "tls",
            }
        )
    )
    loaded = StateFile(path).load()
    assert loaded == MeterState(
        serial="5706567000001", energy={"energy_import": (1234.0, 1e9)}, security="tls"
    )
    StateFile(path).save(loaded, now_s=0.0, force=True)
    assert "last_sequence" not in json.loads(path.read_text())


def test_a_new_meter_on_the_port_starts_a_new_baseline(caplog: pytest.LogCaptureFixture) -> None:
    saved = MeterState(serial="A", energy={"energy_import": (1.0, 2.0)}, security="tls")
    assert saved.for_meter("A") is saved
    fresh = saved.for_meter("B")
    assert fresh == MeterState(serial="B")
    assert "this port now has meter B, the state file had A" in caplog.text
    first = MeterState()
    assert first.for_meter("C") is first
    assert first.serial == "C"


def test_a_state_file_that_cannot_be_written_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = StateStore(blocker / "meter.json")  # its folder cannot be created
    store.save(now_s=0.0, force=True)
    assert "cannot write the state file" in caplog.text
    StateStore(None).save(now_s=0.0, force=True)  # no file configured: nothing to do


def test_the_timetable_reads_what_is_due_first_and_never_catches_up() -> None:
    timetable = Timetable.of(Schedule(present_s=2.0, energy_s=10.0, clock_s=60.0))
    timetable.start(now=100.0)
    assert timetable.next() == ("present", 100.0)  # a tie goes to the present values
    timetable.taken("present", now=100.0)
    assert timetable.next() == ("energy", 100.0)
    timetable.taken("energy", now=100.0)
    assert timetable.next() == ("clock", 100.0)
    timetable.taken("clock", now=100.0)
    assert timetable.next() == ("present", 102.0)
    timetable.taken("present", now=150.0)  # late by 48 s: the next turn is now, not 24 old ones
    assert timetable.next() == ("energy", 110.0)
    timetable.taken("energy", now=150.0)
    assert timetable.next() == ("present", 150.0)
