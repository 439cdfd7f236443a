"""An IDT-version change re-reads the dimensions only (p.55), and power comes back within 3 s."""

from __future__ import annotations

import asyncio
import random

import pytest

import mepd.engine.poller as poller_module
from mepd.drivers.simulator.profiles import PROFILES
from mepd.drivers.simulator.registers import meter_summation
from mepd.engine import startup
from mepd.readings import EnergyReading, MeterIdentity, Piece, PresentReading
from tests.engine.inprocess import in_virtual_time, running


@pytest.mark.parametrize("profile", ["gen3", "gen4"])
def test_an_idt_bump_rereads_the_dimensions_and_power_is_back_within_3_s(
    profile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    start_ups = []
    read_meter = startup.read_meter  # what the poller calls, counted below

    async def counted(*args: object, **kwargs: object) -> object:
        start_ups.append(1)
        return await read_meter(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(poller_module, "read_meter", counted)

    async def scenario() -> tuple[list[float], list[MeterIdentity], int]:
        rng = random.Random(3)
        gaps = []
        async with running(profile) as rig:
            await rig.wait_for(PresentReading, 2)
            loop = asyncio.get_running_loop()
            for _ in range(3):
                await asyncio.sleep(90.0 + rng.uniform(0.0, 1.5))
                rig.port.bump_idt_version()
                bumped = loop.time()
                count = len(rig.of(PresentReading))
                gaps.append(await rig.wait_for(PresentReading, count + 1) - bumped)
            energy = len(rig.of(EnergyReading))
            await rig.wait_for(EnergyReading, energy + 1)  # BT22 was read again after power
            return gaps, rig.of(MeterIdentity), rig.port.stats.read_rate_violations

    gaps, identities, violations = in_virtual_time(scenario)
    assert violations == 0
    assert max(gaps) <= 3.0
    assert len(start_ups) == 1  # BT00, BT01, ET03 and the channel are not read again
    assert [i.idt_version for i in identities] == [
        (identities[0].idt_version or 0) + n for n in range(4)
    ]
    assert len({i.serial for i in identities}) == 1


def test_after_an_idt_change_power_comes_first_as_the_short_piece_then_the_whole_table() -> None:
    async def scenario() -> list[PresentReading]:
        async with running("gen4") as rig:
            await rig.wait_for(PresentReading, 2)
            await asyncio.sleep(120.3)  # the read reserve is built (timetable.ReadReserve)
            rig.port.bump_idt_version()
            identities = len(rig.of(MeterIdentity))
            known = await rig.wait_for(MeterIdentity, identities + 1)  # the new layout
            await asyncio.sleep(5.0)
            return [e for t, e in rig.events if isinstance(e, PresentReading) and t > known]

    first, then, *_ = in_virtual_time(scenario)
    assert (first.piece, then.piece) == (Piece.POWER, None)


@pytest.mark.parametrize("profile", ["ct-10", "ct-100"])
def test_an_idt_change_keeps_the_energy_unit_of_a_ct_meter(profile: str) -> None:
    """ET55's unit (p.158) is read again after an IDT change, never dropped to 1 Wh."""
    meter = PROFILES[profile]

    async def scenario() -> tuple[list[float], set[float], int]:
        async with running(profile) as rig:
            await rig.wait_for(EnergyReading, 1)
            rig.port.bump_idt_version()
            energy = len(rig.of(EnergyReading))
            await rig.wait_for(EnergyReading, energy + 2)
            published = [
                register.value
                for reading in rig.of(EnergyReading)
                if (register := reading.registers.get("energy_import")) is not None
            ]
            served = {
                float(meter_summation(meter, s.truth, 0) * meter.energy_unit)
                for s in rig.port.meter.history
                if s.table == 23
            }
            return published, served, rig.port.stats.read_rate_violations

    published, served, violations = in_virtual_time(scenario)
    assert violations == 0
    assert len(published) >= 3
    assert set(published) <= served  # in Wh before and after the change
