"""`mepd probe` against the simulator over a pty: a reading, or a precise reason."""

from __future__ import annotations

import asyncio
import time

import pytest

from mepd.cli.meter_probe import ProbeError, probe, report
from mepd.drivers.gpio import NoLinkControl
from mepd.drivers.serial import SerialPort
from mepd.drivers.simulator.driver import InProcessLink, InProcessTransport, PtyMeter
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.profiles import PROFILES
from mepd.protocol import MepKey
from mepd.settings import MeterSettings


@pytest.mark.asyncio
@pytest.mark.parametrize("profile", ["gen3", "gen4"])
async def test_probe_prints_identity_and_a_decoded_reading(profile: str) -> None:
    port = simulated_meter(PROFILES[profile], epoch=time.monotonic(), start_wall=time.time())
    async with PtyMeter(port) as pty:
        result = await probe(
            MeterSettings(key=MepKey.parse(DEMO_MBK)), SerialPort(pty.path), NoLinkControl()
        )
    assert result.identity.serial == PROFILES[profile].utility_serial
    lines = report(result)
    assert lines[0].startswith(f"meter {PROFILES[profile].utility_serial}: ")
    assert any(line.startswith("  voltage_l1: ") and line.endswith(" V") for line in lines)
    assert any(line.startswith("  energy_import: ") and line.endswith(" kWh") for line in lines)
    # p.27-31: the simulator keeps a week and the day in progress of 15-minute intervals.
    (offer,) = [line for line in lines if line.startswith("load profile: ")]
    assert offer.startswith("load profile: 15-minute intervals of energy_import, energy_export; 7.")
    assert "up to 8 blocks of 96" in offer
    # Issue 20: one line each for billing, event logs, outages and the relay.
    billing = PROFILES[profile].dims.self_reads
    assert f"billing snapshots: {billing} of {billing} self-reads held (BT26)" in "\n".join(lines)
    assert any(line.startswith("event logs: BT74 holds 14 of 100 events") for line in lines)
    assert any(line.startswith("outage log: ") and "held (ET81)" in line for line in lines)
    relay = (
        "relay: disconnect relay closed" if PROFILES[profile].disconnect_relay else "relay: none"
    )
    assert any(line.startswith(relay) for line in lines)
    assert lines[-1] == "M-Bus devices: none"  # p.84: slots 1-4 empty


@pytest.mark.virtual_time
async def test_probe_lists_the_m_bus_devices() -> None:
    clock = asyncio.get_running_loop().time
    port = simulated_meter(PROFILES["gen4-mbus"], epoch=clock(), start_wall=time.time())
    async with InProcessLink(port, clock=clock) as link:
        result = await probe(
            MeterSettings(key=MepKey.parse(DEMO_MBK)), InProcessTransport(link), NoLinkControl()
        )
    assert report(result)[-3:] == [
        "M-Bus devices:",
        "  slot 1: gas meter 52604301 (ACW, medium 0x03, version 20)",
        "  slot 2: water meter 71123402 (KAM, medium 0x07, version 27)",
    ]


@pytest.mark.virtual_time
async def test_a_wrong_key_is_named_as_such() -> None:
    clock = asyncio.get_running_loop().time
    port = simulated_meter(PROFILES["gen4"], epoch=clock(), start_wall=time.time())
    async with InProcessLink(port, clock=clock) as link:
        with pytest.raises(ProbeError, match="rejected the key"):
            await probe(
                MeterSettings(key=MepKey.parse("WRONG-KEY-WRONG-KEY!")),
                InProcessTransport(link),
                NoLinkControl(),
            )


@pytest.mark.asyncio
async def test_a_missing_port_is_named_as_such(tmp_path: object) -> None:
    with pytest.raises(ProbeError, match="/nonexistent/tty"):
        await probe(
            MeterSettings(key=MepKey.parse(DEMO_MBK)),
            SerialPort("/nonexistent/tty"),
            NoLinkControl(),
            timeout_s=10,
        )


@pytest.mark.virtual_time
async def test_probe_says_which_security_mode_the_meter_uses() -> None:
    clock = asyncio.get_running_loop().time
    port = simulated_meter(
        PROFILES["gen3"], epoch=clock(), start_wall=time.time(), requires_tls=True
    )
    async with InProcessLink(port, clock=clock) as link:
        result = await probe(
            MeterSettings(key=MepKey.parse(DEMO_MBK)), InProcessTransport(link), NoLinkControl()
        )
    assert result.identity.security == "tls"
    assert report(result)[1].endswith(", TLS-PSK mode")
