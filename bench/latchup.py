"""Latch-up recovery, measured in ONE process: daemon, simulated meter and GPIO together.

Why in-process: curing a latch-up takes the daemon switching the transceiver's supply off
for a second through GPIO, and the simulated transceiver has to see that pin. gpiozero's
MockFactory keeps pins in the process that made them, so the daemon (`mepd.service.daemon.serve`,
exactly what `mepd run` calls, with the HAT's default lines) and the simulator (its
`GpioPinPower` reading the daemon's power pin) share one. The serial line is still a real
pty at 9600 baud and the broker a real Mosquitto; only the process boundary is gone.

Each round: wait a random part of the poll period, latch the transceiver up (nothing passes
until its supply was off >= 1 s), and time until the broker delivers a present payload whose
answer arrived after the latch-up. A 5 ms watcher on the power pin splits that into
detection (latch-up -> power off), the power cycle (off -> on) and re-reading (on -> broker).

Prints one JSON line. Run by bench/run.py with --mqtt-port of its broker.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import random
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gpiozero import Device  # noqa: E402
from gpiozero.pins.mock import MockFactory  # noqa: E402

from bench.processes import write_config  # noqa: E402
from bench.simhost import bench_profile  # noqa: E402
from bench.subscriber import Received, Subscriber  # noqa: E402

ROUND_TIMEOUT_S = 20.0
WATCH_EVERY_S = 0.005


async def _wait(
    subscriber: Subscriber, predicate: Any, count: int = 1, within_s: float = ROUND_TIMEOUT_S
) -> list[Received] | None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        found = subscriber.select(predicate)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.005)
    return None


async def run(args: argparse.Namespace) -> dict[str, Any]:
    Device.pin_factory = MockFactory()
    from mepd.config.load import load_config  # noqa: PLC0415 - after the pin factory is set
    from mepd.drivers.simulator.driver import PtyMeter  # noqa: PLC0415
    from mepd.drivers.simulator.factory import simulated_meter  # noqa: PLC0415
    from mepd.drivers.simulator.power import GpioPinPower  # noqa: PLC0415
    from mepd.service.daemon import serve  # noqa: PLC0415
    from mepd.settings import GpioLines  # noqa: PLC0415

    profile = bench_profile(1)
    port = simulated_meter(
        profile, power=GpioPinPower(), epoch=time.monotonic(), start_wall=time.time()
    )
    present = f"mepd/meter/{profile.utility_serial}/present"
    rng = random.Random(7)
    rounds: list[dict[str, float]] = []
    transitions: list[tuple[float, bool]] = []
    async with PtyMeter(port) as pty:
        generated = write_config(Path(args.workdir) / "config", [pty.path], args.mqtt_port)
        config = load_config(generated)
        meter = dataclasses.replace(config.meters[0], gpio=GpioLines())  # the HAT's lines
        config = dataclasses.replace(config, meters=(meter,))
        subscriber = Subscriber(args.mqtt_port).start()
        stop = asyncio.Event()
        daemon = asyncio.create_task(serve(config, stop=stop))
        pin = GpioPinPower()

        async def watch() -> None:
            state = pin.powered()
            while True:
                now_state = pin.powered()
                if now_state != state:
                    transitions.append((time.monotonic(), now_state))
                    state = now_state
                await asyncio.sleep(WATCH_EVERY_S)

        watcher = asyncio.create_task(watch())
        offset = time.time() - time.monotonic()

        def arrived_after(moment: float) -> Any:
            def check(message: Received) -> bool:
                if message.topic != present:
                    return False
                ts = datetime.fromisoformat(json.loads(message.payload)["ts"]).timestamp()
                return ts - offset > moment

            return check

        try:
            if await _wait(subscriber, lambda m: m.topic == present, count=2) is None:
                raise RuntimeError("no present payloads before the first latch-up")
            # --settle: let the read budget refill from the start-up burst first (each
            # resend takes a token; with none left it waits 1.25 s for one)
            await asyncio.sleep(args.settle)
            for _ in range(args.count):
                await asyncio.sleep(rng.uniform(0.0, meter.schedule.present_s))
                latched = time.monotonic()
                port.latch_up()
                found = await _wait(subscriber, arrived_after(latched))
                if found is None:
                    rounds.append({"recovery_s": float("nan")})
                    continue
                back = found[0].at
                off = next((t for t, on in transitions if t > latched and not on), float("nan"))
                on = next((t for t, on in transitions if t > off and on), float("nan"))
                rounds.append(
                    {
                        "recovery_s": back - latched,
                        "detect_s": off - latched,
                        "power_cycle_s": on - off,
                        "reread_s": back - on,
                    }
                )
                # steady again before the next round
                await _wait(subscriber, arrived_after(back), count=1)
        finally:
            watcher.cancel()
            stop.set()
            await asyncio.gather(daemon, watcher, return_exceptions=True)
            subscriber.stop()
    recoveries = [r["recovery_s"] for r in rounds]
    return {
        "in_process": True,
        "settle_s": args.settle,
        "rounds": rounds,
        "max_s": max(recoveries) if recoveries else float("nan"),
        "mean_s": statistics.fmean(recoveries) if recoveries else float("nan"),
        "latchups": port.stats.latchups,
        "latchup_recoveries": port.stats.latchup_recoveries,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mqtt-port", type=int, required=True)
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--settle", type=float, default=0.0, help="seconds before the first")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    print(json.dumps(asyncio.run(run(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
