"""The polling engine for one meter: start-up reads, the schedule, recovery, the guard.

Layering: `Session` (one verified request at a time) below, a `Callable[[Event], None]` above.
The poller decides what to read and when (the session keeps every frame within the meter's
rate budget, p.51, p.21),
turns failures into the recovery ladder, and lets nothing past the plausibility guard that
it would not swear to.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from mepd.drivers.gpio import LinkControl
from mepd.drivers.transport import Transport
from mepd.engine.guard import EnergyRegisterGuard, Verdict, check_present
from mepd.engine.recovery import (
    AUTH_RETRY_BACKOFF,
    SILENCE_BACKOFF,
    WRONG_KEY_AFTER,
    WRONG_KEY_BACKOFF,
    RecoveryLadder,
    Step,
)
from mepd.engine.session import Session, session_for
from mepd.engine.state import MeterState, StateFile
from mepd.errors import LinkError
from mepd.logs import Throttle
from mepd.protocol import PartialRead
from mepd.protocol.errors import (
    AuthenticationError,
    DecodeError,
    MepTimeoutError,
    ProtocolError,
    ResponseError,
    SequenceError,
)
from mepd.protocol.tables import (
    BT00,
    BT01,
    BT21,
    BT22,
    BT27,
    BT52,
    ET03,
    ET04,
    ET13,
    ET54,
    ET70,
    SOURCES_BY_NAME,
    ActualRegister,
    DataSelection,
    Measurement,
    Measurements,
    PresentRegisterSelection,
    alert_flags_offset,
    assemble,
    bt22_size,
    bt27_size,
    decode_bt00,
    decode_bt01,
    decode_bt21,
    decode_bt22,
    decode_bt23_summations,
    decode_bt27,
    decode_bt28,
    decode_bt52,
    decode_et03,
    decode_et04,
    decode_et13_alert_flags,
    decode_et54,
    decode_et70,
    plan_bt23,
    plan_bt28,
    plan_reads,
)
from mepd.readings import (
    Diagnostics,
    EnergyReading,
    Event,
    LinkStatus,
    MeterIdentity,
    PresentReading,
)
from mepd.settings import MeterSettings

log = logging.getLogger(__name__)

# The energy registers a home owner's dashboard wants, by source name (BT22 maps them).
ENERGY_REGISTERS = (
    "energy_import",
    "energy_export",
    "reactive_energy_import",
    "reactive_energy_export",
)
# Default BT23 order (p.208): the four above are summations 0-3.
_DEFAULT_ENERGY_SUMMATIONS = 4

_OTHER_MODE = {"rc4": "tls", "tls": "rc4"}
_SECURITY_HINT = {
    "auto": "; mepd tried both RC4 and TLS mode",
    "rc4": '; if it is, the meter\'s MEP port may require TLS: set security = "auto"',
    "tls": '; if it is, the meter\'s MEP port may not offer TLS: set security = "auto"',
}


@dataclass
class _Layout:
    """What the dimension tables say; re-read when the IDT version changes (p.55)."""

    dims: ActualRegister
    selection: PresentRegisterSelection | None
    data_selection: DataSelection | None
    energy_summations: int
    idt_version: int | None


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
        self.counters: dict[str, int] = dict.fromkeys(
            (
                "transceiver_resets",
                "port_reopens",
                "link_losses",
                "quarantined",
                "jumps_accepted",
                "readings",
            ),
            0,
        )
        self.identity: MeterIdentity | None = None
        self._layout: _Layout | None = None
        self._state_file = StateFile(settings.state_path) if settings.state_path else None
        self._state = self._state_file.load() if self._state_file else MeterState()
        self.security: Literal["rc4", "tls"] = (
            settings.security
            if settings.security != "auto"
            else ("tls" if self._state.security == "tls" else "rc4")
        )
        self._switched_security = False
        self.session = self._new_session()
        self._guards: dict[str, EnergyRegisterGuard] = {}
        self._port_open = False
        self._link_up: bool | None = None
        self._link_reason = ""
        self._last_success: datetime | None = None
        self._last_success_at: float | None = None
        self._clock_offset_s: float | None = None
        self._due: dict[str, float] = {}
        self._idt_check_pending = False
        self._alert_pending = False
        self._last_alert_check = float("-inf")
        self._auth_failures = 0
        self._key_rejected = False
        self._link_errors = 0
        self._last_diagnostics = float("-inf")
        self.cycle_listeners: list[Callable[[], None]] = []
        # Loop time by which the loop promised to show progress again: the end of the last
        # cycle, or of a deliberate pause (backoffs last minutes; a stall does not end).
        self._progress_due = float("-inf")
        self._stop_requested = False
        self._say = Throttle(log, clock=lambda: asyncio.get_running_loop().time())
        # Quarantines are rare on a verified link; each is worth a line, a flood is not.
        self._say_quarantine = Throttle(
            log, interval_s=60.0, clock=lambda: asyncio.get_running_loop().time()
        )

    # --- the loop ---------------------------------------------------------------------------

    def request_stop(self) -> None:
        """End `run` after the current step, even if a cancellation was lost on the way."""
        self._stop_requested = True

    async def run(self) -> None:
        """Poll until cancelled or asked to stop; never raises a MepdError."""
        self.control.start()
        self._progress_due = asyncio.get_running_loop().time()
        try:
            while not self._stop_requested:
                await self._guarded_cycle()
                self._progress_due = asyncio.get_running_loop().time()
                for listener in self.cycle_listeners:
                    listener()
        finally:
            await self._shut_down()

    async def _guarded_cycle(self) -> None:
        trial = self._on_trial()
        try:
            await self._cycle()
        except AuthenticationError:
            await self._after_authentication_failure()
        except MepTimeoutError:
            if trial:  # the other mode was tried because of 0x0B: silence means "not offered"
                await self._after_authentication_failure()
            else:
                await self._after_silence()
        except LinkError as error:
            await self._after_link_error(error)
        except SequenceError as error:
            # The exchange's resync budget ran out (a 0x0C storm): start afresh shortly.
            self._say.warning("sequence", "meter keeps asking for another sequence: %s", error)
            await self._pause(1.0)
        except ResponseError as error:
            # A verified refusal (0x01-0x05) of a read every meter answers: odd, not fatal.
            self._say.warning("refused", "meter refused a read: %s", error)
            await self._pause(5.0)
        except ProtocolError as error:
            # Exchange budgets exhausted (0x0C storm, corrupt answers): try again shortly.
            log.debug("exchange failed: %s", error)
            if trial:
                await self._after_authentication_failure()
            else:
                await self._pause(1.0)
        self._check_staleness()
        self._maybe_report_diagnostics()

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

    async def _read_plan(self, plan: tuple[PartialRead, ...]) -> bytes:
        return assemble(plan, [await self._read(request) for request in plan])

    # --- start-up: identity, dimensions, channel --------------------------------------------

    async def _start_up(self) -> None:
        general = decode_bt00(await self._read(PartialRead(BT00, 0, 19)))
        for problem in general.problems():
            log.warning("unexpected meter format, readings may be wrong: %s", problem)
        info = decode_bt01(await self._read(PartialRead(BT01, 0, 24)))
        utility = decode_et03(await self._read(PartialRead(ET03, 0, 30)))
        serial = utility.serial_number.strip() or (info.serial_number or "").strip()
        if not serial:
            raise DecodeError("the meter reports no serial number in ET03 or BT01")
        layout = await self._read_layout()
        channel = None
        if info.firmware.major >= 4:
            channel = await self._read_channel()
        self._layout = layout
        self.identity = MeterIdentity(
            serial=serial,
            manufacturer=info.manufacturer.strip(),
            model=info.model.strip(),
            firmware=str(info.firmware),
            hardware=f"{info.hardware_version}.{info.hardware_revision}",
            channel=channel,
            summations=layout.dims.summations,
            present_values=layout.dims.present_values,
            idt_version=layout.idt_version,
            port=self.transport.description,
            security=self.security,
        )
        self._adopt_meter(serial)
        self._emit(self.identity)
        log.info(
            "meter %s (%s %s, firmware %s%s) on %s: %d present values, %d summations",
            serial,
            self.identity.manufacturer,
            self.identity.model,
            self.identity.firmware,
            f", MEP{channel}" if channel else "",
            self.transport.description,
            layout.dims.present_values,
            layout.dims.summations,
        )
        now = asyncio.get_running_loop().time()
        self._due = {"present": now, "energy": now, "clock": now}

    async def _read_layout(self) -> _Layout:
        dims = decode_bt21(await self._read(PartialRead(BT21, 0, 10)))
        selection = None
        if bt27_size(dims):
            selection = decode_bt27(await self._read_plan(plan_reads(BT27, bt27_size(dims))), dims)
        data_selection = None
        if bt22_size(dims):
            data_selection = decode_bt22(
                await self._read_plan(plan_reads(BT22, bt22_size(dims))), dims
            )
        system = decode_et04(await self._read(PartialRead(ET04, 116, 1)), offset=116)
        summations = _energy_summations(dims, data_selection)
        present_reads = len(plan_bt28(dims))
        energy_reads = len(plan_bt23(dims, summations))
        self.settings.schedule.validate(present_reads, energy_reads)
        return _Layout(dims, selection, data_selection, summations, system.idt_version)

    async def _read_channel(self) -> int | None:
        """Gen 4: which MEP port this is (ET70.142, p.23); ET54 says if two are in use."""
        try:
            channel = decode_et70(await self._read(PartialRead(ET70, 142, 1)), offset=142)
            status = decode_et54(await self._read(PartialRead(ET54, 0, 2)))
        except ResponseError as refused:
            log.info("meter has no ET70 channel index (%s): assuming MEP1", refused)
            return None
        if not status.multiple_mep_clients:
            log.info("meter runs in single-MEP compatibility mode")
        return channel.current_comm_channel_index

    def _adopt_meter(self, serial: str) -> None:
        saved = self._state
        if saved.serial is not None and saved.serial != serial:
            log.warning(
                "this port now has meter %s, the state file had %s: starting a new baseline",
                serial,
                saved.serial,
            )
            saved = MeterState(serial=serial)
        saved.serial = serial
        self._state = saved
        self._guards = {}
        for name in ENERGY_REGISTERS:
            guard = EnergyRegisterGuard(name, self.settings.limits)
            if name in saved.energy:
                guard.last_value, guard.last_at_s = saved.energy[name]
            self._guards[name] = guard

    async def _check_idt_version(self) -> None:
        """After a sequence jump: did the table layout change (p.55)?"""
        self._idt_check_pending = False
        assert self._layout is not None
        system = decode_et04(await self._read(PartialRead(ET04, 116, 1)), offset=116)
        if system.idt_version == self._layout.idt_version:
            return
        log.info(
            "IDT version changed from %s to %s: reading the dimension tables again",
            self._layout.idt_version,
            system.idt_version,
        )
        self._layout = None  # the next cycle runs start-up again

    async def _check_alert_flags(self) -> None:
        """At most now and then: log what the alert is about. Never EP39, never ET50."""
        self._alert_pending = False
        now = asyncio.get_running_loop().time()
        if now - self._last_alert_check < self.settings.alert_check_every_s:
            return
        self._last_alert_check = now
        channel = (self.identity.channel if self.identity else None) or 1
        flags = decode_et13_alert_flags(
            await self._read(PartialRead(ET13, alert_flags_offset(channel), 1)), channel=channel
        )
        log.warning(
            "the meter sends alerts (ET13 alert flags 0x%02X), which it does only for a "
            "registered MEP device: another device may still be registered on this port. "
            "mepd ignores them (it is read-only and never answers alerts)",
            flags.raw,
        )

    # --- polling -------------------------------------------------------------------------------

    async def _poll_next(self) -> None:
        loop = asyncio.get_running_loop()
        kind = min(self._due, key=self._due.__getitem__)
        wait = self._due[kind] - loop.time()
        if wait > 0:
            await self._pause(wait)
        period = {
            "present": self.settings.schedule.present_s,
            "energy": self.settings.schedule.energy_s,
            "clock": self.settings.schedule.clock_s,
        }[kind]
        self._due[kind] = max(self._due[kind] + period, loop.time())
        await {
            "present": self._poll_present,
            "energy": self._poll_energy,
            "clock": self._poll_clock,
        }[kind]()

    async def _poll_present(self) -> None:
        layout = self._require_layout()
        data = await self._read_plan(plan_bt28(layout.dims))
        host_time = self._wall()
        try:
            present = decode_bt28(data, layout.dims, layout.selection)
        except DecodeError as error:
            self._quarantine("BT28", (str(error),), data)
            return
        values = {m.name: m.value for m in present.values}
        finding = check_present(values, self.settings.limits)
        if finding.verdict is Verdict.QUARANTINED:
            self._quarantine("BT28", finding.reasons, data)
            return
        self.counters["readings"] += 1
        self._emit(
            PresentReading(self._serial(), present.values, host_time, self._meter_time(host_time))
        )

    async def _poll_energy(self) -> None:
        layout = self._require_layout()
        data = await self._read_plan(plan_bt23(layout.dims, layout.energy_summations))
        host_time = self._wall()
        try:
            totals = decode_bt23_summations(data, layout.dims, layout.data_selection)
        except DecodeError as error:
            self._quarantine("BT23", (str(error),), data)
            return
        accepted: list[Measurement] = []
        wall_s = host_time.timestamp()
        for register in totals.summations:
            guard = self._guards.get(register.name)
            if guard is None:
                continue
            finding = guard.check(register.value, wall_s)
            if finding.verdict is Verdict.QUARANTINED:
                self._quarantine("BT23", finding.reasons, data)
                continue
            if finding.verdict is Verdict.JUMP_ACCEPTED:
                self.counters["jumps_accepted"] += 1
                log.warning("%s", finding.reasons[0])
            accepted.append(register)
            self._state.energy[register.name] = (register.value, wall_s)
        if accepted:
            self.counters["readings"] += 1
            self._emit(
                EnergyReading(
                    self._serial(),
                    Measurements.of(accepted),
                    host_time,
                    self._meter_time(host_time),
                )
            )
            self._save_state()

    async def _poll_clock(self) -> None:
        data = await self._read(PartialRead(BT52, 0, 7))
        host_time = self._wall()
        try:
            clock = decode_bt52(data)
        except DecodeError as error:
            self._quarantine("BT52", (str(error),), data)
            return
        self._clock_offset_s = (clock.time - host_time).total_seconds()

    # --- failure handling ----------------------------------------------------------------------

    def _on_success(self) -> None:
        self._switched_security = False
        if self.settings.security == "auto" and self._state.security != self.security:
            self._state.security = self.security
            self._save_state(force=True)
        self._last_success = self._wall()
        self._last_success_at = asyncio.get_running_loop().time()
        self._link_errors = 0
        if self._auth_failures and self._key_rejected:
            log.warning("the meter accepts the key again")
        self._auth_failures = 0
        self._key_rejected = False
        if self.ladder.succeeded():
            self._say.warning(
                "answers",
                "meter answers again (recovery so far: %s)",
                ", ".join(f"{step.value} x{n}" for step, n in self.ladder.counts.items() if n),
            )
        if self._link_up is not True:
            self._link_up = True
            self._link_reason = ""
            self.control.show_link(True)
            self._emit(LinkStatus(self._serial_or_none(), True, "meter answers"))

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
                    "still no answer from the meter on %s after %d attempts; trying every %.0f s "
                    "(check the cable, the MEP ENABLE line and the meter's MEP port)",
                    self.transport.description,
                    self.ladder.failures,
                    delay,
                )
            self._declare_down("meter does not answer")
            await self._pause(delay)
        if step in (Step.POWER_CYCLE, Step.BACKOFF) and self.control.can_power_cycle:
            self.counters["transceiver_resets"] += 1
            await self.control.power_cycle()
            self.session.reset_link()
        if step in (Step.REOPEN, Step.BACKOFF):
            self.counters["port_reopens"] += 1
            await self._close_port()

    async def _after_link_error(self, error: LinkError) -> None:
        self._link_errors += 1
        await self._close_port()
        if self._link_errors == 1:
            log.error("%s", error)
        self._declare_down(str(error))
        await self._pause(SILENCE_BACKOFF.delay(self._link_errors - 1, self._rng))

    async def _after_authentication_failure(self) -> None:
        """0x0B: never retried hot. Three in a row with nothing verified: the key is wrong."""
        self._auth_failures += 1
        self.session.reset_link()
        # Before the meter has ever answered, one 0x0B is enough to try the other mode: a
        # TLS-only port is then found in seconds. Once it has, 0x0B is more likely noise.
        switch_after = 1 if self._last_success is None else WRONG_KEY_AFTER
        if self.settings.security == "auto" and (
            self._key_rejected
            or (self._auth_failures >= switch_after and not self._switched_security)
        ):
            # A port that requires TLS answers RC4 with 0x0B (p.8), like a wrong key does.
            self._switch_security()
            if not self._key_rejected:
                await self._pause(AUTH_RETRY_BACKOFF.first_s)
                return
        if self._auth_failures >= WRONG_KEY_AFTER:
            if not self._key_rejected:
                self._key_rejected = True
                message = (
                    "the meter rejects the key: every request got 0x0B (authentication "
                    "failure) after a clean resynchronisation. Check that the key is the MEP "
                    "Basic Key (MBK) your utility gave for this meter, written as they wrote it "
                    "(20 characters, or 32/40 hex digits)" + _SECURITY_HINT[self.settings.security]
                )
                log.error("%s", message)
                self._declare_down(message, authentication_problem=True)
            delay = WRONG_KEY_BACKOFF.delay(self._auth_failures - WRONG_KEY_AFTER, self._rng)
        else:
            delay = AUTH_RETRY_BACKOFF.delay(self._auth_failures - 1)
        await self._pause(delay)

    def _on_trial(self) -> bool:
        """security = "auto" switched modes after 0x0B and nothing has answered since."""
        return self.settings.security == "auto" and self._switched_security

    def _switch_security(self) -> None:
        """security = "auto": the other mode gets its own three tries (0x0B is ambiguous)."""
        previous, self.security = self.security, _OTHER_MODE[self.security]  # type: ignore[assignment]
        if not self._key_rejected:
            self._say.warning(
                f"security-{self.security}",
                'the meter refuses %s requests with this key: trying %s (security = "auto")',
                previous.upper(),
                self.security.upper(),
            )
            self._auth_failures = 0
        self._switched_security = True
        self.session = self._new_session()

    def _new_session(self) -> Session:
        session = session_for(
            self.security,
            self.transport,
            self.settings.key,
            encrypt=self.settings.encrypt,
            tls_client_id=self.settings.tls_client_id,
            tls_engine=self.settings.tls_engine,
        )
        session.resync_listeners.append(self._on_resync)
        session.alert_listeners.append(self._on_alert)
        return session

    def _declare_down(self, reason: str, *, authentication_problem: bool = False) -> None:
        if self._link_up is False and reason == self._link_reason:
            return
        if self._link_up:
            self.counters["link_losses"] += 1
        self._link_up = False
        self._link_reason = reason
        self.control.show_link(False)
        self._emit(LinkStatus(self._serial_or_none(), False, reason, authentication_problem))

    def _check_staleness(self) -> None:
        if not self._link_up or self._last_success_at is None:
            return
        silent_for = asyncio.get_running_loop().time() - self._last_success_at
        if silent_for > self.settings.stale_after_s:
            self._declare_down(f"no good reading for {silent_for:.0f} s")

    def _quarantine(self, table: str, reasons: tuple[str, ...], data: bytes) -> None:
        self.counters["quarantined"] += 1
        log.warning(
            "quarantined %s read (not published): %s; data %s",
            table,
            "; ".join(reasons),
            data.hex(),
        )

    # --- bookkeeping ---------------------------------------------------------------------------

    async def _pause(self, delay_s: float) -> None:
        now = asyncio.get_running_loop().time()
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

    def _require_layout(self) -> _Layout:
        if self._layout is None:
            raise DecodeError("dimension tables not read yet")
        return self._layout

    def _serial(self) -> str:
        assert self.identity is not None
        return self.identity.serial

    def _serial_or_none(self) -> str | None:
        return self.identity.serial if self.identity else None

    def _meter_time(self, host_time: datetime) -> datetime | None:
        if self._clock_offset_s is None:
            return None
        return datetime.fromtimestamp(host_time.timestamp() + self._clock_offset_s, UTC)

    def diagnostics(self) -> Diagnostics | None:
        if self.identity is None:
            return None
        counters = {**self.session.stats.snapshot(), **self.counters}
        return Diagnostics(
            self.identity.serial,
            counters,
            self._clock_offset_s,
            self._last_success,
            self._key_rejected,
        )

    def _maybe_report_diagnostics(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._last_diagnostics < self.settings.diagnostics_every_s:
            return
        report = self.diagnostics()
        if report is not None:
            self._last_diagnostics = now
            self._emit(report)

    def _save_state(self, *, force: bool = False) -> None:
        if self._state_file is None:
            return
        try:
            self._state_file.save(self._state, self._wall().timestamp(), force=force)
        except OSError as error:
            log.error("cannot write the state file %s: %s", self._state_file.path, error)

    async def _close_port(self) -> None:
        self._port_open = False
        await self.transport.close()

    async def _shut_down(self) -> None:
        self._save_state(force=True)
        self.control.stop()
        await self._close_port()


def _energy_summations(dims: ActualRegister, selection: DataSelection | None) -> int:
    """How many leading summations to read so every wanted energy register is included."""
    if selection is None:
        return min(_DEFAULT_ENERGY_SUMMATIONS, dims.summations)
    wanted = {SOURCES_BY_NAME[name].id for name in ENERGY_REGISTERS if name in SOURCES_BY_NAME}
    positions = [i for i, source in enumerate(selection.summation_sources) if source in wanted]
    return (max(positions) + 1) if positions else 0
