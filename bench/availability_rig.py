"""The poller and a simulated meter in one process, in virtual time, for the availability bench.

Imports only what the poller, the simulator and tests/virtual_time.py offered before issue 19,
so the same scenarios measure a checkout of an older commit (`--tree`) and this one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from mepd.drivers.gpio import LinkControl, NoLinkControl
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
POWER_OFF_S, POWER_SETTLE_S = 1.1, 0.5  # mepd.drivers.gpio's
T = TypeVar("T")


class SwitchedControl:
    """The HAT's transceiver switch, as the simulator sees it."""

    can_power_cycle = True

    def __init__(self, power: SwitchedPower) -> None:
        self.power = power

    def start(self) -> None:
        self.power.on = True

    def stop(self) -> None:
        self.power.on = False

    async def power_cycle(self) -> None:
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


class Recording(InProcessTransport):
    def __init__(self, link: InProcessLink) -> None:
        super().__init__(link)
        self.sent: list[float] = []

    async def write(self, data: bytes) -> None:
        self.sent.append(asyncio.get_running_loop().time())
        await super().write(data)


@dataclass
class Rig:
    port: MeterPort
    transport: Recording
    poller: Any = None
    events: list[tuple[float, Event]] = field(default_factory=list)

    def times(self, kind: type[Any], after: float = float("-inf")) -> list[float]:
        return [t for t, e in self.events if isinstance(e, kind) and t > after]

    async def first(self, kind: type[Any], after: float, within_s: float = 600.0) -> float:
        """Loop time of the first `kind` event after `after` (nan if none within `within_s`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while loop.time() < deadline:
            found = self.times(kind, after)
            if found:
                return found[0]
            await asyncio.sleep(0.05)
        return float("nan")

    def most_frames_a_minute(self, start: float, end: float) -> int:
        sent = [t for t in self.transport.sent if start <= t < end]
        return max((sum(1 for u in sent if t <= u < t + 60.0) for t in sent), default=0)


@asynccontextmanager
async def running(
    profile: str, *, gpio: bool = False, faults: FaultSettings | None = None, seed: int = 1
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
        history_limit=100_000,
    )
    control: LinkControl = SwitchedControl(power) if gpio else NoLinkControl()
    async with InProcessLink(port, clock=loop.time, poll_interval_s=0.02) as link:
        rig = Rig(port, Recording(link))
        rig.poller = Poller(
            MeterSettings(key=KEY),
            rig.transport,
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
