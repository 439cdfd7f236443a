"""From verified table bytes to reading events, through the plausibility guard; no I/O.

A verified frame can still carry a value no meter could have measured (a glitch in the
meter, a layout read wrong). Whatever fails to decode or fails `guard.py` is quarantined:
counted, logged with its data (throttled per table, the first line always said) and never
published. The energy registers' last good values go to the state file, so the first reading
after a restart is checked against them too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from mepd.engine.guard import EnergyRegisterGuard, Verdict, check_present
from mepd.engine.startup import Layout
from mepd.engine.state import MeterState
from mepd.logs import Throttle
from mepd.protocol.errors import DecodeError
from mepd.protocol.tables import (
    Measurement,
    Measurements,
    decode_bt23_summations,
    decode_bt28,
    decode_bt52,
)
from mepd.protocol.tables.names import ENERGY_REGISTERS
from mepd.readings import EnergyReading, PresentReading
from mepd.settings import PlausibilityLimits

log = logging.getLogger(__name__)

# Quarantines are rare on a verified link; each is worth a line, a flood is not.
QUARANTINE_LOG_INTERVAL_S = 60.0


class Intake:
    """Decodes BT28, BT23 and BT52 answers, checks them, and makes the events to emit.

    `counters` is the poller's dict ("quarantined", "jumps_accepted", "readings" are counted
    here); `clock` is the loop's time, for the log throttle only.
    """

    def __init__(
        self, limits: PlausibilityLimits, counters: dict[str, int], clock: Callable[[], float]
    ) -> None:
        self._limits = limits
        self._counters = counters
        self._say = Throttle(log, interval_s=QUARANTINE_LOG_INTERVAL_S, clock=clock)
        self._guards: dict[str, EnergyRegisterGuard] = {}
        self.clock_offset_s: float | None = None  # meter clock minus host clock (BT52)

    def adopt(self, state: MeterState) -> None:
        """Fresh guards for a meter, seeded with the state file's last good registers."""
        self._guards = {}
        for name in ENERGY_REGISTERS:
            guard = EnergyRegisterGuard(name, self._limits)
            if name in state.energy:
                guard.last_value, guard.last_at_s = state.energy[name]
            self._guards[name] = guard

    def present(
        self, data: bytes, layout: Layout, serial: str, host_time: datetime
    ) -> PresentReading | None:
        """BT28: all of it, or (any value implausible) none of it."""
        try:
            present = decode_bt28(data, layout.dims, layout.selection)
        except DecodeError as error:
            self._quarantine("BT28", (str(error),), data)
            return None
        values = {m.name: m.value for m in present.values}
        finding = check_present(values, self._limits)
        if finding.verdict is Verdict.QUARANTINED:
            self._quarantine("BT28", finding.reasons, data)
            return None
        self._counters["readings"] += 1
        return PresentReading(serial, present.values, host_time, self.meter_time(host_time))

    def energy(
        self, data: bytes, layout: Layout, serial: str, host_time: datetime, state: MeterState
    ) -> EnergyReading | None:
        """BT23: each register on its own; the accepted ones go into `state`."""
        try:
            totals = decode_bt23_summations(
                data, layout.dims, layout.data_selection, layout.energy_unit
            )
        except DecodeError as error:
            self._quarantine("BT23", (str(error),), data)
            return None
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
                self._counters["jumps_accepted"] += 1
                log.warning("%s", finding.reasons[0])
            accepted.append(register)
            state.energy[register.name] = (register.value, wall_s)
        if not accepted:
            return None
        self._counters["readings"] += 1
        return EnergyReading(
            serial, Measurements.of(accepted), host_time, self.meter_time(host_time)
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
