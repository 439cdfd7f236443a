"""The poller against the simulated meter, with the GPIO driver on MockFactory pins.

Where the subject is time (the guide's pacing, recovery within 5 s, a minute of backoff) the
meter is in-process and the test runs on the virtual clock (tests/virtual_time.py): minutes of
polling take a fraction of a second and no bound depends on how loaded the machine is. Over a
real pty and on the real clock: the reading itself and an unplugged adapter.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from mepd.drivers.gpio import GpioLinkControl
from mepd.drivers.serial import SerialPort
from mepd.drivers.simulator.driver import InProcessLink, InProcessTransport, PtyMeter
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.port import MeterPort
from mepd.drivers.simulator.power import GpioPinPower
from mepd.drivers.simulator.profiles import PROFILES
from mepd.drivers.transport import Transport
from mepd.engine.poller import Poller
from mepd.protocol import MepKey
from mepd.readings import EnergyReading, Event, LinkStatus, MeterIdentity, PresentReading
from mepd.settings import MeterSettings

KEY = MepKey.parse(DEMO_MBK)
E = TypeVar("E", bound=Event)


@pytest.fixture
def pins() -> Iterator[MockFactory]:
    factory = MockFactory()
    previous = Device.pin_factory
    Device.pin_factory = factory
    yield factory
    factory.reset()
    Device.pin_factory = previous


def now() -> float:
    """The running loop's clock: virtual under @pytest.mark.virtual_time, else monotonic."""
    return asyncio.get_running_loop().time()


@dataclass
class Run:
    port: MeterPort
    poller: Poller
    events: list[tuple[float, Event]] = field(default_factory=list)

    def of(self, kind: type[E]) -> list[E]:
        return [event for _, event in self.events if isinstance(event, kind)]

    async def wait_for(self, kind: type[Event], count: int = 1, within_s: float = 10.0) -> float:
        deadline = now() + within_s
        while len(self.of(kind)) < count:
            if now() > deadline:
                raise AssertionError(f"{count} x {kind.__name__} not seen in {within_s} s")
            await asyncio.sleep(0.05)
        return now()


@asynccontextmanager
async def _in_process(port: MeterPort) -> AsyncIterator[Transport]:
    async with InProcessLink(port, clock=asyncio.get_running_loop().time) as link:
        yield InProcessTransport(link)


@asynccontextmanager
async def _over_pty(port: MeterPort) -> AsyncIterator[Transport]:
    async with PtyMeter(port) as pty:
        yield SerialPort(pty.path)


@asynccontextmanager
async def running(
    pins: MockFactory,
    profile: str = "gen4",
    tmp_path: Path | None = None,
    settings: MeterSettings | None = None,
    *,
    pty: bool = False,
    tls: str | None = None,
    requires_tls: bool = False,
) -> AsyncIterator[Run]:
    """The poller on a simulated meter: in-process on the loop's clock, or over a real pty."""
    started, wall_at_start = now(), time.time()
    port = simulated_meter(
        PROFILES[profile],
        power=GpioPinPower(),
        epoch=started,
        tls=tls,
        requires_tls=requires_tls,
    )
    line: AbstractAsyncContextManager[Transport] = (_over_pty if pty else _in_process)(port)
    async with line as transport:
        control = GpioLinkControl(pin_factory=pins)
        settings = settings or MeterSettings(
            key=KEY, state_path=(tmp_path / "state.json") if tmp_path else None
        )
        run = Run(port, None)  # type: ignore[arg-type]
        poller = Poller(
            settings,
            transport,
            control,
            lambda event: run.events.append((now(), event)),
            wall_clock=lambda: datetime.fromtimestamp(wall_at_start + now() - started, UTC),
        )
        run.poller = poller
        task = asyncio.create_task(poller.run())
        try:
            yield run
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            control.close()


async def _read(run: Run, present: int) -> float:
    """Waits for `present` power readings and one energy reading; returns the first's delay."""
    started = now()
    await run.wait_for(PresentReading, 1)
    first_publish = now() - started
    await run.wait_for(EnergyReading, 1)
    await run.wait_for(PresentReading, present)
    return first_publish


def _check_readings(run: Run, profile: str) -> None:
    (identity,) = run.of(MeterIdentity)
    assert identity.serial
    assert identity.present_values == PROFILES[profile].dims.present_values
    assert (identity.channel is not None) == (profile == "gen4")
    for reading in run.of(PresentReading):
        values = {m.name: m.value for m in reading.values}
        phases = sum(values[f"power_import_l{p}"] - values[f"power_export_l{p}"] for p in (1, 2, 3))
        assert abs(values["power_import"] - values["power_export"] - phases) <= 3
        assert 200 < values["voltage_l1"] < 260
        assert 49 < values["frequency"] < 51
    energy_import = run.of(EnergyReading)[0].registers.get("energy_import")
    assert energy_import is not None
    assert energy_import.unit == "Wh"
    stats = run.port.stats
    assert stats.too_close_requests == 0
    assert stats.read_rate_violations == 0
    assert [e.up for e in run.of(LinkStatus)] == [True]


@pytest.mark.virtual_time
@pytest.mark.parametrize("profile", ["gen3", "gen4"])
async def test_reads_identity_power_and_energy(pins: MockFactory, profile: str) -> None:
    async with running(pins, profile) as run:
        first_publish = await _read(run, present=3)
    assert first_publish < 3.0
    _check_readings(run, profile)


@pytest.mark.asyncio
async def test_reads_identity_power_and_energy_over_a_real_pty(pins: MockFactory) -> None:
    """The same through a real pty and the serial driver; the timing and the steady reading
    are the virtual-clock test's (above), so one reading of each kind is enough here."""
    async with running(pins, "gen4", pty=True) as run:
        await _read(run, present=1)
    _check_readings(run, "gen4")


@pytest.mark.virtual_time
async def test_latch_up_is_cured_by_a_power_cycle_within_5_s(pins: MockFactory) -> None:
    async with running(pins, "gen4") as run:
        await run.wait_for(PresentReading, 2)
        run.port.latch_up()
        latched_at = now()
        before = len(run.of(PresentReading))
        recovered_at = await run.wait_for(PresentReading, before + 1, within_s=15.0)
    assert recovered_at - latched_at < 5.0
    assert run.poller.counters["transceiver_resets"] >= 1
    assert run.port.stats.latchup_recoveries >= 1


@pytest.mark.asyncio
async def test_an_unplugged_and_replugged_port_recovers_without_a_restart(
    pins: MockFactory, tmp_path: Path
) -> None:
    # The daemon opens a stable name (as /dev/serial/by-id/... is); the adapter behind it
    # disappears and comes back as a new device.
    link = tmp_path / "mep0"
    epoch = time.monotonic()
    events: list[Event] = []
    first = simulated_meter(PROFILES["gen4"], epoch=epoch)
    pty = PtyMeter(first)
    await pty.__aenter__()
    link.symlink_to(pty.path)
    control = GpioLinkControl(pin_factory=pins)
    poller = Poller(MeterSettings(key=KEY), SerialPort(str(link)), control, events.append)
    task = asyncio.create_task(poller.run())
    try:
        deadline = time.monotonic() + 10
        while not any(isinstance(e, PresentReading) for e in events):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        await pty.close()  # unplugged
        link.unlink()
        # Replugged only once the poller has failed to reopen the missing name (its second
        # "down": the read error, then the open error), not after a guessed sleep.
        deadline = time.monotonic() + 10
        while len([e for e in events if isinstance(e, LinkStatus) and not e.up]) < 2:
            assert time.monotonic() < deadline, "the missing port was never tried again"
            await asyncio.sleep(0.05)
        unplugged = len([e for e in events if isinstance(e, PresentReading)])
        second = simulated_meter(PROFILES["gen4"], epoch=epoch)  # same meter, new adapter
        async with PtyMeter(second) as replugged:
            link.symlink_to(replugged.path)
            deadline = time.monotonic() + 20
            while len([e for e in events if isinstance(e, PresentReading)]) <= unplugged:
                assert time.monotonic() < deadline, "no reading after the replug"
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        control.close()
    states = [e.up for e in events if isinstance(e, LinkStatus)]
    assert False in states, "the outage was never reported"
    # ... and the link was reported up again after it, by the same running poller.
    assert True in states[states.index(False) :]


@pytest.mark.virtual_time
async def test_a_wrong_key_gets_one_clear_error_and_a_slow_backoff(
    pins: MockFactory, caplog: pytest.LogCaptureFixture
) -> None:
    settings = MeterSettings(key=MepKey.parse("THIS-IS-NOT-THE-KEY!"), security="rc4")
    async with running(pins, "gen4", settings=settings) as run:
        await asyncio.sleep(60.0)
    assert run.port.stats.authentication_failures >= 3
    assert run.port.stats.frames_received <= 5  # a handful per minute, never a hammering
    errors = [r.getMessage() for r in caplog.records if "rejected the key" in r.getMessage()]
    assert len(errors) == 1
    assert "after a clean resynchronisation" in errors[0]
    assert "THIS-IS" not in caplog.text
    (down,) = [e for e in run.of(LinkStatus) if e.authentication_problem]
    assert not down.up


@pytest.mark.virtual_time
async def test_an_idt_bump_resynchronises_and_rereads_the_dimensions(pins: MockFactory) -> None:
    async with running(pins, "gen4") as run:
        await run.wait_for(PresentReading, 2)
        run.port.bump_idt_version()
        await run.wait_for(MeterIdentity, 2, within_s=15.0)
        before = len(run.of(PresentReading))
        await run.wait_for(PresentReading, before + 2, within_s=10.0)
    first, second = run.of(MeterIdentity)
    assert second.idt_version == (first.idt_version or 0) + 1
    assert run.poller.session.stats.sequence_resyncs >= 2


@pytest.mark.virtual_time
async def test_an_optical_session_on_gen3_is_ridden_out(pins: MockFactory) -> None:
    # p.20: the optical port takes the shared UART; MEP goes silent, the sequence moves on.
    async with running(pins, "gen3") as run:
        await run.wait_for(PresentReading, 2)
        run.port.start_optical_session(now(), seconds=3.0)
        run.port.meter.advance_sequence(40)  # what the optical session's traffic did to it
        before = len(run.of(PresentReading))
        await run.wait_for(PresentReading, before + 2, within_s=20.0)
    assert run.port.stats.optical_takeovers == 1
    assert run.poller.session.stats.sequence_resyncs >= 2  # the start, and after the session


@pytest.mark.virtual_time
async def test_the_first_reading_after_a_restart_is_checked_against_the_state_file(
    pins: MockFactory, tmp_path: Path
) -> None:
    from mepd.engine.state import MeterState, StateFile

    # The state file says the register was far higher an hour ago: the meter cannot have
    # gone backwards, so what it reports now is held back, not published.
    state = StateFile(tmp_path / "state.json")
    state.save(
        MeterState(serial="SIM-GEN4-0001", energy={"energy_import": (9e12, time.time() - 3600)}),
        now_s=0.0,
        force=True,
    )
    async with running(pins, "gen4", tmp_path=tmp_path) as run:
        await run.wait_for(EnergyReading, 1)
    published = run.of(EnergyReading)[0].registers
    assert published.get("energy_import") is None
    assert published.get("energy_export") is not None  # not in the state file: accepted
    assert run.poller.counters["quarantined"] >= 1


@pytest.mark.virtual_time
async def test_overdue_tells_a_stall_from_a_deliberate_backoff(pins: MockFactory) -> None:
    """The watchdog's measure: a long backoff is a promise kept; a hang past it is not."""
    async with running(pins) as run:
        await run.wait_for(PresentReading)
        loop = asyncio.get_running_loop()
        assert run.poller.overdue_s(loop.time()) < 5.0
        pause = asyncio.create_task(run.poller._pause(600.0))
        await asyncio.sleep(0)
        assert run.poller.overdue_s(loop.time()) < -590.0
        pause.cancel()
        assert run.poller.overdue_s(loop.time() + 700.0) > 90.0


@pytest.mark.virtual_time
async def test_auto_security_tries_tls_once_then_calls_the_key_wrong(
    pins: MockFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A meter without TLS: 0x0B twice in RC4, 0x0B to the TLS hello, RC4 again, then quiet."""
    settings = MeterSettings(key=MepKey.parse("THIS-IS-NOT-THE-KEY!"), security="auto")
    async with running(pins, "gen4", settings=settings) as run:
        await asyncio.sleep(25.0)
    (down,) = [e for e in run.of(LinkStatus) if e.authentication_problem]
    assert "in RC4 mode and did not offer TLS" in down.reason
    # 2 RC4 tries, one TLS hello answered 0x0B, a third RC4 try, then 30 s of quiet.
    assert run.port.stats.frames_received <= 6
    assert "THIS-IS" not in caplog.text


@pytest.mark.virtual_time
async def test_auto_security_finds_a_port_that_requires_tls_and_remembers(
    pins: MockFactory, tmp_path: Path
) -> None:
    settings = MeterSettings(key=KEY, security="auto", state_path=tmp_path / "state.json")
    async with running(pins, "gen4", settings=settings, requires_tls=True) as run:
        await run.wait_for(PresentReading, within_s=30.0)
        (identity,) = run.of(MeterIdentity)
        assert identity.security == "tls"
        refused_first = run.port.stats.rc4_refused
    assert refused_first >= 1  # RC4 was tried first and refused (p.8)
    async with running(pins, "gen4", settings=settings, requires_tls=True) as again:
        await again.wait_for(PresentReading, within_s=15.0)
        assert again.port.stats.rc4_refused == 0  # the state file said TLS
        assert again.port.stats.read_rate_violations == 0


@pytest.mark.virtual_time
@pytest.mark.parametrize("profile", ["gen3", "gen4"])
async def test_tls_mode_reads_both_profiles_within_the_rate_budget(
    pins: MockFactory, profile: str
) -> None:
    settings = MeterSettings(key=KEY, security="tls")
    async with running(pins, profile, settings=settings, tls="pure") as run:
        await run.wait_for(PresentReading, count=3, within_s=20.0)
        await run.wait_for(EnergyReading, within_s=5.0)
    stats = run.port.stats
    assert stats.read_rate_violations == 0
    assert stats.too_close_requests == 0
    assert stats.rc4_refused == 0
