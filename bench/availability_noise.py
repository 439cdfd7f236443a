"""A noisy line (0.2 % of the meter's bytes corrupted, 0.2 % dropped): mepd beside a client
that polls the way the community firmware does, each against its own simulated meter.

The community policy: BT28 and BT23 every 1-2 s, no 100 ms spacing rule, an identical resend
after 500 ms, a 10 s wait after a second timeout, and no digest check, so a corrupted answer
is data. Its readings are counted, and every value is compared with the meter's truth; so
are mepd's published ones. Virtual time (bench/availability_rig.py).
"""

from __future__ import annotations

import asyncio
import itertools
import random
from typing import Any

from bench.availability_rig import KEY, START_WALL, in_virtual_time, running
from mepd.drivers.simulator.driver import InProcessLink, InProcessTransport
from mepd.drivers.simulator.factory import simulated_meter
from mepd.drivers.simulator.faults import FaultSettings
from mepd.drivers.simulator.profiles import PROFILES
from mepd.drivers.simulator.registers import present_value
from mepd.engine.session import session_for
from mepd.engine.startup import read_meter
from mepd.errors import MepdError
from mepd.protocol import PartialRead
from mepd.protocol import frames as mep_frames
from mepd.protocol.errors import SequenceError
from mepd.protocol.sequence import SequenceCounter
from mepd.protocol.stream import Frame, FrameDecoder
from mepd.protocol.tables import decode_bt28, plan_bt23, plan_bt28
from mepd.readings import PresentReading

LINE = FaultSettings(tx_corrupt_rate=0.002, tx_drop_rate=0.002)
DIGEST_BYTES = 8


def _wrong(values: Any, truth: Any) -> bool:
    return any(m.raw != present_value(truth, m.source.id) for m in values)


def _truth_at(history: Any, at: float) -> Any:
    served = [s for s in history if s.table == 28 and s.monotonic <= at]
    return served[-1].truth if served else None


async def _community(profile: str, seconds: float, seed: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    port = simulated_meter(
        PROFILES[profile], seed=seed, epoch=0.0, start_wall=START_WALL, history_limit=100_000
    )
    async with InProcessLink(port, clock=loop.time, poll_interval_s=0.02) as link:
        # Its layout is built in (the firmware knows its meter): read it on a clean line.
        session = session_for("rc4", InProcessTransport(link), KEY)
        _, layout = await read_meter(session.read, port="community", security="rc4")
        port.set_faults(LINE)
        counter = SequenceCounter(random.Random(seed).getrandbits(32))
        decoder = FrameDecoder()

        async def frame() -> bytes | None:
            """500 ms to the first bytes (p.21), then as long as the longest frame takes."""
            deadline = loop.time() + 0.5
            started = False
            while (left := deadline - loop.time()) > 0:
                try:
                    async with asyncio.timeout(left):
                        data = await link.read()
                except TimeoutError:
                    break
                if not started:
                    started = True
                    deadline = loop.time() + 0.6  # 476 bytes at 9600 baud, and the gaps
                for event in decoder.feed(data):
                    if isinstance(event, Frame):
                        return event.body
            decoder.reset()
            return None

        async def read(request: PartialRead) -> bytes | None:
            signed = mep_frames.sign_request(request, counter.take(), KEY)
            for _ in range(2):  # the identical resend
                link.drain()
                link.write(signed.frame)
                body = await frame()
                if body is None:
                    continue
                try:  # no digest check: whatever arrived is the answer
                    return mep_frames._interpret(signed, body[:-DIGEST_BYTES]).data
                except SequenceError as error:
                    counter.adopt(error.expected)
                    return b""
                except (MepdError, IndexError):  # too short to parse: the firmware drops it
                    return b""
            return None

        readings, wrong = 0, 0
        rng = random.Random(seed)
        end = loop.time() + seconds
        while loop.time() < end:
            timed_out = False
            for plan in (plan_bt28(layout.dims), plan_bt23(layout.dims, layout.energy_summations)):
                parts = [await read(request) for request in plan]
                if any(p is None for p in parts):
                    timed_out = True
                    break
                answers = [p for p in parts if p]
                if plan[0].table != 28 or len(answers) != len(parts):
                    continue
                try:
                    values = decode_bt28(b"".join(answers), layout.dims, layout.selection).values
                except (MepdError, ValueError):
                    continue
                readings += 1
                truth = _truth_at(port.meter.history, loop.time())
                wrong += truth is not None and _wrong(values, truth)
            await asyncio.sleep(10.0 if timed_out else rng.uniform(1.0, 2.0))
        return {
            "readings_per_min": readings / (seconds / 60.0),
            "wrong_readings": wrong,
            "too_close_requests": port.stats.too_close_requests,
        }


async def _mepd(profile: str, seconds: float, seed: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    async with running(profile, faults=LINE, seed=seed) as rig:
        await asyncio.sleep(seconds + 30.0)
        start = 30.0
        times = [t for t in rig.times(PresentReading) if t >= start]
        gaps = sum(1 for a, b in itertools.pairwise(times) if b - a > 5.0)
        # Every reading carries the power; a piece (issue 19, noisy line) carries nothing else.
        # `getattr`: a checkout from before pieces (`--tree`) has whole tables only.
        whole = [
            t
            for t, e in rig.events
            if isinstance(e, PresentReading) and t >= start and getattr(e, "piece", None) is None
        ]
        wrong = 0
        for at, event in rig.events:
            if isinstance(event, PresentReading) and at >= start:
                truth = _truth_at(rig.port.meter.history, at)
                wrong += truth is not None and _wrong(event.values, truth)
        stats = rig.port.stats
        return {
            "readings_per_min": len(times) / (seconds / 60.0),
            "gaps_over_5s": gaps,
            "whole_tables_per_min": len(whole) / (seconds / 60.0),
            "whole_gaps_over_15s": sum(1 for a, b in itertools.pairwise(whole) if b - a > 15.0),
            "wrong_readings": wrong,
            "rate_violations": stats.read_rate_violations + stats.too_close_requests,
            "at": loop.time(),
        }


def compare(profile: str, minutes: float) -> dict[str, Any]:
    seconds = minutes * 60.0
    mepd = in_virtual_time(lambda: _mepd(profile, seconds, seed=21))
    community = in_virtual_time(lambda: _community(profile, seconds, seed=21))
    mepd.pop("at", None)
    return {"minutes": minutes, "mepd": mepd, "community": community}
