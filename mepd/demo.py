"""`mepd demo`: the whole read path against the built-in simulated meter, no hardware needed.

A simulated meter on a pseudo-terminal, the real serial driver and poller reading it, and
every verified, plausibility-checked reading printed as it would be published.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from typing import Any, TextIO

from mepd.drivers.gpio import NoLinkControl
from mepd.drivers.serial import SerialPort
from mepd.drivers.simulator.driver import PtyMeter
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.profiles import PROFILES
from mepd.poller import MeterSettings, Poller
from mepd.protocol import MepKey
from mepd.readings import (
    Diagnostics,
    EnergyReading,
    Event,
    LinkStatus,
    MeterIdentity,
    PresentReading,
)

EXIT_OK = 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="read the built-in simulated meter and print what would be published",
        description=(
            "Start a simulated meter on a pseudo-terminal and read it with mepd's real serial "
            "driver and poller, printing each reading. Needs no meter and no hardware."
        ),
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="gen4")
    parser.add_argument(
        "--seconds", type=float, default=None, help="stop after this long (default: Ctrl-C)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the simulated physics")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    asyncio.run(_demo(args.profile, args.seconds, args.seed, sys.stdout))
    return EXIT_OK


async def _demo(profile: str, seconds: float | None, seed: int, out: TextIO) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    port = simulated_meter(
        PROFILES[profile], seed=seed, epoch=time.monotonic(), start_wall=time.time()
    )
    async with PtyMeter(port) as meter:
        print(f"simulated {profile} meter on {meter.path} (demo key, 9600 baud)", file=out)
        poller = Poller(
            MeterSettings(key=MepKey.parse(DEMO_MBK)),
            SerialPort(meter.path),
            NoLinkControl(),
            lambda event: _print(event, out),
        )
        task = asyncio.create_task(poller.run())
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
    stats = port.stats
    print(
        f"meter saw {stats.requests_handled} requests, "
        f"{stats.too_close_requests} too close together, "
        f"{stats.read_rate_violations} over the read-rate budget",
        file=out,
    )


def _value(reading: PresentReading, name: str, fmt: str) -> str:
    measurement = reading.values.get(name)
    return "-" if measurement is None else format(measurement.value, fmt)


def _print(event: Event, out: TextIO) -> None:
    clock = time.strftime("%H:%M:%S")
    if isinstance(event, MeterIdentity):
        print(
            f"{clock} meter {event.serial}: {event.manufacturer} {event.model}, firmware "
            f"{event.firmware}, {event.present_values} present values",
            file=out,
        )
    elif isinstance(event, PresentReading):
        phases = "  ".join(
            f"L{p} {_value(event, f'voltage_l{p}', '.1f')} V "
            f"{_value(event, f'current_l{p}', '.2f')} A"
            for p in (1, 2, 3)
        )
        print(
            f"{clock} power +{_value(event, 'power_import', '.0f')} W "
            f"-{_value(event, 'power_export', '.0f')} W  {phases}  "
            f"{_value(event, 'frequency', '.2f')} Hz",
            file=out,
        )
    elif isinstance(event, EnergyReading):
        parts = [f"{m.name} {m.value / 1000:.3f} k{m.unit.value}" for m in event.registers]
        print(f"{clock} energy " + ", ".join(parts), file=out)
    elif isinstance(event, LinkStatus):
        print(f"{clock} link {'up' if event.up else 'down'}: {event.reason}", file=out)
    elif isinstance(event, Diagnostics):
        pass
    out.flush()
