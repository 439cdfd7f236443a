"""The poller against the simulator in one process, on a loop whose clock jumps (virtual time).

For tests where time is the subject (how soon readings come back, how many frames a silent
meter sees): minutes of polling run in a fraction of a second, and every figure is exact.
A `SwitchedControl` stands in for the HAT's transceiver switch, which the simulator sees.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from mepd.drivers.gpio import POWER_OFF_S, POWER_SETTLE_S, LinkControl, NoLinkControl
from mepd.drivers.simulator.driver import InProcessLink, InProcessTransport
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.faults import FaultSettings
from mepd.drivers.simulator.port import MeterPort
from mepd.drivers.simulator.power import SwitchedPower
from mepd.drivers.simulator.profiles import PROFILES
from mepd.engine.poller import Poller
from mepd.protocol import MepKey
from mepd.readings import Event
from mepd.settings import MeterSettings
from tests.virtual_time import VirtualTimeLoop

KEY = MepKey.parse(DEMO_MBK)
START_WALL = 1_789_999_980.0  # on a minute: the simulator encodes event times as STIME_DATE
T = TypeVar("T")


class SwitchedControl:
    """The HAT's transceiver switch as the simulator sees it (`SwitchedPower`)."""

    can_power_cycle = True

    def __init__(self, power: SwitchedPower) -> None:
        self.power = power
        self.cycles = 0

    def start(self) -> None:
        self.power.on = True

    def stop(self) -> None:
        self.power.on = False

    async def power_cycle(self) -> None:
        self.cycles += 1
        self.power.on = False
        await asyncio.sleep(POWER_OFF_S)
        self.power.on = True
        await asyncio.sleep(POWER_SETTLE_S)

    def meter_present(self) -> bool | None:
        return None

    def show_link(self, up: bool) -> None:
        pass

    def close(self) -> None:
        pass


class RecordingTransport(InProcessTransport):
    """Notes the loop time of every frame the client writes."""

    def __init__(self, link: InProcessLink) -> None:
        super().__init__(link)
        self.sent: list[float] = []

    async def write(self, data: bytes) -> None:
        self.sent.append(asyncio.get_running_loop().time())
        await super().write(data)


@dataclass
class Rig:
    port: MeterPort
    poller: Poller
    transport: RecordingTransport
    events: list[tuple[float, Event]] = field(default_factory=list)

    def most_frames_a_minute(self, start: float, end: float) -> int:
        """The most frames sent in any 60 s window between `start` and `end`."""
        sent = [t for t in self.transport.sent if start <= t < end]
        return max((sum(1 for u in sent if t <= u < t + 60.0) for t in sent), default=0)

    def of(self, kind: type[T]) -> list[T]:
        return [event for _, event in self.events if isinstance(event, kind)]

    def at(self, kind: type[Any]) -> list[float]:
        return [at for at, event in self.events if isinstance(event, kind)]

    async def wait_for(self, kind: type[Any], count: int = 1, within_s: float = 30.0) -> float:
        """Loop time when the `count`th event of `kind` arrived."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while len(self.of(kind)) < count:
            if loop.time() > deadline:
                raise AssertionError(f"{count} x {kind.__name__} not seen in {within_s} s")
            await asyncio.sleep(0.05)
        return self.at(kind)[count - 1]


@asynccontextmanager
async def running(
    profile: str = "gen4",
    *,
    gpio: bool = False,
    faults: FaultSettings | None = None,
    settings: MeterSettings | None = None,
    seed: int = 1,
    requires_tls: bool = False,
) -> AsyncIterator[Rig]:
    loop = asyncio.get_running_loop()
    power = SwitchedPower()
    port = simulated_meter(
        PROFILES[profile],
        seed=seed,
        epoch=0.0,
        start_wall=START_WALL,
        power=power,
        faults=faults,
        requires_tls=requires_tls,
    )
    control: LinkControl = SwitchedControl(power) if gpio else NoLinkControl()
    async with InProcessLink(port, clock=loop.time, poll_interval_s=0.02) as link:
        transport = RecordingTransport(link)
        rig = Rig(port, None, transport)  # type: ignore[arg-type]
        rig.poller = Poller(
            settings or MeterSettings(key=KEY),
            transport,
            control,
            lambda event: rig.events.append((loop.time(), event)),
            wall_clock=lambda: datetime.fromtimestamp(START_WALL + loop.time(), UTC),
        )
        task = asyncio.create_task(rig.poller.run())
        try:
            yield rig
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def in_virtual_time(scenario: Callable[[], Awaitable[T]]) -> T:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(scenario())
    finally:
        loop.close()


class Confirms(Protocol):
    """A stand-in broker for the history tests: it confirms (or not) the records it takes."""

    def take(self, rig: Rig) -> None: ...


@asynccontextmanager
async def served(
    broker: Confirms, state: Path, faults: FaultSettings | None = None, profile: str = "gen4"
) -> AsyncIterator[Rig]:
    """`running()` with a state file, `broker` taking the new records every 100 ms."""
    settings = MeterSettings(key=KEY, state_path=state)
    async with running(profile, settings=settings, faults=faults) as rig:

        async def pump() -> None:
            while True:
                broker.take(rig)
                await asyncio.sleep(0.1)

        task = asyncio.create_task(pump())
        try:
            yield rig
        finally:
            task.cancel()
