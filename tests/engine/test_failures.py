"""Every failure of a poll cycle has one row in `FAILURES`, and no failure is silent.

Reproduces issue 18 item 4: a `DecodeError` at start-up fell into `except ProtocolError`, was
logged at DEBUG and retried every second, while each verified read said "meter answers"; a line
where every answer failed its digest logged nothing above DEBUG for minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from mepd.drivers.gpio import NoLinkControl
from mepd.drivers.serial import SerialPort
from mepd.drivers.simulator.driver import PtyMeter
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.faults import FaultSettings
from mepd.drivers.simulator.profiles import PROFILES
from mepd.engine import startup
from mepd.engine.failures import FAILURES, FailureRun, Remedy, policy_for
from mepd.engine.poller import Poller
from mepd.errors import ConfigError, LinkError, MepdError
from mepd.protocol import MepKey, ResponseCode
from mepd.protocol.errors import (
    AuthenticationError,
    DecodeError,
    DigestError,
    FrameError,
    MepTimeoutError,
    ResponseError,
    SequenceError,
)
from mepd.protocol.tls.errors import TlsError, TlsKeyRejectedError
from mepd.readings import Event, LinkStatus, MeterIdentity, PresentReading

ERRORS: list[MepdError] = [
    AuthenticationError(ResponseCode.AUTHENTICATION_FAILURE),
    MepTimeoutError("silence"),
    LinkError("gone"),
    SequenceError(ResponseCode.INVALID_SEQUENCE_NUMBER, 5),
    ResponseError(ResponseCode.NO_PERMISSION),
    DecodeError("short"),
    TlsError("bad record"),
    DigestError("digest"),
    FrameError("frame"),
    ConfigError("odd"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_every_failure_has_a_row_that_says_what_it_means(error: MepdError) -> None:
    policy = policy_for(error)
    assert policy.meaning
    assert policy.remedy is not Remedy.PAUSE or policy.pause_s > 0
    assert policy.level >= logging.WARNING  # never only at DEBUG


def test_rows_are_most_specific_first() -> None:
    kinds = [kind for kind, _ in FAILURES]
    for i, kind in enumerate(kinds):
        assert not any(issubclass(kind, earlier) for earlier in kinds[:i]), kind
    assert policy_for(TlsKeyRejectedError("MBK", 0)).remedy is Remedy.REFUSAL


def test_answers_that_cannot_be_used_take_the_link_down() -> None:
    for error in (DecodeError("x"), DigestError("x"), TlsError("x")):
        assert policy_for(error).down_after > 0


def test_a_failure_run_counts_one_row_and_restarts_on_another() -> None:
    run = FailureRun()
    corrupt, undecodable = policy_for(DigestError("x")), policy_for(DecodeError("x"))
    assert [run.add(corrupt) for _ in range(corrupt.down_after)][-1]
    assert not run.add(policy_for(SequenceError(ResponseCode.INVALID_SEQUENCE_NUMBER, 1)))
    assert run.add(undecodable)
    run.clear()
    assert run.count == 0


async def _run_poller(
    port_options: dict[str, object], seconds: float, until: type[Event] | None = None
) -> list[Event]:
    """The poller's events over a pty for `seconds`, and then, if `until` is given, until an
    event of that type came (at most 20 s more: on a loaded machine start-up takes longer)."""
    profile = port_options.pop("profile", PROFILES["gen4"])
    events: list[Event] = []
    arrived = asyncio.Event()
    port = simulated_meter(profile, **port_options)  # type: ignore[arg-type]

    def emit(event: Event) -> None:
        events.append(event)
        if until is not None and isinstance(event, until):
            arrived.set()

    async with PtyMeter(port) as pty:
        from mepd.settings import MeterSettings

        poller = Poller(
            MeterSettings(key=MepKey.parse(DEMO_MBK)),
            SerialPort(pty.path),
            NoLinkControl(),
            emit,
        )
        task = asyncio.create_task(poller.run())
        await asyncio.sleep(seconds)
        if until is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), 20.0)
        poller.request_stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return events


@pytest.mark.asyncio
async def test_a_meter_whose_answers_cannot_be_decoded_is_down_with_that_reason(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The simulator's answers verify; the ET03 decoder is made to reject them, as a layout
    # mepd does not understand would: start-up fails after several verified reads.
    def undecodable(data: bytes) -> object:
        raise DecodeError(f"ET03: {len(data)} bytes of a layout mepd does not know")

    monkeypatch.setattr(startup, "decode_et03", undecodable)
    with caplog.at_level(logging.WARNING):
        events = await _run_poller({}, 3.0, until=LinkStatus)
    links = [e for e in events if isinstance(e, LinkStatus)]
    assert links
    assert not any(link.up for link in links)  # never "meter answers" while nothing publishes
    assert "cannot be decoded" in links[0].reason
    assert not [e for e in events if isinstance(e, MeterIdentity | PresentReading)]
    said = [r for r in caplog.records if "cannot be decoded" in r.getMessage()]
    assert len(said) == 1
    assert said[0].levelno == logging.WARNING


@pytest.mark.asyncio
async def test_a_line_that_corrupts_every_answer_is_reported_not_debug_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    noisy = FaultSettings(tx_corrupt_rate=0.25)
    with caplog.at_level(logging.WARNING):
        events = await _run_poller({"faults": noisy, "seed": 3}, 6.0)
    assert not [e for e in events if isinstance(e, PresentReading)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("digest or framing" in w or "stopped answering" in w for w in warnings), warnings
    downs = [e for e in events if isinstance(e, LinkStatus) and not e.up]
    assert downs, "the link must say why nothing is published"
