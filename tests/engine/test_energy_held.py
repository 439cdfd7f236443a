"""Held-back energy: the problem it raises, the owner's acceptance, and sources listed twice.

The ten-minute glitch of issue 14 runs the real session, poller, intake and guard against the
simulator in-process, on an event loop whose clock jumps ahead (tests/virtual_time.py).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mepd.drivers.gpio import NoLinkControl
from mepd.drivers.simulator.driver import InProcessLink, InProcessTransport
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.profiles import PROFILES
from mepd.engine.intake import HELD_LOG_INTERVAL_S, Intake
from mepd.engine.poller import Poller
from mepd.engine.startup import Layout
from mepd.engine.state import (
    MeterState,
    StateFile,
    accept_request_path,
    write_accept_request,
)
from mepd.protocol import MepKey
from mepd.protocol.tables import (
    SOURCES,
    DataSelection,
    PresentRegisterSelection,
    decode_bt23_summations,
    decode_bt28,
)
from mepd.protocol.tables.sources import DEFAULT_PRESENT_VALUE_IDS, DEFAULT_SUMMATION_IDS
from mepd.publish.payloads import held_payload
from mepd.readings import EnergyHeld, EnergyReading, Event
from mepd.settings import MeterSettings, PlausibilityLimits, Schedule
from tests.virtual_time import VirtualTimeLoop

LIMITS = PlausibilityLimits()
GEN3 = PROFILES["gen3"]
HOST = datetime(2026, 1, 1, tzinfo=UTC)
GLITCH_WH = 117_000_000  # +117,000 kWh, as in issue 14


def _counters() -> dict[str, int]:
    return dict.fromkeys(("quarantined", "energy_held", "readings"), 0)


def _int32s(values: list[int]) -> bytes:
    return b"".join(struct.pack("<i", value) for value in values)


# --- a layout that lists a source twice ---------------------------------------------------------

_POWER_IMPORT_ID = next(i for i, s in SOURCES.items() if s.name == "power_import")
_ENERGY_IMPORT_ID = next(i for i, s in SOURCES.items() if s.name == "energy_import")


def _present_twice() -> tuple[PresentRegisterSelection, bytes]:
    """gen3's 55 present values, with power_import listed first (9 MW) and again (100 W)."""
    ids = list(DEFAULT_PRESENT_VALUE_IDS[: GEN3.dims.present_values])
    again = next(k for k, i in enumerate(ids) if SOURCES[i].name == "reactive_power_import")
    ids[again] = _POWER_IMPORT_ID
    raws = []
    for k, source_id in enumerate(ids):
        source = SOURCES[source_id]
        if source.name == "power_import":
            raws.append(9_000_000 if k < again else 100)
        elif source.unit.symbol == "V":
            raws.append(round(230 / source.scale))
        elif source.unit.symbol == "Hz":
            raws.append(round(50 / source.scale))
        elif source.name == "power_import_l1":
            raws.append(100)
        else:
            raws.append(0)
    return PresentRegisterSelection(tuple(ids)), _int32s(raws)


def _summations_twice() -> tuple[DataSelection, bytes]:
    """gen3's 11 summations, energy_import listed at 0 (9e12 Wh) and again at 2 (5 kWh)."""
    ids = list(DEFAULT_SUMMATION_IDS[: GEN3.dims.summations])
    ids[2] = _ENERGY_IMPORT_ID
    raws = [0] * len(ids)
    raws[0], raws[1], raws[2] = 2_000_000_000, 7_000, 5_000
    return DataSelection(tuple(ids), (), (), (), ()), _int32s(raws)


def test_the_decoders_leave_a_source_listed_twice_out_of_every_lookup() -> None:
    selection, data = _present_twice()
    values = decode_bt28(data, GEN3.dims, selection).values
    assert values.duplicates == {"power_import"}
    assert values.get("power_import") is None
    assert "power_import" not in {m.name for m in values.unique}
    assert len(values) == GEN3.dims.present_values  # the table itself is decoded whole

    sources, energy = _summations_twice()
    summations = decode_bt23_summations(energy, GEN3.dims, sources).summations
    assert summations.duplicates == {"energy_import"}
    assert summations.get("energy_import") is None
    assert summations.get("energy_export") is not None


def test_the_intake_publishes_neither_duplicate_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counters = _counters()
    intake = Intake(LIMITS, counters, clock=lambda: 0.0)
    intake.adopt(MeterState(serial="S"))
    selection, data = _present_twice()
    sources, energy = _summations_twice()
    layout = Layout(GEN3.dims, selection, sources, GEN3.dims.summations, None)
    with caplog.at_level(logging.WARNING, logger="mepd.engine.intake"):
        first = intake.present(data, layout, "S", HOST)
        second = intake.present(data, layout, "S", HOST)
        taken = intake.energy(energy, layout, "S", HOST, MeterState(serial="S"))
    assert first is not None
    assert second is not None
    assert first.values.get("power_import") is None
    assert "power_import" not in {m.name for m in first.values}
    assert first.values.get("voltage_l1") is not None
    assert taken.reading is not None
    assert taken.reading.registers.get("energy_import") is None
    assert [m.name for m in taken.reading.registers] == ["energy_export", "reactive_energy_export"]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2, warnings  # one per table, not one per read
    assert "BT27" in warnings[0]
    assert "power_import" in warnings[0]
    assert "BT22" in warnings[1]
    assert "energy_import" in warnings[1]
    assert counters["quarantined"] == 0


# --- held back: the event, the log, the clearing ------------------------------------------------


def _bt23(import_wh: int, export_wh: int = 0) -> bytes:
    return _int32s([import_wh, export_wh] + [0] * (GEN3.dims.summations - 2))


def test_a_held_register_is_reported_logged_once_and_cleared(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    counters = _counters()
    intake = Intake(LIMITS, counters, clock=lambda: now[0])
    state = MeterState(serial="S", energy={"energy_import": (1_000_000.0, HOST.timestamp())})
    intake.adopt(state)
    layout = Layout(GEN3.dims, None, None, GEN3.dims.summations, None)

    def read(at_s: float, import_wh: int) -> tuple[EnergyReading | None, EnergyHeld | None]:
        now[0] = at_s
        moment = datetime.fromtimestamp(HOST.timestamp() + at_s, UTC)
        taken = intake.energy(_bt23(import_wh), layout, "S", moment, state)
        return taken.reading, taken.held

    with caplog.at_level(logging.INFO, logger="mepd.engine.intake"):
        reading, held = read(15.0, 1_000_010)
        assert held == EnergyHeld("S", ())  # the first read after start-up: nothing held
        assert reading is not None
        for step in range(40):  # ten minutes of the glitch, every 15 s
            reading, held = read(30.0 + 15 * step, 1_000_010 + GLITCH_WH + step)
            assert reading is not None
            assert reading.registers.get("energy_import") is None
            assert held is not None
            assert [r.name for r in held.registers] == ["energy_import"]
        reading, held = read(HELD_LOG_INTERVAL_S + 31.0, 1_000_500)
    assert reading is not None
    assert reading.registers.get("energy_import") is not None
    assert held == EnergyHeld("S", ())  # cleared
    assert state.energy["energy_import"][0] == 1_000_500
    assert counters["energy_held"] == counters["quarantined"] == 40
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lines) == 1  # said once; the next would come after 10 minutes
    assert "energy_import held back" in lines[0]
    assert "118,000.049 kWh" not in lines[0]
    assert "the meter says 118,000.010 kWh, the last published is 1,000.010 kWh" in lines[0]
    assert "fuse allows" in lines[0]
    assert "mepd accept-energy" in lines[0]
    assert any("plausible again" in r.getMessage() for r in caplog.records)


def test_the_owner_accepts_through_the_intake_and_nothing_else_does() -> None:
    intake = Intake(LIMITS, _counters(), clock=lambda: 0.0)
    state = MeterState(serial="S", energy={"energy_import": (1_000_000.0, HOST.timestamp())})
    intake.adopt(state)
    layout = Layout(GEN3.dims, None, None, GEN3.dims.summations, None)
    later = datetime.fromtimestamp(HOST.timestamp() + 15, UTC)
    held = intake.energy(_bt23(500_000), layout, "S", later, state)
    assert held.reading is not None
    assert held.reading.registers.get("energy_import") is None
    assert not held.owner_accepted
    taken = intake.energy(_bt23(500_010), layout, "S", later, state, owner_accepts=True)
    assert taken.owner_accepted
    assert taken.reading is not None
    register = taken.reading.registers.get("energy_import")
    assert register is not None
    assert register.value == 500_010
    assert state.energy["energy_import"][0] == 500_010
    assert taken.held == EnergyHeld("S", ())


# --- issue 14's "done when": ten minutes of +117,000 kWh, then `mepd accept-energy` -----------

START_WALL = 1_790_000_000.0


Run = tuple[list[tuple[float, Event]], dict[str, float], Poller]


async def _ten_minutes_of_glitch(state_path: Path) -> Run:
    loop = asyncio.get_running_loop()
    port = simulated_meter(GEN3, seed=7, epoch=0.0, start_wall=START_WALL)
    events: list[tuple[float, Event]] = []
    marks: dict[str, float] = {}
    settings = MeterSettings(
        key=MepKey.parse(DEMO_MBK),
        schedule=Schedule(present_s=5.0, energy_s=15.0),
        state_path=state_path,
    )
    async with InProcessLink(port, clock=loop.time, poll_interval_s=0.02) as link:
        poller = Poller(
            settings,
            InProcessTransport(link),
            NoLinkControl(),
            lambda event: events.append((loop.time(), event)),
            wall_clock=lambda: datetime.fromtimestamp(START_WALL + loop.time(), UTC),
        )
        task = asyncio.create_task(poller.run())
        await asyncio.sleep(60.0)  # a baseline
        port.set_faults(energy_offset_wh=GLITCH_WH)
        marks["glitch starts"] = loop.time()
        await asyncio.sleep(600.0)  # ten minutes of the glitch
        write_accept_request(state_path, "0000031234567890", "now")
        marks["owner accepts"] = loop.time()
        await asyncio.sleep(60.0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return events, marks, poller


def test_ten_minutes_of_117000_kwh_publish_nothing_above_physics_until_the_owner_accepts(
    tmp_path: Path,
) -> None:
    state_path = tmp_path / "mep0.json"
    loop = VirtualTimeLoop()
    try:
        events, marks, poller = loop.run_until_complete(_ten_minutes_of_glitch(state_path))
    finally:
        loop.close()
    published = [
        (at, e.host_time.timestamp(), e.registers.get("energy_import"))
        for at, e in events
        if isinstance(e, EnergyReading)
    ]
    series = [(at, wall, r.value) for at, wall, r in published if r is not None]
    before = [(wall, value) for at, wall, value in series if at < marks["owner accepts"]]
    after = [value for at, _, value in series if at > marks["owner accepts"]]

    # Until the owner accepts: never down, never faster than the fuse; the other registers go
    # on being published all the while.
    during = [at for at, _, _ in published if marks["glitch starts"] < at < marks["owner accepts"]]
    assert len(during) >= 39
    assert len(before) >= 3
    for (wall0, value0), (wall1, value1) in itertools.pairwise(before):
        assert 0 <= value1 - value0 <= LIMITS.max_energy_increase_wh(wall1 - wall0)
    baseline = before[0][1]
    assert before[-1][1] < baseline + 100_000  # nothing near the glitch
    assert all(at < marks["glitch starts"] + 15.0 for at, _, _ in series if at in during)

    # The problem entity says why, throughout the ten minutes.
    problems = [(at, e) for at, e in events if isinstance(e, EnergyHeld) and e.registers]
    glitch = [at for at, _ in problems if marks["glitch starts"] < at < marks["owner accepts"]]
    assert glitch
    assert marks["owner accepts"] - glitch[0] >= 580.0
    held = problems[-1][1]
    payload = json.loads(held_payload(held))
    assert payload["energy_held"] is True
    assert payload["register"] == "energy_import"
    assert payload["held_kwh"] > payload["last_published_kwh"] + 116_999
    assert "the fuse allows" in payload["reason"]

    # `mepd accept-energy`: published, the problem cleared, the request consumed and saved.
    assert after
    assert after[0] > baseline + GLITCH_WH - 1
    assert after == sorted(after)
    last_held = [e for _, e in events if isinstance(e, EnergyHeld)][-1]
    assert last_held.registers == ()
    assert not accept_request_path(state_path).exists()
    saved = StateFile(state_path).peek()
    assert saved is not None
    assert saved.energy["energy_import"][0] > baseline + GLITCH_WH - 1
    assert poller.counters["energy_held"] >= 40
