"""`mepd probe`: connect, authenticate, read once, and say precisely what happened.

It runs the real poller (the same start-up, pacing and recovery `mepd run` uses) until the
meter has said who it is and given one power reading and one energy reading, or until the
poller declares the link down, and turns that into an answer a person can act on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from mepd.drivers.gpio import LinkControl
from mepd.drivers.transport import Transport
from mepd.engine.history import Reader
from mepd.engine.history_offer import HistoryOffer, read_history_offer
from mepd.engine.lp_offer import LoadProfileOffer, read_offer
from mepd.engine.mbus_source import Occupant, survey
from mepd.engine.optical_session import end_session, session_for_meter
from mepd.engine.poller import Poller
from mepd.errors import MepdError
from mepd.protocol.errors import ResponseError
from mepd.readings import EnergyReading, Event, LinkStatus, MeterIdentity, PresentReading
from mepd.settings import MeterSettings
from mepd.text import printable

T = TypeVar("T")

# Start-up takes ~10 reads at the guide's pace; silence is declared after the recovery ladder
# (two timeouts, a power cycle, a reopen: about 8 s); a wrong key after three 0x0B answers.
DEFAULT_TIMEOUT_S = 45.0


_SECURITY_NAMES = {
    "rc4": "RC4 mode (MEP digests)",
    "tls": "TLS-PSK mode",
    "c12.18": "optical port (ANSI C12.18), optical password",
}


class ProbeError(MepdError):
    """The meter could not be read; the message says why and what to check."""


@dataclass(frozen=True)
class ProbeResult:
    identity: MeterIdentity
    present: PresentReading
    energy: EnergyReading | None  # None when every energy register was quarantined
    # What load profile the meter keeps (p.27-31); a string when it could not be read.
    load_profile: LoadProfileOffer | str = "not read"
    # Billing snapshots, event logs, outage log, relay (issue 20): one line each.
    history: HistoryOffer | str = "not read"
    # Its M-Bus devices (ET14, ET16; p.25-26); a string when they could not be read.
    sub_meters: tuple[Occupant, ...] | str = "not read"


async def probe(
    settings: MeterSettings,
    transport: Transport,
    control: LinkControl,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    offers: bool = True,
) -> ProbeResult:
    """`offers`: also say what history the meter keeps (load profile, logs, M-Bus devices;
    a few sessions more), which `mepd doctor`, asking only whether the meter reads, skips."""
    identity: MeterIdentity | None = None
    present: PresentReading | None = None
    energy: EnergyReading | None = None
    failure: LinkStatus | None = None
    finished = asyncio.Event()

    def collect(event: Event) -> None:
        nonlocal identity, present, energy, failure
        if isinstance(event, MeterIdentity):
            identity = event
        elif isinstance(event, PresentReading):
            present = event
        elif isinstance(event, EnergyReading):
            energy = event
        elif isinstance(event, LinkStatus) and not event.up:
            failure = event
        if failure is not None or (present is not None and energy is not None):
            finished.set()

    poller = Poller(settings, transport, control, collect)
    with _errors_held_back() as held:
        task = asyncio.create_task(poller.run())
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), timeout_s)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            control.close()
        if failure is not None:
            # the one `mepd:` line says it; the daemon's log line would say it a second time
            reason = failure.reason
            held[:] = [record for record in held if not _says_the_same(record.getMessage(), reason)]
    if failure is not None:
        raise ProbeError(f"{transport.description}: {failure.reason}")
    if identity is None or present is None:
        raise ProbeError(
            f"{transport.description}: no complete reading within {timeout_s:.0f} s "
            f"(the meter answered {poller.session.stats.exchanges} requests); run with -v "
            f"to see the exchange"
        )
    if not offers:
        return ProbeResult(identity, present, energy)
    # Three frames (BT61, BT62, ET21): a meter without a load profile refuses BT61 (p.29:
    # fw 3.50+ and modules 1.20+); then about ten for billing, event logs, outages, relay.
    offer = await _own_session(settings, transport, identity.security, read_offer)
    remembered = await _own_session(settings, transport, identity.security, read_history_offer)
    # ET14, then ET16 per M-Bus device (p.25-26): a meter without M-Bus refuses ET14.
    sub_meters = await _own_session(
        settings, transport, identity.security, lambda read: survey(read, identity.serial)
    )
    return ProbeResult(identity, present, energy, offer, remembered, sub_meters)


async def _own_session(
    settings: MeterSettings,
    transport: Transport,
    mode: str,
    what: Callable[[Reader], Awaitable[T]],
) -> T | str:
    """`what` on a session of its own (the poller closed the port)."""
    session = session_for_meter(settings, "tls" if mode == "tls" else "rc4", transport)
    try:
        await transport.open()
        return await what(session.read)
    except ResponseError as error:
        return f"none offered ({error})"
    except MepdError as error:
        return f"could not be read ({error})"
    finally:
        await end_session(session)
        await transport.close()


def _says_the_same(message: str, reason: str) -> bool:
    """The log line repeats the failure: it is the reason, or the reason plus when the daemon
    would try again (the failure table's lines end "; trying again in N s")."""
    return message in reason or reason in message


@contextlib.contextmanager
def _errors_held_back() -> Iterator[list[logging.LogRecord]]:
    """The poller's ERROR lines, kept until the probe knows whether it reports them itself.

    The yielded list is what will be logged on exit; the caller drops the records its own
    error message repeats (issue 15: one line per failure).
    """
    poller_log = logging.getLogger(Poller.__module__)
    held: list[logging.LogRecord] = []

    def hold(record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            held.append(record)
            return False
        return True

    poller_log.addFilter(hold)
    try:
        yield held
    finally:
        poller_log.removeFilter(hold)
        for record in held:
            poller_log.handle(record)


def report(result: ProbeResult) -> list[str]:
    """What `mepd probe` prints: identity, then every value with its unit."""
    meter = result.identity
    # The meter's own strings: escaped before they reach a terminal (issue 18, item 8).
    serial, maker, model = map(printable, (meter.serial, meter.manufacturer, meter.model))
    lines = [
        f"meter {serial}: {maker} {model}, firmware {meter.firmware}, "
        f"hardware {meter.hardware}" + (f", MEP{meter.channel}" if meter.channel else ""),
        f"  {meter.present_values} present values, {meter.summations} summations, "
        f"on {meter.port}, {_SECURITY_NAMES.get(meter.security, meter.security)}",
        f"present values at {result.present.host_time:%Y-%m-%d %H:%M:%S} UTC:",
    ]
    lines += [f"  {m.name}: {m.value:g} {m.unit.symbol}".rstrip() for m in result.present.values]
    if result.energy is not None:
        lines.append("energy registers:")
        lines += [
            f"  {m.name}: {m.value / 1000:.3f} k{m.unit.value}" for m in result.energy.registers
        ]
    else:
        lines.append("energy registers: none passed the plausibility guard (see the log)")
    offer = result.load_profile
    if isinstance(offer, str):
        lines.append(f"load profile: {offer}")
    else:
        newest = f"{offer.newest_end:%Y-%m-%d %H:%M} UTC" if offer.newest_end else "none yet"
        lines.append(
            f"load profile: {offer.interval_s // 60}-minute intervals of "
            f"{', '.join(offer.channels)}; {offer.held_days:.1f} days held "
            f"({offer.held_intervals} intervals, up to {offer.blocks} blocks of "
            f"{offer.intervals_per_block}); newest ends {newest}"
        )
    remembered = result.history
    lines += [f"history: {remembered}"] if isinstance(remembered, str) else remembered.lines()
    return lines + sub_meter_lines(result.sub_meters)


def sub_meter_lines(found: tuple[Occupant, ...] | str) -> list[str]:
    """One line per M-Bus device: slot, medium, M-Bus id (the device's strings escaped)."""
    if isinstance(found, str):
        return [f"M-Bus devices: {found}"]
    if not found:
        return ["M-Bus devices: none"]
    lines = ["M-Bus devices:"]
    for occupant in found:
        device, slot = occupant.identity, occupant.slot
        if device is None:
            lines.append(f"  slot {slot.slot}: handle {slot.handle}, not read by the meter yet")
            continue
        lines.append(
            f"  slot {slot.slot}: {device.kind.value.replace('_', ' ')} meter "
            f"{printable(device.mbus_id)} ({printable(device.manufacturer)}, medium "
            f"{device.medium:#04x}, version {device.version})"
        )
    return lines
