"""Readings come back within 10 s of the meter answering again; a silent meter is not pestered.

Virtual time (tests/engine/inprocess.py): the figures are exact, and minutes take a moment.
"""

from __future__ import annotations

import asyncio

from mepd.engine.recovery import PROBE_EVERY_S
from mepd.readings import Piece, PresentReading
from tests.engine.inprocess import Rig, in_virtual_time, running

# After the meter answers again: the probe's cadence, then one probe and one BT28 read.
COMEBACK_S = 10.0 + 1.0


async def _frames_per_minute(rig: Rig, seconds: float) -> int:
    """The most frames the client sends in any 60 s window of the next `seconds`."""
    start = asyncio.get_running_loop().time()
    await asyncio.sleep(seconds)
    return rig.most_frames_a_minute(start, start + seconds)


async def _just_after_a_probe(rig: Rig) -> None:
    """Wait until a probe went out and timed out: the worst moment for the meter to recover."""
    sent = len(rig.transport.sent)
    for _ in range(2000):
        if len(rig.transport.sent) > sent:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.6)


def test_a_silent_meter_without_gpio_sees_6_frames_a_minute_and_is_found_within_10_s() -> None:
    async def scenario() -> tuple[int, float, int]:
        async with running("gen4", gpio=False) as rig:
            await rig.wait_for(PresentReading, 2)
            rig.port.latch_up()  # no GPIO: nothing mepd does cures it
            await asyncio.sleep(60.0)  # the ladder's first rungs are behind
            most = await _frames_per_minute(rig, 121.0)
            await _just_after_a_probe(rig)
            loop = asyncio.get_running_loop()
            rig.port.latched = False  # the line comes back by itself (a USB adapter's reset)
            back = loop.time()
            count = len(rig.of(PresentReading))
            return most, await rig.wait_for(PresentReading, count + 1) - back, count

    most, comeback_s, _ = in_virtual_time(scenario)
    assert most <= 6
    assert comeback_s <= COMEBACK_S
    assert comeback_s > PROBE_EVERY_S - 2.0  # it really was the worst case: a probe's wait


def test_a_long_optical_session_on_gen3_with_gpio_is_found_within_10_s() -> None:
    async def scenario() -> tuple[int, float]:
        async with running("gen3", gpio=True) as rig:
            await rig.wait_for(PresentReading, 2)
            loop = asyncio.get_running_loop()
            rig.port.start_optical_session(loop.time(), seconds=200.0)
            await asyncio.sleep(60.0)
            most = await _frames_per_minute(rig, 121.0)
            ends = rig.port.optical_until
            assert ends is not None
            await asyncio.sleep(ends - loop.time())
            count = len(rig.of(PresentReading))
            return most, await rig.wait_for(PresentReading, count + 1) - ends

    most, comeback_s = in_virtual_time(scenario)
    assert most <= 6
    assert comeback_s <= COMEBACK_S


def test_a_latch_up_with_gpio_is_cured_at_the_first_rung() -> None:
    async def scenario() -> float:
        async with running("gen4", gpio=True) as rig:
            await rig.wait_for(PresentReading, 2)
            loop = asyncio.get_running_loop()
            rig.port.latch_up()
            latched = loop.time()
            count = len(rig.of(PresentReading))
            return await rig.wait_for(PresentReading, count + 1) - latched

    assert in_virtual_time(scenario) < 5.0


def test_the_probe_that_finds_the_meter_again_is_itself_a_power_reading() -> None:
    """No BT52 probe, then a BT28 read: the probe reads the power piece and publishes it. Its
    sequence number is the one the silent probes gave back, so no 0x0C and no IDT check."""

    async def scenario() -> tuple[float, PresentReading, int]:
        async with running("gen4", gpio=False) as rig:
            await rig.wait_for(PresentReading, 2)
            rig.port.latch_up()
            await asyncio.sleep(60.0)
            await _just_after_a_probe(rig)
            loop = asyncio.get_running_loop()
            rig.port.latched = False
            back, sent = loop.time(), len(rig.transport.sent)
            count = len(rig.of(PresentReading))
            found = await rig.wait_for(PresentReading, count + 1)
            frames = len([t for t in rig.transport.sent[sent:] if t <= found])
            return found - back, rig.of(PresentReading)[count], frames

    comeback_s, first, frames = in_virtual_time(scenario)
    assert first.piece is Piece.POWER
    assert frames == 1
    assert PROBE_EVERY_S - 1.0 < comeback_s <= PROBE_EVERY_S
