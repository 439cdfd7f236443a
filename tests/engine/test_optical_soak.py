"""The optical soak: thousands of reads through a noisy optical link, nothing published that
differs from the simulator's truth. The real poller and guard, the optical session, the
simulated optical port, on a virtual clock (tests/virtual_time.py).

The test command runs 1,000 exchanges per profile (about 2 s of CPU each): enough that the
packet CRC and the table checksum both switched off publish wrong values in either profile
(one alone is caught by the other). `bench/soak.py` runs 10,000 and more.
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_right
from datetime import UTC, datetime

import pytest

from mepd.drivers.gpio import NoLinkControl
from mepd.drivers.simulator.driver import InProcessLink, InProcessTransport
from mepd.drivers.simulator.faults import FaultSettings
from mepd.drivers.simulator.history import ServedReading
from mepd.drivers.simulator.optical import OpticalMeterPort, optical_meter
from mepd.drivers.simulator.physics import Truth
from mepd.drivers.simulator.profiles import PROFILES
from mepd.drivers.simulator.registers import present_value, summation
from mepd.engine.optical_session import OpticalSession
from mepd.engine.poller import Poller
from mepd.protocol import MepKey
from mepd.readings import EnergyReading, Event, PresentReading
from mepd.settings import MeterSettings
from tests.virtual_time import VirtualTimeLoop

# On a whole minute: BT23 demand times are STIME_DATE (no seconds) on Gen 4.
START_WALL = 1_790_000_040.0
PASSWORD = "OPTICAL-READ-KEY-RK1"
EXCHANGES = int(os.environ.get("MEPD_SOAK_POLLS", "1000"))
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
# One BT28 takes several optical reads (108 table bytes each with 64-byte packets x 2), and a
# read may take several tries: a value must equal the truth of one of the answers the meter
# served for that reading, i.e. after the previous reading of the table was published.


async def _soak(profile: str) -> tuple[list[tuple[float, Event]], OpticalMeterPort, Poller]:
    loop = asyncio.get_running_loop()
    faults = FaultSettings(
        tx_corrupt_rate=0.002,
        tx_drop_rate=0.002,
        rx_corrupt_rate=0.001,
        lose_response_rate=0.01,
        nak_rate=0.01,
        busy_rate=0.01,
    )
    port = optical_meter(
        PROFILES[profile],
        password=PASSWORD,
        seed=7,
        epoch=0.0,
        start_wall=START_WALL,
        faults=faults,
        history_limit=100_000,
    )
    events: list[tuple[float, Event]] = []
    async with InProcessLink(port, clock=loop.time, poll_interval_s=0.02) as link:
        poller = Poller(
            MeterSettings(key=MepKey.parse(PASSWORD), interface="optical"),
            InProcessTransport(link),
            NoLinkControl(),
            lambda event: events.append((loop.time(), event)),
            wall_clock=lambda: datetime.fromtimestamp(START_WALL + loop.time(), UTC),
        )
        enough = asyncio.Event()

        def stop_when_enough() -> None:
            if poller.session.stats.exchanges >= EXCHANGES:
                enough.set()

        poller.cycle_listeners.append(stop_when_enough)
        task = asyncio.create_task(poller.run())
        await enough.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return events, port, poller


@pytest.mark.slow
@pytest.mark.timeout(600)  # 10,000 exchanges (bench/soak.py) take about 20 s of CPU
@pytest.mark.parametrize("profile", ["gen3", "gen4"])
def test_noisy_optical_polls_publish_only_the_truth(profile: str) -> None:
    loop = VirtualTimeLoop()
    try:
        events, port, poller = loop.run_until_complete(_soak(profile))
    finally:
        loop.close()
    history = list(port.meter.history)
    served = [s for s in history if s.table == 28]
    served_energy = [s for s in history if s.table == 23]
    present = [(at, e) for at, e in events if isinstance(e, PresentReading)]
    energy = [(at, e) for at, e in events if isinstance(e, EnergyReading)]
    session = poller.session
    assert isinstance(session, OpticalSession)
    counters = session.stats.snapshot()
    print(
        f"\noptical soak {profile}: {session.stats.exchanges} exchanges, {len(present)} power "
        f"and {len(energy)} energy readings, {port.stats.bytes_corrupted} bytes corrupted, "
        f"{port.stats.bytes_dropped} dropped, {port.optical}, sessions {session.sessions}, "
        f"quarantined {poller.counters['quarantined']}, link {counters}"
    )
    # The line really was noisy, and the poller kept going in few sessions.
    assert port.stats.bytes_corrupted > 20
    assert port.optical.answers_lost > 5
    assert port.optical.busy_answers >= 2  # 1 % of some 300 requests (one read per BT28)
    # About one power reading per 5 exchanges: enough for the comparison to mean something.
    assert len(present) >= EXCHANGES // 8

    stamps = {id(served): [s.monotonic for s in served]}
    stamps[id(served_energy)] = [s.monotonic for s in served_energy]

    def truths_between(history: list[ServedReading], since: float, at: float) -> list[Truth]:
        times = stamps[id(history)]
        first, last = bisect_right(times, since), bisect_right(times, at)
        return [s.truth for s in history[first:last]]

    mismatches = []
    previous = 0.0
    for at, reading in present:
        truths = truths_between(served, previous, at)
        previous = at
        for name in COMPARED:
            measured = reading.values.get(name)
            if measured is None:
                continue
            if all(measured.raw != present_value(t, measured.source.id) for t in truths):
                mismatches.append((at, name, measured.raw))
    previous = 0.0
    for at, energy_reading in energy:
        truths = truths_between(served_energy, previous, at)
        previous = at
        for register in energy_reading.registers:
            if all(register.raw != summation(t, register.source.id) for t in truths):
                mismatches.append((at, register.name, register.raw))
    assert mismatches == []
    for name in ("energy_import", "energy_export"):
        series = [m.value for _, e in energy if (m := e.registers.get(name)) is not None]
        assert series == sorted(series)
