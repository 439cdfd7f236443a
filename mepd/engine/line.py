"""The way to the meter: the serial port and the HAT's lines, and what to do when it goes quiet.

The poller asks for the line to be open before each cycle, reports each verified answer, and
hands over silence and port errors. This module climbs the recovery ladder (`recovery.py`:
power-cycle the transceiver, reopen the port, then probe), keeps the probe cadence and counts
what was actually done, so the log can say it. It decides nothing about keys or readings.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, MutableMapping

from mepd.drivers.gpio import LinkControl
from mepd.drivers.transport import Transport
from mepd.engine.recovery import PORT_RETRY_BACKOFF, PROBE_EVERY_S, RecoveryLadder, Step, probe_gap
from mepd.engine.session import MeterSession
from mepd.errors import MepdError
from mepd.logs import Throttle

log = logging.getLogger(__name__)

# What the ladder did since the meter last answered, in the words of the log line.
_DONE = ("transceiver power cycles", "port reopens", "waits")


class Line:
    """The port's open state, the ladder and the probe cadence of one meter's line."""

    def __init__(
        self,
        transport: Transport,
        control: LinkControl,
        counters: MutableMapping[str, int],
        *,
        clock: Callable[[], float],
        rng: random.Random,
        before_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.transport = transport
        self.control = control
        self.ladder = RecoveryLadder(control.can_power_cycle)
        self.is_open = False
        # Silent meter, ladder climbed: the next cycle sends one probe frame first; the loop
        # time of the last probe sets the cadence (`recovery.PROBE_EVERY_S`).
        self.probing = False
        self._counters = counters
        self._now = clock
        self._rng = rng
        self._last_probe = float("-inf")
        self._probes_sent = 0  # in this silence
        self._port_errors = 0
        self._done = dict.fromkeys(_DONE, 0)
        # What must go over the open port before it closes (the optical port's Logoff).
        self._before_close = before_close

    async def open(self, session: MeterSession) -> None:
        """Open the port if it is closed; after a (re)open the session starts afresh."""
        if not self.is_open:
            await self.transport.open()
            session.reset_link()
            self.is_open = True

    async def close(self) -> None:
        if self.is_open and self._before_close is not None:
            await self._before_close()
        self.is_open = False
        await self.transport.close()

    def probe_sent(self) -> None:
        self._last_probe = self._now()
        self._probes_sent += 1

    def answered(self) -> str | None:
        """A verified answer. When the line had been failing: what the ladder did, for the log."""
        self._port_errors = 0
        self.probing = False
        self._probes_sent = 0
        if not self.ladder.succeeded():
            return None
        done = ", ".join(f"{n} {what}" for what, n in self._done.items() if n)
        self._done = dict.fromkeys(_DONE, 0)
        return done or "no recovery needed"

    async def after_silence(self, session: MeterSession, say: Throttle) -> tuple[bool, float]:
        """The next rung of the ladder, carried out; (the link is down now, pause before the
        next cycle)."""
        step = self.ladder.next_step()
        description = self.transport.description
        if self.ladder.failures == 1:
            say.warning(
                "silent",
                "meter on %s stopped answering (no response within 500 ms, twice): %s",
                description,
                step.value,
            )
        down = step is Step.BACKOFF
        if down:
            attempt = self.ladder.backoff_attempt - 1
            if attempt in (0, 6) or attempt % 360 == 0:
                say.warning(
                    f"backoff-{attempt}",
                    "still no answer from the meter on %s after %d attempts; probing it with "
                    "one small read every %.0f s (check the cable, the MEP ENABLE line and "
                    "the meter's MEP port)",
                    description,
                    self.ladder.failures,
                    PROBE_EVERY_S,
                )
            self._done["waits"] += 1
            self.probing = True
        if step in (Step.POWER_CYCLE, Step.BACKOFF) and self.control.can_power_cycle:
            self._counters["transceiver_resets"] += 1
            self._done["transceiver power cycles"] += 1
            await self.control.power_cycle()
            session.reset_link()
        if step in (Step.REOPEN, Step.BACKOFF):
            self._counters["port_reopens"] += 1
            self._done["port reopens"] += 1
            await self.close()
        # The power cycle counts into the wait: probes keep their cadence.
        pause = max(0.0, self._last_probe + probe_gap(self._probes_sent) - self._now())
        return down, pause if down else 0.0

    async def after_port_error(self, error: MepdError) -> float:
        """The port is gone or unusable: close it, say so once; the pause before reopening."""
        self._port_errors += 1
        await self.close()
        if self._port_errors == 1:
            log.error("%s", error)
        return PORT_RETRY_BACKOFF.delay(self._port_errors - 1, self._rng)
