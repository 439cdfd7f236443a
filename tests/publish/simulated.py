"""A simulated meter on a pty, read by the real poller, feeding a publisher."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from mepd.drivers.gpio import NoLinkControl
from mepd.drivers.serial import SerialPort
from mepd.drivers.simulator.driver import PtyMeter
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.port import MeterPort
from mepd.drivers.simulator.profiles import PROFILES
from mepd.engine.poller import Poller
from mepd.protocol import MepKey
from mepd.readings import Event
from mepd.settings import MeterSettings

KEY = MepKey.parse(DEMO_MBK)


@dataclass
class Running:
    port: MeterPort
    poller: Poller
    serial: str


@asynccontextmanager
async def meter_feeding(
    emit: Callable[[Event], None],
    *,
    profile: str = "gen4",
    settings: MeterSettings | None = None,
) -> AsyncIterator[Running]:
    """The poller runs while inside; NoLinkControl: a latched-up meter stays silent."""
    port = simulated_meter(PROFILES[profile], epoch=time.monotonic(), start_wall=time.time())
    async with PtyMeter(port) as pty:
        poller = Poller(
            settings or MeterSettings(key=KEY), SerialPort(pty.path), NoLinkControl(), emit
        )
        task = asyncio.create_task(poller.run())
        try:
            yield Running(port, poller, PROFILES[profile].utility_serial)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
