"""The polling engine for one meter: start-up reads, the schedule, recovery, the guard.

Layering: `Session` (one verified request at a time) below, a `Callable[[Event], None]` above.
The poller decides what to read and when (the session keeps every frame within the meter's
rate budget, p.51, p.21), turns failures into the recovery ladder (`recovery.py`), the
security negotiation (`security.py`) and the link state (`link.py`), and lets nothing past
the plausibility guard (`guard.py`) that it would not swear to.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from mepd.drivers.gpio import LinkControl
from mepd.drivers.transport import Transport
from mepd.engine.failures import FailurePolicy, FailureRun, Remedy, policy_for
from mepd.engine.intake import Intake
from mepd.engine.link import LinkState
from mepd.engine.optical_session import OpticalSession
from mepd.engine.recovery import SILENCE_BACKOFF, RecoveryLadder, Step
from mepd.engine.security import AfterRefusal, SecurityNegotiation
from mepd.engine.session import Session, session_for
from mepd.engine.startup import (
    Layout,
    explain_alerts,
    fit_schedule,
    read_idt_version,
    read_meter,
    read_plan,
)
from mepd.engine.state import StateStore
from mepd.engine.timetable import Timetable
from mepd.errors import MepdError
from mepd.logs import Throttle
from mepd.protocol import PartialRead
from mepd.protocol.errors import (
    DecodeError,
)
from mepd.protocol.tables import BT52, plan_bt23, plan_bt28
from mepd.protocol.tables.bt52 import BT52_SIZE
from mepd.readings import Diagnostics, Event, LinkStatus, MeterIdentity
from mepd.settings import MeterSettings

log = logging.getLogger(__name__)

# The poller's own diagnostics; the session's come from `SessionStats`.
COUNTERS = (
    "transceiver_resets",
    "port_reopens",
    "link_losses",
    "quarantined",
    "jumps_accepted",
    "readings",
)


class Poller:
    def __init__(
        self,
        settings: MeterSettings,
        transport: Transport,
        control: LinkControl,
        emit: Callable[[Event], None],
        *,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.control = control
        self._emit = emit
        self._wall = wall_clock
        self._rng = rng or random.Random()  # noqa: S311 - backoff jitter
        self.ladder = RecoveryLadder(control.can_power_cycle)
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.identity: MeterIdentity | None = None
        self._layout: Layout | None = None
        self._store = StateStore(settings.state_path)
        remembered = self._store.state.security
        self._security = SecurityNegotiation(settings.security, remembered, self._rng)
        self.session = self._new_session()
        self._link = LinkState(settings.stale_after_s)
        self._intake = Intake(settings.limits, self.counters, self._now)
        self._port_open = False
        self._last_success: datetime | None = None
        self._timetable = Timetable.of(settings.schedule)
        self._idt_check_pending = False
        self._alert_pending = False
        self._last_alert_check = float("-inf")
        self._link_errors = 0
        self._failures = FailureRun()
        # What the recovery ladder actually did since the meter last answered, for the log.
        self._recovery = dict.fromkeys(("transceiver power cycles", "port reopens", "waits"), 0)
        self._last_diagnostics = float("-inf")
        self.cycle_listeners: list[Callable[[], None]] = []
        # Loop time by which the loop promised to show progress again: the end of the last
        # cycle, or of a deliberate pause (backoffs last minutes; a stall does not end).
        self._progress_due = float("-inf")
        self._stop_requested = False
        self._say = Throttle(log, clock=self._now)

    # --- the loop ---------------------------------------------------------------------------

    def request_stop(self) -> None:
        """End `run` after the current step, even if a cancellation was lost on the way."""
        self._stop_requested = True

    async def run(self) -> None:
        """Poll until cancelled or asked to stop; never raises a MepdError."""
        self.control.start()
        self._progress_due = self._now()
        try:
            while not self._stop_requested:
                await self._guarded_cycle()
                self._progress_due = self._now()
                for listener in self.cycle_listeners:
                    listener()
        finally:
            await self._shut_down()

    async def _guarded_cycle(self) -> None:
        trial = self._security.on_trial
        try:
            await self._cycle()
        except MepdError as error:
            await self._after_failure(error, policy_for(error), trial=trial)
        self._show(self._link.check_stale(self._now()))
        self._maybe_report_diagnostics()

    async def _after_failure(self, error: MepdError, policy: FailurePolicy, *, trial: bool) -> None:
        """Carry out the row of `FAILURES` that `error` falls under."""
        if policy.remedy is Remedy.NOT_OFFERED or (trial and policy.not_offered_on_trial):
            await self._carry_out(self._security.on_not_offered(ever_answered=self._answered))
        elif policy.remedy is Remedy.REFUSAL:
            await self._carry_out(self._security.on_refusal(ever_answered=self._answered))
        elif policy.remedy is Remedy.LADDER:
            await self._after_silence()
        elif policy.remedy is Remedy.REOPEN:
            await self._after_link_error(error)
        else:
            self._say.log(
                policy.level,
                policy.name,
                "%s: %s; trying again in %.0f s",
                policy.meaning,
                error,
                policy.pause_s,
            )
            if self._failures.add(policy):
                self._show(self._link.down(f"{policy.meaning}: {error}"))
            await self._pause(policy.pause_s)

    async def _cycle(self) -> None:
        if not self._port_open:
            await self.transport.open()
            self.session.reset_link()
            self._port_open = True
        if self._layout is None:
            await self._start_up()
        elif self._idt_check_pending:
            await self._check_idt_version()
        if self._alert_pending:
            await self._check_alert_flags()
        await self._poll_next()

    async def _read(self, request: PartialRead) -> bytes:
        data = await self.session.read(request)
        self._on_success()
        return data

    # --- start-up: identity, dimensions, channel --------------------------------------------

    async def _start_up(self) -> None:
        identity, self._layout = await read_meter(
            self._read,
            port=self.transport.description,
            security=self._security.mode,
        )
        if self.settings.interface == "optical":
            identity = replace(identity, interface="optical", security="c12.18")
        self._timetable = Timetable.of(
            fit_schedule(self.settings.schedule, self._layout, self._say)
        )
        # The link is up before the identity goes out, as when it went up at the first answer:
        # the publisher then announces the meter's entities as available at once.
        self._on_result()
        self.identity, self._link.serial = identity, identity.serial
        self._intake.adopt(self._store.adopt(identity.serial))
        self._emit(identity)
        self._timetable.start(self._now())

    async def _check_idt_version(self) -> None:
        """After a sequence jump: did the table layout change (p.55)?"""
        self._idt_check_pending = False
        assert self._layout is not None
        idt_version = await read_idt_version(self._read)
        if idt_version == self._layout.idt_version:
            return
        log.info(
            "IDT version changed from %s to %s: reading the dimension tables again",
            self._layout.idt_version,
            idt_version,
        )
        self._layout = None  # the next cycle runs start-up again

    async def _check_alert_flags(self) -> None:
        """At most now and then: log what the alert is about. Never EP39, never ET50."""
        self._alert_pending = False
        now = self._now()
        if now - self._last_alert_check < self.settings.alert_check_every_s:
            return
        self._last_alert_check = now
        await explain_alerts(self._read, (self.identity.channel if self.identity else None) or 1)

    # --- polling -------------------------------------------------------------------------------

    async def _poll_next(self) -> None:
        kind, due = self._timetable.next()
        wait = due - self._now()
        if wait > 0:
            await self._pause(wait)
        self._timetable.taken(kind, self._now())
        await {
            "present": self._poll_present,
            "energy": self._poll_energy,
            "clock": self._poll_clock,
        }[kind]()

    async def _poll_present(self) -> None:
        layout = self._require_layout()
        data = await read_plan(self._read, plan_bt28(layout.dims))
        reading = self._intake.present(data, layout, self._serial(), self._wall())
        if reading is not None:
            self._emit(reading)
            self._on_result()

    async def _poll_energy(self) -> None:
        layout = self._require_layout()
        data = await read_plan(self._read, plan_bt23(layout.dims, layout.energy_summations))
        reading = self._intake.energy(data, layout, self._serial(), self._wall(), self._store.state)
        if reading is not None:
            self._emit(reading)
            self._on_result()
            self._store.save(self._wall().timestamp())

    async def _poll_clock(self) -> None:
        data = await self._read(PartialRead(BT52, 0, BT52_SIZE))
        self._intake.clock(data, self._wall())

    # --- failure handling ----------------------------------------------------------------------

    def _on_success(self) -> None:
        answer = self._security.on_answer(self._store.state.security)
        if answer.remember is not None:
            self._store.state.security = answer.remember
            self._store.save(self._wall().timestamp(), force=True)
        self._last_success = self._wall()
        self._link_errors = 0
        if answer.key_accepted_again:
            log.warning("the meter accepts the key again")
        if self.ladder.succeeded():
            done = ", ".join(f"{n} {what}" for what, n in self._recovery.items() if n)
            self._say.warning("answers", "meter answers again (%s)", done or "no recovery needed")
            self._recovery = dict.fromkeys(self._recovery, 0)

    def _on_result(self) -> None:
        """A poll gave something usable (start-up done, a reading, the clock): the link is up.

        Not every verified answer: a meter whose answers verify but cannot be decoded must not
        look live while nothing is published.
        """
        self._failures.clear()
        self._show(self._link.answered(self._now()))

    async def _after_silence(self) -> None:
        step = self.ladder.next_step()
        if self.ladder.failures == 1:
            self._say.warning(
                "silent",
                "meter on %s stopped answering (no response within 500 ms, twice): %s",
                self.transport.description,
                step.value,
            )
        if step is Step.BACKOFF:
            attempt = self.ladder.backoff_attempt - 1
            delay = SILENCE_BACKOFF.delay(attempt, self._rng)
            if attempt in (0, 5) or attempt % 30 == 0:
                self._say.warning(
                    f"backoff-{attempt}",
                    "still no answer from the meter on %s after %d attempts; next try in %.0f s, "
                    "the wait doubling up to %.0f s (check the cable, the MEP ENABLE line and "
                    "the meter's MEP port)",
                    self.transport.description,
                    self.ladder.failures,
                    delay,
                    SILENCE_BACKOFF.cap_s,
                )
            self._show(self._link.down("meter does not answer"))
            self._recovery["waits"] += 1
            await self._pause(delay)
        if step in (Step.POWER_CYCLE, Step.BACKOFF) and self.control.can_power_cycle:
            self.counters["transceiver_resets"] += 1
            self._recovery["transceiver power cycles"] += 1
            await self.control.power_cycle()
            self.session.reset_link()
        if step in (Step.REOPEN, Step.BACKOFF):
            self.counters["port_reopens"] += 1
            self._recovery["port reopens"] += 1
            await self._close_port()

    async def _after_link_error(self, error: MepdError) -> None:
        self._link_errors += 1
        await self._close_port()
        if self._link_errors == 1:
            log.error("%s", error)
        self._show(self._link.down(str(error)))
        await self._pause(SILENCE_BACKOFF.delay(self._link_errors - 1, self._rng))

    async def _carry_out(self, decision: AfterRefusal) -> None:
        """What `SecurityNegotiation` decided after a refusal or a mode not offered."""
        self.session.reset_link()
        if decision.switch_to is not None:
            if decision.notice is not None:
                self._say.warning(f"security-{decision.switch_to}", "%s", decision.notice)
            self.session = self._new_session()
        if decision.rejected is not None:
            log.error("%s", decision.rejected)
            self._show(self._link.down(decision.rejected, authentication_problem=True))
        await self._pause(decision.pause_s)

    @property
    def _answered(self) -> bool:
        return self._last_success is not None

    def _new_session(self) -> Session | OpticalSession:
        session: Session | OpticalSession
        if self.settings.interface == "optical":
            session = OpticalSession(self.transport, self.settings.key.supplied)
            session.resync_listeners.append(self._on_resync)
            return session
        session = session_for(
            self._security.mode,
            self.transport,
            self.settings.key,
            encrypt=self.settings.encrypt,
            tls_client_id=self.settings.tls_client_id,
            tls_engine=self.settings.tls_engine,
        )
        session.resync_listeners.append(self._on_resync)
        session.alert_listeners.append(self._on_alert)
        return session

    def _show(self, change: LinkStatus | None) -> None:
        """A link change goes to the LED and to the publisher."""
        if change is None:
            return
        self.counters["link_losses"] = self._link.losses
        self.control.show_link(change.up)
        self._emit(change)

    # --- bookkeeping ---------------------------------------------------------------------------

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    async def _pause(self, delay_s: float) -> None:
        now = self._now()
        self._progress_due = max(self._progress_due, now + delay_s)
        await asyncio.sleep(delay_s)

    def overdue_s(self, now: float) -> float:
        """Seconds since the loop should have shown progress (<= 0: healthy); for the watchdog."""
        return now - self._progress_due

    def _on_resync(self) -> None:
        if self._layout is not None:
            self._idt_check_pending = True

    def _on_alert(self) -> None:
        self._alert_pending = True

    def _require_layout(self) -> Layout:
        if self._layout is None:
            raise DecodeError("dimension tables not read yet")
        return self._layout

    def _serial(self) -> str:
        assert self.identity is not None
        return self.identity.serial

    def diagnostics(self) -> Diagnostics | None:
        if self.identity is None:
            return None
        counters = {**self.session.stats.snapshot(), **self.counters}
        return Diagnostics(
            self.identity.serial,
            counters,
            self._intake.clock_offset_s,
            self._last_success,
            self._security.key_rejected,
        )

    def _maybe_report_diagnostics(self) -> None:
        now = self._now()
        if now - self._last_diagnostics < self.settings.diagnostics_every_s:
            return
        report = self.diagnostics()
        if report is not None:
            self._last_diagnostics = now
            self._emit(report)

    async def _close_port(self) -> None:
        if self._port_open and isinstance(self.session, OpticalSession):
            # Logoff and Terminate: a Gen 2/3 meter's MEP port is blocked until then (OPG p.14).
            await self.session.close()
        self._port_open = False
        await self.transport.close()

    async def _shut_down(self) -> None:
        self._store.save(self._wall().timestamp(), force=True)
        self.control.stop()
        await self._close_port()
