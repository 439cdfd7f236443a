"""security = "auto" decides on evidence: a bit error at start is not a reason to leave RC4.

Reproduces issue 18 item 1: one corrupted request at start (the meter answers a bare 0x0B, as
for any request whose digest fails) made mepd switch to TLS; the RC4 meter's 0x0B answers to
the TLS frames were then counted as key failures, mepd logged "the meter rejects the key", and
the first reading came after 104 s. The poller runs against the simulator over a real pty.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from mepd.drivers.gpio import NoLinkControl
from mepd.drivers.serial import SerialPort
from mepd.drivers.simulator.driver import PtyMeter
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.faults import FaultSettings
from mepd.drivers.simulator.profiles import PROFILES
from mepd.engine.poller import Poller
from mepd.protocol import MepKey
from mepd.readings import Event, LinkStatus, PresentReading
from mepd.settings import MeterSettings, Security

WRONG_KEY = "0123456789ABCDEF0123"


async def _first_reading(
    *,
    faults: FaultSettings | None = None,
    key: str = DEMO_MBK,
    security: Security = "auto",
    requires_tls: bool = False,
    state_path: Path | None = None,
    within_s: float,
) -> tuple[float | None, list[Event], Poller]:
    events: list[Event] = []
    port = simulated_meter(PROFILES["gen4"], faults=faults, requires_tls=requires_tls)
    async with PtyMeter(port) as pty:
        poller = Poller(
            MeterSettings(key=MepKey.parse(key), security=security, state_path=state_path),
            SerialPort(pty.path),
            NoLinkControl(),
            events.append,
        )
        started = time.monotonic()
        task = asyncio.create_task(poller.run())
        took: float | None = None
        try:
            while time.monotonic() - started < within_s:
                if any(isinstance(event, PresentReading) for event in events):
                    took = time.monotonic() - started
                    break
                await asyncio.sleep(0.05)
        finally:
            poller.request_stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return took, events, poller


@pytest.mark.asyncio
async def test_one_corrupted_request_at_start_costs_seconds_not_a_false_alarm(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        took, events, poller = await _first_reading(
            faults=FaultSettings(corrupt_first_requests=1), within_s=8.0
        )
    assert took is not None, "no reading within 8 s"
    assert took < 5.0
    said = caplog.text
    assert "rejected the key" not in said
    assert "trying TLS" not in said
    assert not [e for e in events if isinstance(e, LinkStatus) and e.authentication_problem]
    assert poller.identity is not None
    assert poller.identity.security == "rc4"


@pytest.mark.asyncio
async def test_an_rc4_meter_that_refuses_tls_frames_sends_mepd_back_to_rc4_at_once(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    # The state file remembers TLS (say, a replaced meter): the RC4 meter answers the first
    # TLS frame with a bare 0x0B, which is no key failure, and RC4 is spoken at once.
    state = tmp_path / "state.json"
    state.write_text('{"version": 1, "security": "tls", "energy": {}}')
    with caplog.at_level(logging.INFO):
        took, _, _ = await _first_reading(state_path=state, within_s=8.0)
    assert took is not None
    assert took < 5.0
    assert "rejected the key" not in caplog.text


@pytest.mark.asyncio
async def test_a_wrong_key_on_an_rc4_meter_is_named_after_three_refusals_in_rc4(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        took, events, _ = await _first_reading(key=WRONG_KEY, within_s=9.0)
    assert took is None
    rejected = [e for e in events if isinstance(e, LinkStatus) and e.authentication_problem]
    assert len(rejected) == 1
    assert "the meter rejected the key" in rejected[0].reason
    assert "RC4" in rejected[0].reason
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1


@pytest.mark.asyncio
async def test_a_port_that_requires_tls_is_still_found_in_seconds() -> None:
    # Two RC4 refusals (2 s apart), the TLS handshake's flights at 9600 baud, then start-up
    # (about 6.5 s on an idle machine); the bound leaves room for a loaded CI machine.
    took, _, poller = await _first_reading(requires_tls=True, within_s=15.0)
    assert took is not None
    assert took < 12.0
    assert poller.identity is not None
    assert poller.identity.security == "tls"
