"""The soak: thousands of polls through a noisy line, and nothing published differs from the truth.

Runs the real session, poller and guard against the simulator in-process, on an event loop
whose clock jumps ahead when everything waits (tests/virtual_time.py), so the guide's pacing
(100 ms spacing, 1 read/s) holds in simulated time and the 4 hours of polling take minutes.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

import pytest

from mepd.drivers.gpio import NoLinkControl
from mepd.drivers.simulator.driver import InProcessLink, InProcessTransport
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.faults import FaultSettings
from mepd.drivers.simulator.physics import Truth
from mepd.drivers.simulator.port import MeterPort
from mepd.drivers.simulator.profiles import PROFILES
from mepd.drivers.simulator.registers import present_value, summation
from mepd.engine.poller import Poller
from mepd.protocol import MepKey
from mepd.readings import EnergyReading, Event, PresentReading
from mepd.settings import MeterSettings
from tests.virtual_time import VirtualTimeLoop

START_WALL = 1_790_000_000.0
# 1,000 polls in the test command (about 5 s of CPU): enough that a response digest check
# switched off publishes wrong values. `bench/soak.py` runs 10,000 and more.
POLLS = int(os.environ.get("MEPD_SOAK_POLLS", "1000"))
# Present values the meter computes straight from its physics (averages are excluded).
COMPARED = (
    "power_import",
    "power_export",
    "reactive_power_import",
    "reactive_power_export",
    "apparent_power",
    "frequency",
    *(f"{q}_l{p}" for q in ("voltage", "current", "power_factor") for p in (1, 2, 3)),
    *(f"power_{d}_l{p}" for d in ("import", "export") for p in (1, 2, 3)),
)


async def _soak(profile: str) -> tuple[list[tuple[float, Event]], MeterPort, Poller]:
    loop = asyncio.get_running_loop()
    faults = FaultSettings(tx_corrupt_rate=0.01, tx_drop_rate=0.01, lose_response_rate=0.01)
    port = simulated_meter(
        PROFILES[profile],
        seed=42,
        epoch=0.0,
        start_wall=START_WALL,
        alerts=True,
        faults=faults,
        history_limit=50_000,
    )
    events: list[tuple[float, Event]] = []
    # The meter's timers tick every 50 ms (p.21's inter-byte gap, the finest one it keeps):
    # over the soak's hours of virtual time each tick is a turn of the loop (20 % of the CPU
    # at 20 ms).
    # Bytes leave in 50 ms chunks (48 at 9600 baud), not 4 ms ones: the soak's subject is
    # what gets published, and each chunk is a turn of the loop.
    async with InProcessLink(
        port, clock=loop.time, poll_interval_s=0.05, chunk_seconds=0.05
    ) as link:
        poller = Poller(
            MeterSettings(key=MepKey.parse(DEMO_MBK)),
            InProcessTransport(link),
            NoLinkControl(),
            lambda event: events.append((loop.time(), event)),
            wall_clock=lambda: datetime.fromtimestamp(START_WALL + loop.time(), UTC),
        )
        enough = asyncio.Event()

        def stop_when_enough() -> None:
            if poller.session.stats.exchanges >= POLLS:
                enough.set()

        poller.cycle_listeners.append(stop_when_enough)
        task = asyncio.create_task(poller.run())
        await enough.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return events, port, poller


@pytest.mark.slow
@pytest.mark.timeout(600)  # 10,000 polls (bench/soak.py) take about 70 s of CPU
@pytest.mark.parametrize("profile", ["gen3"])
def test_thousands_of_noisy_polls_publish_only_the_truth(profile: str) -> None:
    loop = VirtualTimeLoop()
    try:
        events, port, poller = loop.run_until_complete(_soak(profile))
    finally:
        loop.close()
    stats = port.stats
    served = [s for s in port.meter.history if s.table == 28]
    served_energy = [s for s in port.meter.history if s.table == 23]
    present = [(at, e) for at, e in events if isinstance(e, PresentReading)]
    energy = [(at, e) for at, e in events if isinstance(e, EnergyReading)]

    # The line really was noisy, and the poller really kept going.
    assert poller.session.stats.exchanges >= POLLS
    assert stats.bytes_corrupted > 100
    assert stats.bytes_dropped > 100
    assert stats.responses_lost > 10
    assert stats.alerts_sent > 0
    print(
        f"\nsoak {profile}: {poller.session.stats.exchanges} exchanges, "
        f"{len(present)} power and {len(energy)} energy readings published, "
        f"{stats.bytes_corrupted} bytes corrupted, {stats.bytes_dropped} dropped, "
        f"{stats.responses_lost} responses lost, {stats.alerts_sent} alerts, "
        f"{stats.frames_received} frames at the meter, "
        f"quarantined {poller.counters['quarantined']}"
    )
    # Enough answers got through for the comparison to mean something: most 465-byte BT28
    # answers meet a corrupted byte on this line, so about one poll in 40 gives a reading.
    assert len(present) >= POLLS // 60

    # The guide's pacing held over the whole soak.
    assert stats.too_close_requests == 0
    assert stats.read_rate_violations == 0

    # Every published reading equals the meter's truth at an instant it answered that read: the
    # last BT28 it served, or one before it when a late answer to an identical resend (same
    # request, so its digest verifies, p.21) arrived after the meter had served the resend.
    # By serving order, not by a time window: after a resync the poller checks the IDT version
    # (p.55) before it publishes, which on a noisy line takes seconds of retries.
    mismatches: list[tuple[float, object]] = []
    for at, reading in present:
        recent = sorted((s for s in served if s.monotonic <= at), key=lambda s: -s.monotonic)[:3]

        def wrong(truth: Truth, reading: PresentReading = reading) -> list[str]:
            return [
                name
                for name in COMPARED
                if (measured := reading.values.get(name)) is not None
                and measured.raw != present_value(truth, measured.source.id)
            ]

        if all(wrong(s.truth) for s in recent):
            mismatches.append((at, wrong(recent[0].truth) if recent else ["nothing served"]))
    for at, energy_reading in energy:
        served_at = max((s for s in served_energy if s.monotonic <= at), key=lambda s: s.monotonic)
        for register in energy_reading.registers:
            if register.raw != summation(served_at.truth, register.source.id):
                mismatches.append((at, (register.name, register.raw)))
    assert mismatches == []

    # Energy never went down in what was published.
    for name in ("energy_import", "energy_export"):
        series = [m.value for _, e in energy if (m := e.registers.get(name)) is not None]
        assert series == sorted(series)
