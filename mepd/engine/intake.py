"""From verified table bytes to reading events, through the plausibility guard; no I/O.

A verified frame can still carry a value no meter could have measured (a glitch in the
meter, a layout read wrong). Whatever fails to decode or fails `guard.py` is quarantined:
counted, logged with its data (throttled per table, the first line always said) and never
published. An energy register the guard holds back is logged (throttled per register) and
reported as an `EnergyHeld` event for Home Assistant's problem entity. The energy registers'
last published values go to the state file, so the first reading after a restart is checked
against them too. A source the layout lists twice is published by nobody.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from mepd.engine.guard import EnergyRegisterGuard, Verdict, check_present, kwh
from mepd.engine.startup import Layout
from mepd.engine.state import MeterState
from mepd.logs import Throttle
from mepd.protocol.errors import DecodeError
from mepd.protocol.tables import (
    Measurement,
    Measurements,
    decode_bt23_summations,
    decode_bt28,
    decode_bt28_values,
    decode_bt52,
)
from mepd.protocol.tables.names import ENERGY_REGISTERS
from mepd.readings import PIECES, EnergyHeld, EnergyReading, HeldRegister, Piece, PresentReading
from mepd.settings import PlausibilityLimits

log = logging.getLogger(__name__)

# Quarantines are rare on a verified link; each is worth a line, a flood is not.
QUARANTINE_LOG_INTERVAL_S = 60.0
# A held-back register repeats at every energy read until it is plausible or accepted: said
# at once, then every 10 minutes (with the count held back meanwhile).
HELD_LOG_INTERVAL_S = 600.0


@dataclass(frozen=True)
class EnergyIntake:
    """What one BT23 answer gave: the reading to publish, the held-back registers to report
    (None: nothing changed), and whether the owner's acceptance was carried out."""

    reading: EnergyReading | None
    held: EnergyHeld | None
    owner_accepted: bool = False


class Intake:
    """Decodes BT28, BT23 and BT52 answers, checks them, and makes the events to emit.

    `counters` is the poller's dict ("quarantined", "energy_held", "readings" are counted
    here); `clock` is the loop's time, for the log throttle only.
    """

    def __init__(
        self, limits: PlausibilityLimits, counters: dict[str, int], clock: Callable[[], float]
    ) -> None:
        self._limits = limits
        self._counters = counters
        self._say = Throttle(log, interval_s=QUARANTINE_LOG_INTERVAL_S, clock=clock)
        self._say_held = Throttle(log, interval_s=HELD_LOG_INTERVAL_S, clock=clock)
        self._guards: dict[str, EnergyRegisterGuard] = {}
        # The registers last reported held back; None: nothing reported since `adopt`.
        self._held_names: tuple[str, ...] | None = None
        self._duplicates_said: set[tuple[str, frozenset[str]]] = set()
        self.clock_offset_s: float | None = None  # meter clock minus host clock (BT52)

    def adopt(self, state: MeterState) -> None:
        """Fresh guards for a meter, seeded with the state file's last published registers.

        The first energy read after this says what is held back, even nothing, so a problem
        reported before (another run, another meter) clears.
        """
        self._guards = {}
        self._held_names = None
        for name in ENERGY_REGISTERS:
            guard = EnergyRegisterGuard(name, self._limits)
            if name in state.energy:
                guard.last_value, guard.last_at_s = state.energy[name]
            self._guards[name] = guard

    def present(
        self,
        data: bytes,
        layout: Layout,
        serial: str,
        host_time: datetime,
        answers: Collection[Collection[str]] | None = None,
    ) -> PresentReading | None:
        """BT28: all of it, or (any value implausible) none of it. `answers`: the values
        each answer carried, when the table came in several (the guard's cross-checks)."""
        try:
            present = decode_bt28(data, layout.dims, layout.selection)
        except DecodeError as error:
            self._quarantine("BT28", (str(error),), data)
            return None
        self._say_duplicates("BT28 (BT27 present value sources)", present.values.duplicates)
        values = Measurements.of(present.values.unique)
        return self._checked(values, data, serial, host_time, answers=answers)

    def piece(
        self,
        data: bytes,
        layout: Layout,
        serial: str,
        host_time: datetime,
        *,
        piece: Piece,
        span: tuple[int, int],
    ) -> PresentReading | None:
        """A piece of BT28 (the values `span` = (first, count), in one answer): its own
        values, checked alone."""
        try:
            values = decode_bt28_values(data, layout.dims, layout.selection, *span)
        except DecodeError as error:
            self._quarantine("BT28", (str(error),), data)
            return None
        own = Measurements.of(m for m in values.unique if m.name in PIECES[piece])
        return self._checked(own, data, serial, host_time, piece=piece)

    def _checked(
        self,
        values: Measurements,
        data: bytes,
        serial: str,
        host_time: datetime,
        *,
        answers: Collection[Collection[str]] | None = None,
        piece: Piece | None = None,
    ) -> PresentReading | None:
        finding = check_present({m.name: m.value for m in values}, self._limits, answers)
        if finding.verdict is Verdict.QUARANTINED:
            self._quarantine("BT28", finding.reasons, data)
            return None
        self._counters["readings"] += 1
        return PresentReading(serial, values, host_time, self.meter_time(host_time), piece)

    def energy(
        self,
        data: bytes,
        layout: Layout,
        serial: str,
        host_time: datetime,
        state: MeterState,
        *,
        owner_accepts: bool = False,
    ) -> EnergyIntake:
        """BT23: each register on its own; the published ones go into `state`.

        `owner_accepts`: `mepd accept-energy` asked for the next reading as the new baseline;
        carried out (and `EnergyIntake.owner_accepted` set) once a read decodes.
        """
        try:
            totals = decode_bt23_summations(
                data, layout.dims, layout.data_selection, layout.energy_unit
            )
        except DecodeError as error:
            self._quarantine("BT23", (str(error),), data)
            return EnergyIntake(None, None)
        self._say_duplicates("BT23 (BT22 summation sources)", totals.summations.duplicates)
        accepted: list[Measurement] = []
        wall_s = host_time.timestamp()
        for register in totals.summations.unique:
            guard = self._guards.get(register.name)
            if guard is None:
                continue
            guard.accept_next = owner_accepts
            finding = guard.check(register.value, wall_s)
            if finding.verdict is Verdict.HELD:
                # Not published, like any quarantined value (the diagnostics entity counts it).
                self._counters["quarantined"] += 1
                self._counters["energy_held"] += 1
                self._say_held.warning(
                    f"held-{register.name}",
                    "%s held back (not published): the meter says %s, the last published is "
                    "%s; %s (if the meter was replaced or reset with the same serial, run "
                    "`mepd accept-energy`)",
                    register.name,
                    kwh(register.value),
                    "none" if guard.last_value is None else kwh(guard.last_value),
                    finding.reasons[0],
                )
                continue
            if finding.verdict is Verdict.OWNER_ACCEPTED:
                log.warning("%s", finding.reasons[0])
            accepted.append(register)
            state.energy[register.name] = (register.value, wall_s)
        held = self._held_event(serial)
        reading = None
        if accepted:
            self._counters["readings"] += 1
            reading = EnergyReading(
                serial, Measurements.of(accepted), host_time, self.meter_time(host_time)
            )
        return EnergyIntake(reading, held, owner_accepted=owner_accepts)

    def _held_event(self, serial: str) -> EnergyHeld | None:
        """The held registers, when there are any or there were some (then: cleared)."""
        registers = tuple(
            HeldRegister(
                name,
                guard.last_value,
                guard.held.value,
                guard.held.reason,
                datetime.fromtimestamp(guard.held.since_s, UTC),
            )
            for name, guard in self._guards.items()
            if guard.held is not None
        )
        cleared = not registers and self._held_names != ()
        for name in set(self._held_names or ()) - {r.name for r in registers}:
            log.info("%s is plausible again: published again", name)
        self._held_names = tuple(r.name for r in registers)
        return EnergyHeld(serial, registers) if registers or cleared else None

    def _say_duplicates(self, table: str, names: frozenset[str]) -> None:
        """A layout that lists a source twice: said once per run, and that source left out."""
        if names and (table, names) not in self._duplicates_said:
            self._duplicates_said.add((table, names))
            log.warning(
                "the meter's %s lists %s more than once: the layout is ambiguous, so %s not "
                "published (check the meter's configuration)",
                table,
                ", ".join(sorted(names)),
                "it is" if len(names) == 1 else "they are",
            )

    def clock(self, data: bytes, host_time: datetime) -> None:
        """BT52 (p.224): how far the meter's clock is from ours, for the readings' meter time."""
        try:
            clock = decode_bt52(data)
        except DecodeError as error:
            self._quarantine("BT52", (str(error),), data)
            return
        self.clock_offset_s = (clock.time - host_time).total_seconds()

    def meter_time(self, host_time: datetime) -> datetime | None:
        if self.clock_offset_s is None:
            return None
        return datetime.fromtimestamp(host_time.timestamp() + self.clock_offset_s, UTC)

    def _quarantine(self, table: str, reasons: tuple[str, ...], data: bytes) -> None:
        self._counters["quarantined"] += 1
        self._say.warning(
            f"quarantine-{table}",
            "quarantined %s read (not published): %s; data %s",
            table,
            "; ".join(reasons),
            data.hex(),
        )
