"""security = "auto" decides on evidence: a bit error at start is not a reason to leave RC4.

Reproduces issue 18 item 1: one corrupted request at start (the meter answers a bare 0x0B, as
for any request whose digest fails) made mepd switch to TLS; the RC4 meter's 0x0B answers to
the TLS frames were then counted as key failures, mepd logged "the meter rejects the key", and
the first reading came after 104 s. The poller reads the simulator in-process on the virtual
clock (time is the subject): the guide's pacing and the meter's turnaround are simulated, a
loaded machine changes nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mepd.drivers.simulator.faults import FaultSettings
from mepd.protocol import MepKey
from mepd.readings import Event, LinkStatus, MeterIdentity, PresentReading
from mepd.settings import MeterSettings
from tests.engine.inprocess import KEY, in_virtual_time, running

WRONG_KEY = MepKey.parse("0123456789ABCDEF0123")


def _first_reading(
    *,
    faults: FaultSettings | None = None,
    settings: MeterSettings | None = None,
    requires_tls: bool = False,
    within_s: float,
) -> tuple[float | None, list[Event]]:
    """Virtual seconds from start to the first published power reading (None: not within)."""

    async def scenario() -> tuple[float | None, list[Event]]:
        async with running(
            "gen4",
            faults=faults,
            settings=settings or MeterSettings(key=KEY),
            requires_tls=requires_tls,
        ) as rig:
            try:
                took: float | None = await rig.wait_for(PresentReading, within_s=within_s)
            except AssertionError:
                took = None
            return took, [event for _, event in rig.events]

    return in_virtual_time(scenario)


def _identity(events: list[Event]) -> MeterIdentity:
    return next(event for event in events if isinstance(event, MeterIdentity))


def test_one_corrupted_request_at_start_costs_seconds_not_a_false_alarm(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        took, events = _first_reading(faults=FaultSettings(corrupt_first_requests=1), within_s=8.0)
    assert took is not None, "no reading within 8 s"
    assert took < 5.0
    said = caplog.text
    assert "rejected the key" not in said
    assert "trying TLS" not in said
    assert not [e for e in events if isinstance(e, LinkStatus) and e.authentication_problem]
    assert _identity(events).security == "rc4"


def test_an_rc4_meter_that_refuses_tls_frames_sends_mepd_back_to_rc4_at_once(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    # The state file remembers TLS (say, a replaced meter): the RC4 meter answers the first
    # TLS frame with a bare 0x0B, which is no key failure, and RC4 is spoken at once.
    state = tmp_path / "state.json"
    state.write_text('{"version": 1, "security": "tls", "energy": {}}')
    with caplog.at_level(logging.INFO):
        took, _ = _first_reading(settings=MeterSettings(key=KEY, state_path=state), within_s=8.0)
    assert took is not None
    assert took < 5.0
    assert "rejected the key" not in caplog.text


def test_a_wrong_key_on_an_rc4_meter_is_named_after_three_refusals_in_rc4(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        took, events = _first_reading(settings=MeterSettings(key=WRONG_KEY), within_s=9.0)
    assert took is None
    rejected = [e for e in events if isinstance(e, LinkStatus) and e.authentication_problem]
    assert len(rejected) == 1
    assert "the meter rejected the key" in rejected[0].reason
    assert "RC4" in rejected[0].reason
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1


def test_a_port_that_requires_tls_is_still_found_in_seconds() -> None:
    # Two RC4 refusals (1 s, then 2 s apart), the TLS handshake's flights at 9600 baud, then
    # start-up.
    took, events = _first_reading(requires_tls=True, within_s=15.0)
    assert took is not None
    assert took < 8.0
    assert _identity(events).security == "tls"
