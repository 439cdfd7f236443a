"""A schedule the meter's layout makes too fast slows down; it never stops the poll loop.

Reproduces issue 18 item 5: `Schedule.validate` raised `ConfigError` inside `Poller.run()` once
the meter's dimensions were known, `mepd run` exited 78, and the unit never restarts from that,
so every meter stopped. The load-time check (one read per table) stays; what only the meter can
tell (several partial reads per table, p.8) now stretches the periods within p.51's budget.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from mepd.drivers.gpio import NoLinkControl
from mepd.drivers.serial import SerialPort
from mepd.drivers.simulator.driver import PtyMeter
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.profiles import PROFILES
from mepd.engine.poller import Poller
from mepd.errors import ConfigError
from mepd.protocol import MepKey
from mepd.protocol.timing import MAX_AVERAGE_READS_PER_S
from mepd.readings import Event, PresentReading
from mepd.settings import BUDGET_HEADROOM, MeterSettings, Schedule

ALLOWED = MAX_AVERAGE_READS_PER_S * BUDGET_HEADROOM


def test_a_schedule_within_the_budget_is_kept() -> None:
    schedule = Schedule()
    assert schedule.fitted(1, 1) is schedule


@pytest.mark.parametrize(("present_reads", "energy_reads"), [(2, 1), (1, 3), (3, 2), (5, 5)])
def test_a_layout_with_more_reads_stretches_both_periods_into_the_budget(
    present_reads: int, energy_reads: int
) -> None:
    schedule = Schedule(present_s=1.5, energy_s=8.0)
    schedule.validate(1, 1)  # what the configuration check accepted
    with pytest.raises(ConfigError):
        schedule.validate(present_reads, energy_reads)
    fitted = schedule.fitted(present_reads, energy_reads)
    rate = fitted.reads_per_second(present_reads, energy_reads)
    assert rate <= ALLOWED
    assert rate == pytest.approx(ALLOWED, rel=0.01)
    stretch = fitted.present_s / schedule.present_s
    assert stretch == pytest.approx(fitted.energy_s / schedule.energy_s, rel=0.01)
    assert fitted.clock_s == schedule.clock_s
    fitted.validate(present_reads, energy_reads)


@pytest.mark.asyncio
async def test_the_poll_loop_reads_on_when_the_layout_needs_a_slower_schedule(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Settings made in code skip the configuration's check, as a layout with several reads per
    # table skips it in effect: the loop must slow down, not raise.
    too_fast = Schedule(present_s=1.0, energy_s=4.0)
    events: list[Event] = []
    port = simulated_meter(PROFILES["gen4"])
    async with PtyMeter(port) as pty:
        poller = Poller(
            MeterSettings(key=MepKey.parse(DEMO_MBK), schedule=too_fast),
            SerialPort(pty.path),
            NoLinkControl(),
            events.append,
        )
        task = asyncio.create_task(poller.run())
        try:
            async with asyncio.timeout(10):
                while not any(isinstance(event, PresentReading) for event in events):
                    assert not task.done(), task.exception()
                    await asyncio.sleep(0.05)
        finally:
            poller.request_stop()
            task.cancel()
            results = await asyncio.gather(task, return_exceptions=True)
    assert not [r for r in results if isinstance(r, Exception | ConfigError)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("exceed the meter's read budget" in line for line in warnings)
