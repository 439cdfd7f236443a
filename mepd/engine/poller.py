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
from datetime import UTC, datetime

from mepd.drivers.gpio import LinkControl
from mepd.drivers.transport import Transport
from mepd.engine.failures import FailurePolicy, FailureRun, Remedy, policy_for
from mepd.engine.history import History
from mepd.engine.history_sources import history_sources
from mepd.engine.intake import Intake
from mepd.engine.line import Line
from mepd.engine.link import COUNTERS, LinkState
from mepd.engine.meter_tables import MeterTables
from mepd.engine.optical_session import end_session, session_for_meter
from mepd.engine.present import PieceRead, PresentPlanner, piece_in, take_present
from mepd.engine.security import AfterRefusal, SecurityNegotiation
from mepd.engine.session import MeterSession
from mepd.engine.startup import (
    Layout,
    fit_schedule,
    read_meter,
    read_plan,
    with_energy_unit,
)
from mepd.engine.state import StateStore
from mepd.engine.timetable import RESERVE_FRAMES, ReadReserve, Timetable
from mepd.errors import MepdError
from mepd.logs import Throttle
from mepd.protocol import PartialRead
from mepd.protocol.tables import plan_bt23
from mepd.protocol.tables.bt52 import CLOCK_READ
from mepd.readings import Diagnostics, Event, LinkStatus, MeterIdentity
from mepd.settings import MeterSettings

log = logging.getLogger(__name__)


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
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._line = Line(
            transport,
            control,
            self.counters,
            clock=self._now,
            rng=self._rng,
            before_close=lambda: end_session(self.session),
        )
        self._tables = MeterTables(settings.alert_check_every_s)
        self._store = StateStore(settings.state_path)
        remembered = self._store.state.security
        self._security = SecurityNegotiation(settings.security, remembered, self._rng)
        self.session = self._new_session()
        self._link = LinkState(settings.stale_after_s)
        self._intake = Intake(settings.limits, self.counters, self._now)
        self._present = PresentPlanner()  # whole BT28 or its power piece (a noisy line)
        self._last_success: datetime | None = None
        self._timetable = Timetable.of(settings.schedule)
        self._failures = FailureRun()
        self._last_diagnostics = float("-inf")
        self._reserve = ReadReserve(RESERVE_FRAMES)
        self.cycle_listeners: list[Callable[[], None]] = []
        # Loop time by which the loop promised to show progress again: the end of the last
        # cycle, or of a deliberate pause (backoffs last minutes; a stall does not end).
        self._progress_due = float("-inf")
        self._stop_requested = False
        self._say = Throttle(log, clock=self._now)
        # What the meter remembers, read in the gaps of the read budget (`history.py`).
        sources = history_sources(settings, self._say, lambda: self._tables.layout)
        self.history = History(
            sources, self._store, emit, clock=self._now, wall=self._wall, pause=self._pause
        )

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
        await self._line.open(self.session)
        if self._line.probing:
            await self._probe()
        if self._tables.layout is None:
            await self._start_up()
        elif self._tables.idt_check_pending:
            await self._check_idt_version()
        if self._tables.alert_pending:
            await self._tables.check_alerts(self._read, self._now())
        await self._poll_next()

    async def _read(
        self, request: PartialRead, *, resend: bool = True, retry_damaged: bool = True
    ) -> bytes:
        options = {"resend": resend, "retry_damaged": retry_damaged}
        data = await self._present.read(self.session, request, **options)
        self._on_success()
        return data

    async def _probe(self) -> None:
        """One frame to a silent meter: the power piece, published when it verifies, so the
        answer that shows the meter is back is already a reading (before the layout is
        known: the clock, BT52). Answered: every read is due now, so the rest follows."""
        self._line.probe_sent()
        piece = piece_in(self._tables.layout) if self._tables.layout is not None else None
        if piece is not None:
            await self._poll_present(probe=piece)
        else:
            self._intake.clock(await self._read(CLOCK_READ, resend=False), self._wall())
        self._all_due()

    def _all_due(self) -> None:
        """After a start-up, an IDT change or a comeback: every read due now, power first."""
        self._timetable.start(self._now())
        self._reserve.urgent = True

    # --- start-up: identity, dimensions, channel --------------------------------------------

    async def _start_up(self) -> None:
        identity, layout = await read_meter(
            self._read,
            port=self.transport.description,
            security=self._security.mode,
            interface=self.settings.interface,
        )
        self._timetable = Timetable.of(fit_schedule(self.settings.schedule, layout, self._say))
        # The link is up before the identity goes out, as when it went up at the first answer:
        # the publisher then announces the meter's entities as available at once.
        self._on_result()
        self._tables.identity, self._link.serial = identity, identity.serial
        self._intake.adopt(self._store.adopt(identity.serial))
        self._emit(identity)
        self._tables.layout = await with_energy_unit(self._read, layout)  # ET55 (p.158)
        self._all_due()
        self.history.adopt(identity.serial)

    async def _check_idt_version(self) -> None:
        """After a sequence jump (p.55): if the layout changed, power first (all due now)."""
        if not await self._tables.check_idt_version(self._read):
            return
        layout = self._tables.require()
        self._timetable = Timetable.of(fit_schedule(self.settings.schedule, layout, self._say))
        self._all_due()
        self._present.power_first = True  # p.55: power first, as the piece (a short read)
        self.history.forget_layout()
        if self._tables.identity is not None:
            self._emit(self._tables.identity)

    # --- polling -------------------------------------------------------------------------------

    async def _poll_next(self) -> None:
        kind, due = self._timetable.next()
        reserve = self._reserve
        wait = max(
            due - self._now(), reserve.extra_wait(self.session.budget_wait(reserve.frames + 1))
        )
        room_in = self.session.budget_wait(reserve.frames_kept() + 3)  # history, this, 1 more
        if wait > 0 and await self.history.fill_gap(wait, room_in, self._read, self._timetable):
            return  # one history frame in the gap (`history.py`); then the schedule again
        if wait > 0:
            await self._pause(wait)
        reserve.urgent = False
        self._timetable.taken(kind, self._now())
        await {
            "present": self._poll_present,
            "energy": self._poll_energy,
            "clock": self._poll_clock,
        }[kind]()

    async def _moved_under(self, kind: str, layout: Layout) -> bool:
        """A resync during this read: the answer may follow an IDT change (p.55). Check the
        IDT version now; if it changed, the answer is set aside and read again at once."""
        if not self._tables.idt_check_pending:
            return False
        await self._check_idt_version()
        if self._tables.layout is layout:
            return False
        self._timetable.due_now(kind, self._now())
        return True

    async def _poll_present(self, probe: PieceRead | None = None) -> None:
        """The whole table or its power piece, as the noisy-line policy says; or the piece
        of a probe (one frame, no identical resend)."""
        layout = self._tables.require()
        piece = probe or self._present.next_piece(layout)  # None: the whole table
        data = await self._present.fetch(self._read, layout, piece, probe=probe is not None)
        if data is None or await self._moved_under("present", layout):
            return
        serial, now = self._tables.serial(), self._wall()
        reading = take_present(self._intake, data, layout, piece, serial=serial, host_time=now)
        if reading is not None:
            self._emit(reading)
            self._on_result()

    async def _poll_energy(self) -> None:
        layout = await self._tables.energy_layout(self._read)
        data = await read_plan(self._read, plan_bt23(layout.dims, layout.energy_summations))
        if await self._moved_under("energy", layout):
            return
        request = self._store.accept_request()  # `mepd accept-energy`, if the owner ran it
        serial, now, state = self._tables.serial(), self._wall(), self._store.state
        taken = self._intake.energy(data, layout, serial, now, state, owner_accepts=bool(request))
        if taken.held is not None:
            self._emit(taken.held)
        if taken.reading is not None:
            self._emit(taken.reading)
            self._on_result()
        if taken.reading is not None or taken.owner_accepted:
            self._store.save(self._wall().timestamp(), force=taken.owner_accepted)
        if request is not None and taken.owner_accepted:
            self._store.accept_done(request)  # after the new baseline is saved

    async def _poll_clock(self) -> None:
        data = await self._read(CLOCK_READ)
        known = self._intake.clock_offset_s is not None
        self._intake.clock(data, self._wall())
        if not known:
            self._last_diagnostics = float("-inf")  # the clock offset goes out at once

    # --- failure handling ----------------------------------------------------------------------

    def _on_success(self) -> None:
        answer = self._security.on_answer(self._store.state.security)
        if answer.remember is not None:
            self._store.state.security = answer.remember
            self._store.save(self._wall().timestamp(), force=True)
        self._last_success = self._wall()
        if answer.key_accepted_again:
            log.warning("the meter accepts the key again")
        done = self._line.answered()
        if done is not None:
            self._say.warning("answers", "meter answers again (%s)", done)

    def _on_result(self) -> None:
        """A poll gave something usable (start-up done, a reading, the clock): the link is up.

        Not every verified answer: a meter whose answers verify but cannot be decoded must not
        look live while nothing is published.
        """
        self._failures.clear()
        self._show(self._link.answered(self._now()))

    async def _after_silence(self) -> None:
        down, pause = await self._line.after_silence(self.session, self._say)
        if down:
            self._show(self._link.down("meter does not answer"))
        await self._pause(pause)

    async def _after_link_error(self, error: MepdError) -> None:
        pause = await self._line.after_port_error(error)
        self._show(self._link.down(str(error)))
        await self._pause(pause)

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

    def _new_session(self) -> MeterSession:
        session = session_for_meter(self.settings, self._security.mode, self.transport)
        session.resync_listeners.append(self._tables.on_resync)
        session.alert_listeners.append(self._tables.on_alert)  # the optical port sends none
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

    @property
    def identity(self) -> MeterIdentity | None:
        return self._tables.identity

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

    async def _shut_down(self) -> None:
        self._store.save(self._wall().timestamp(), force=True)
        self.control.stop()
        await self._line.close()
