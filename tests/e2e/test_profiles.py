"""Each simulator profile end to end: `mepd run` (a real process) over a pty to Mosquitto.

The simulator runs in this process so its served history is at hand: every published value
must equal the meter's truth at the instant it answered (the last BT28/BT23 served before the
message arrived; `time.monotonic()` is one clock for both processes). The CT profiles count
in 10 or 100 Wh (ET55, p.158): what is published must still be the Wh the meter means.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from mepd.drivers.simulator.driver import PtyMeter
from mepd.drivers.simulator.factory import simulated_meter
from mepd.drivers.simulator.history import ServedHistory, ServedReading
from mepd.drivers.simulator.profiles import PROFILES, MeterProfile
from mepd.drivers.simulator.registers import meter_present_value, meter_summation
from mepd.protocol.tables import Measurement, source_for, summation_source
from mepd.protocol.tables.names import (
    ENERGY_REGISTERS,
    POWER_FACTORS,
    POWERS_EXPORT,
    POWERS_IMPORT,
)
from tests.mosquitto import Listener, Message, Mosquitto
from tests.processes import PYTHON

_PRESENT_TOLERANCE = 0.051  # payloads round to at least one decimal
_KWH_TOLERANCE = 0.0005  # energy goes out in kWh to the Wh


def _served_before(history: ServedHistory, table: int, at: float) -> ServedReading:
    found = [s for s in history if s.table == table and s.monotonic <= at]
    assert found, f"nothing served from table {table} before the message"
    return found[-1]


def _check_present(profile: MeterProfile, message: Message, history: ServedHistory) -> int:
    truth = _served_before(history, 28, message.at).truth
    payload = message.json()
    checked = 0
    for source_id in profile.present_value_sources:
        source = source_for(source_id)
        if source.name not in payload:
            continue
        expected = Measurement.of(source, meter_present_value(profile, truth, source_id)).value
        assert abs(payload[source.name] - expected) <= _PRESENT_TOLERANCE, (source.name, expected)
        checked += 1
    return checked


def _check_energy(profile: MeterProfile, message: Message, history: ServedHistory) -> int:
    truth = _served_before(history, 23, message.at).truth
    payload = message.json()
    checked = 0
    for source_id in profile.summation_sources:
        source = summation_source(source_id)
        if source.name not in ENERGY_REGISTERS or source.name not in payload:
            continue
        wh = meter_summation(profile, truth, source_id) * profile.energy_unit
        assert abs(payload[source.name] - wh / 1000) <= _KWH_TOLERANCE, (source.name, wh)
        checked += 1
    return checked


@pytest.mark.asyncio
@pytest.mark.parametrize("name", sorted(PROFILES))
async def test_published_values_are_the_meters_truth(
    name: str, daemon_config: Path, broker: Mosquitto
) -> None:
    profile = PROFILES[name]
    port = simulated_meter(profile, epoch=time.monotonic(), start_wall=time.time())
    history: ServedHistory = port.meter.history
    prefix = f"mepd/meter/{profile.utility_serial}"
    async with PtyMeter(port) as pty:
        with Listener(broker.port, (f"{prefix}/#",)) as listener:
            process = await asyncio.create_subprocess_exec(
                *(PYTHON, "-m", "mepd", "run", "--config", str(daemon_config)),
                *("--serial", pty.path, "--mqtt", f"mqtt://127.0.0.1:{broker.port}"),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                await listener.wait_topic(f"{prefix}/energy", within_s=30)
                await listener.wait_topic(f"{prefix}/present", count=2, within_s=15)
            except AssertionError as missing:
                process.terminate()
                _, errors = await asyncio.wait_for(process.communicate(), 15)
                raise AssertionError(f"{missing}; mepd said:\n{errors.decode()}") from None
            process.terminate()
            _, errors = await asyncio.wait_for(process.communicate(), 15)
            presents, energies = listener.on(f"{prefix}/present"), listener.on(f"{prefix}/energy")
    stderr = errors.decode()
    assert "Traceback" not in stderr
    assert all(_check_present(profile, m, history) >= 8 for m in presents)
    assert all(_check_energy(profile, m, history) >= 2 for m in energies)
    if profile.signed_power_factor:  # dk-83331: L1 exports while L2 and L3 import
        for payload in (m.json() for m in presents):
            assert payload[POWER_FACTORS[0]] < 0 < payload[POWER_FACTORS[1]]
            assert payload[POWERS_EXPORT[0]] > 0
            assert payload[POWERS_IMPORT[1]] > 0
            assert payload[POWERS_IMPORT[2]] > 0
    if profile.energy_unit != 1:
        assert "energy in units of" in stderr  # start-up read ET55 and said so
