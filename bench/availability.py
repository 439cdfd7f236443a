"""Issue 19: how soon values come back after each kind of trouble, before and after.

    python bench/availability.py [--tree PATH] [--only NAME ...] [--json]

`--tree` runs the same scenarios against another checkout's `mepd` (e.g. a worktree of the
commit before the change): the figures of both go side by side in the report. Engine
scenarios run in virtual time (exact, minutes in seconds); the MQTT ones against a real
Mosquitto in real time (bench/availability_mqtt.py). Prints one line per figure, or JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _figures(values: list[float]) -> dict[str, float]:
    good = [v for v in values if not math.isnan(v)]
    return {
        "n": len(values),
        "lost": len(values) - len(good),
        "median": statistics.median(good) if good else math.nan,
        "max": max(good) if good else math.nan,
    }


def silences(gpio: bool, rounds: int = 5) -> dict[str, Any]:
    """The meter is silent for 20 s to 7 min, then answers again: how soon a reading follows,
    and the most frames it saw in any minute of the silence (after its first minute).

    Without GPIO: a latched line that comes back by itself (a USB adapter's reset). With
    GPIO: a gen3 meter whose optical port holds the UART (a power cycle does not help).
    `rounds` runs of six silences (seeds 5, 6, ...). Where the time goes: `probe_wait_s`
    from the meter's return to the next frame mepd sends (the probe cadence), and
    `probe_to_reading_s` from that frame to the reading (resync, IDT check, the reads)."""
    import asyncio  # noqa: PLC0415

    from bench.availability_rig import in_virtual_time, running  # noqa: PLC0415
    from mepd.readings import PresentReading  # noqa: PLC0415

    durations = [20.0, 45.0, 90.0, 150.0, 240.0, 400.0]

    async def scenario(seed: int) -> dict[str, Any]:
        rng = random.Random(seed)
        comebacks, waits, tails, most, first_minute = [], [], [], 0, 0
        async with running("gen3" if gpio else "gen4", gpio=gpio, seed=seed) as rig:
            loop = asyncio.get_running_loop()
            await rig.first(PresentReading, 0.0)
            await asyncio.sleep(30.0)
            for duration in durations:
                seconds = duration + rng.uniform(0.0, 10.0)
                start = loop.time()
                if gpio:
                    rig.port.start_optical_session(start, seconds=seconds)
                else:
                    rig.port.latch_up()
                await asyncio.sleep(seconds)
                if not gpio:
                    rig.port.latched = False
                end = loop.time()
                back = await rig.first(PresentReading, end)
                comebacks.append(back - end)
                probe = min((t for t in rig.transport.sent if t >= end), default=back)
                waits.append(probe - end)
                tails.append(back - probe)
                if seconds > 60.0:
                    first_minute = max(first_minute, rig.most_frames_a_minute(start, start + 60.0))
                if seconds > 120.0:
                    most = max(most, rig.most_frames_a_minute(start + 60.0, end))
                await asyncio.sleep(30.0 + rng.uniform(0.0, 2.0))
            stats = rig.port.stats
            return {
                "comebacks": comebacks,
                "waits": waits,
                "tails": tails,
                "most": most,
                "first_minute": first_minute,
                "violations": stats.read_rate_violations + stats.too_close_requests,
            }

    runs = [in_virtual_time(lambda seed=seed: scenario(seed)) for seed in range(5, 5 + rounds)]
    return {
        "comeback_s": _figures([c for run in runs for c in run["comebacks"]]),
        "probe_wait_s": _figures([w for run in runs for w in run["waits"]]),
        "probe_to_reading_s": _figures([t for run in runs for t in run["tails"]]),
        "frames_per_min_after_first_min": max(run["most"] for run in runs),
        "frames_first_min": max(run["first_minute"] for run in runs),
        "rate_violations": sum(run["violations"] for run in runs),
    }


def optical() -> dict[str, Any]:
    """Gen3 optical-port takeovers (3-8 s, the sequence moved on; GPIO fitted): from the end
    of the takeover to the next reading."""
    import asyncio  # noqa: PLC0415

    from bench.availability_rig import in_virtual_time, running  # noqa: PLC0415
    from mepd.readings import PresentReading  # noqa: PLC0415

    async def scenario() -> dict[str, Any]:
        rng = random.Random(9)
        gaps = []
        async with running("gen3", gpio=True) as rig:
            loop = asyncio.get_running_loop()
            await rig.first(PresentReading, 0.0)
            await asyncio.sleep(30.0)
            for _ in range(12):
                await asyncio.sleep(rng.uniform(20.0, 40.0))
                rig.port.start_optical_session(loop.time(), seconds=rng.uniform(3.0, 8.0))
                ends = rig.port.optical_until or loop.time()
                await asyncio.sleep(ends - loop.time())
                gaps.append(await rig.first(PresentReading, ends) - ends)
            stats = rig.port.stats
            return {
                "comeback_s": _figures(gaps),
                "rate_violations": stats.read_rate_violations + stats.too_close_requests,
            }

    return in_virtual_time(scenario)


def idt(profile: str) -> dict[str, Any]:
    """IDT-version bumps (p.55) every 2-3 minutes: from the bump to the first power value
    read with the new layout (after the identity that says so)."""
    import asyncio  # noqa: PLC0415

    from bench.availability_rig import in_virtual_time, running  # noqa: PLC0415
    from mepd.readings import MeterIdentity, PresentReading  # noqa: PLC0415

    async def scenario() -> dict[str, Any]:
        rng = random.Random(11)
        gaps, exchanges = [], []
        async with running(profile) as rig:
            loop = asyncio.get_running_loop()
            await rig.first(PresentReading, 0.0)
            for _ in range(8):
                await asyncio.sleep(rng.uniform(120.0, 180.0))
                bumped = loop.time()
                before = rig.poller.session.stats.exchanges
                rig.port.bump_idt_version()
                known = await rig.first(MeterIdentity, bumped)
                gaps.append(await rig.first(PresentReading, known) - bumped)
                exchanges.append(rig.poller.session.stats.exchanges - before)
            stats = rig.port.stats
            return {
                "power_back_s": _figures(gaps),
                "exchanges_until_power": max(exchanges),
                "rate_violations": stats.read_rate_violations + stats.too_close_requests,
            }

    return in_virtual_time(scenario)


def noisy(profile: str) -> dict[str, Any]:
    from bench.availability_noise import compare  # noqa: PLC0415

    return compare(profile, minutes=15.0)


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "silence_no_gpio": lambda: silences(gpio=False),
    "silence_gpio": lambda: silences(gpio=True),
    "optical_gen3": optical,
    "idt_gen3": lambda: idt("gen3"),
    "idt_gen4": lambda: idt("gen4"),
    "noisy_gen3": lambda: noisy("gen3"),
    "noisy_gen4": lambda: noisy("gen4"),
    "broker_restart": lambda: _mqtt("broker_restart"),
    "ha_birth": lambda: _mqtt("ha_birth"),
}


def _mqtt(name: str) -> dict[str, Any]:
    from bench import availability_mqtt  # noqa: PLC0415

    result: dict[str, Any] = getattr(availability_mqtt, name)()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose mepd runs")
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    # This tree's bench (the package is bound first: its submodules load from its own
    # folder), the tree's mepd and tests (virtual time, Mosquitto).
    sys.path.insert(0, str(ROOT))
    import bench  # noqa: F401, PLC0415

    sys.path.insert(0, str(args.tree.resolve()))
    results = {}
    for name in args.only or SCENARIOS:
        results[name] = SCENARIOS[name]()
        if not args.json:
            print(f"{name}: {json.dumps(results[name], default=str)}", flush=True)
    if args.json:
        print(json.dumps({"tree": str(args.tree), "results": results}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
