"""The simulated meter's event logs (BT74, ET79) and power outage log (ET81), with their truth.

Before the simulator starts, the logs hold the story `outages.py` tells (a power down and a
power up per outage, an ET81 entry per outage) and a few other events at fixed hours before
the start: a phase lost and restored, a voltage sag and a swell, the cover removed and put
back, the clock set. While it runs, the `event_rate` fault logs live events, and the
`event_log_capacity` fault shrinks BT74 so it wraps and overflows (p.242: Overflow).

Sequence numbers are shared by both logs (p.182, p.242) and start just below 65536, so the
entries' 2-byte numbers wrap while the header's 4-byte number goes on. Power quality events
(sag, swell) go to the alternate log, as the guide suggests using it (p.181); the rest to the
primary one. Event codes are `event_codes.py`'s (C12.19 standard numbers, mepd's assumed
ones for the events the guide names without a number).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from mepd.drivers.simulator.outages import Outage, outages_between
from mepd.protocol.tables.event_codes import CODES_BY_NAME
from mepd.protocol.tables.event_log import (
    ActualLog,
    EventLog,
    LogEntry,
    encode_bt71,
    encode_event_log,
    log_layout,
)
from mepd.protocol.tables.lists import written_status
from mepd.protocol.tables.outage_log import OutageRecord, encode_et81, et81_layout
from mepd.protocol.tables.power_quality import PhaseEvents, PowerCycle, PowerQuality, encode_et09

HISTORY_S = 10 * 86_400.0  # how far back the logs reach at start
FIRST_SEQUENCE = 65_530  # p.242: entries carry the low 2 bytes; this makes them wrap
ARGUMENT_BYTES = 2  # BT71.3 (OPG p.51: "Two bytes of arguments")
PRIMARY_ENTRIES = 100  # BT71.5 (OPG p.51: "manufacturer default: 100")
ALTERNATE_ENTRIES = 50  # ET54.80 (p.137)
POWER_CYCLES = 10  # ET04.53 "Max Power Outages Recorded" (p.58: default 10)
SAG_MV, SURGE_MV = 195_000, 255_000  # the lowest / highest voltage of a sag / swell
RESET_POWER_FAILURE = 3  # ET09 reset cause (p.70)
OUTAGE_ENTRIES = 20  # ET36 "Current Entries" for ET81 (p.109: up to 253)
FIRST_OUTAGE_SEQUENCE = 300
NO_USER = 0xFFFF  # p.243: nobody logged in
_ALTERNATE = frozenset({"voltage_sag", "voltage_swell"})
# Hours before the start: what happened besides outages (name, argument, hours before).
_SCRIPT = (
    ("cover_removed", 0, 50.0),
    ("cover_closed", 0, 49.95),
    ("time_changed_old", 0, 40.0),
    ("time_changed_new", 0, 39.99),
    ("phase_loss", 2, 30.0),
    ("phase_restored", 2, 29.88),
    ("voltage_sag", 1, 20.0),
    ("voltage_swell", 3, 10.0),
)
# What the `event_rate` fault logs, in turn.
_LIVE = (
    ("voltage_sag", 1),
    ("phase_loss", 3),
    ("phase_restored", 3),
    ("voltage_swell", 2),
    ("cover_removed", 0),
    ("cover_closed", 0),
)


@dataclass(frozen=True)
class SimEvent:
    log: EventLog
    sequence: int
    wall: float  # UTC seconds since the epoch, whole seconds
    code: int
    argument: bytes

    @property
    def time(self) -> datetime:
        return _naive_utc(self.wall)


def _naive_utc(wall: float) -> datetime:
    return datetime.fromtimestamp(math.floor(wall), tz=UTC).replace(tzinfo=None)


def _extremes(
    phases: tuple[PhaseEvents, PhaseEvents, PhaseEvents], millivolts: int
) -> tuple[int, int, int]:
    """ET09's last sag/surge voltage per phase: `millivolts` where one happened, else 0."""
    first, second, third = (millivolts if phase.count else 0 for phase in phases)
    return first, second, third


def _outside_outages(wall: float, outages: tuple[Outage, ...]) -> float:
    """A scripted event that would fall while the supply was off happens a minute after."""
    for outage in outages:
        if outage.start <= wall < outage.end:
            return math.floor(outage.end) + 60.0
    return wall


class EventHistory:
    """Both event logs and the outage log, as the meter holds them at any instant."""

    def __init__(self, start_wall: float, seed: int = 0, *, alternate: bool = True) -> None:
        self.start_wall = start_wall
        self.alternate = alternate  # fw 3.70+ (p.181)
        self.primary_entries = PRIMARY_ENTRIES
        self.outages = outages_between(start_wall - HISTORY_S, start_wall, seed)
        self.outages = tuple(o for o in self.outages if o.end <= start_wall)
        planned: list[tuple[float, str, int]] = []
        for outage in self.outages:
            planned.append((math.floor(outage.start), "power_down", 0))
            planned.append((math.floor(outage.end), "power_up", 0))
        for name, argument, hours in _SCRIPT:
            wall = _outside_outages(math.floor(start_wall - hours * 3600), self.outages)
            planned.append((wall, name, argument))
        self._events: list[SimEvent] = []
        self._next = FIRST_SEQUENCE
        for wall, name, argument in sorted(planned):
            self._log(wall, name, argument)
        self._live_turn = 0

    def _log(self, wall: float, name: str, argument: int) -> SimEvent:
        log = EventLog.ALTERNATE if self.alternate and name in _ALTERNATE else EventLog.PRIMARY
        event = SimEvent(
            log, self._next, math.floor(wall), CODES_BY_NAME[name], argument.to_bytes(2, "little")
        )
        self._events.append(event)
        self._next += 1
        return event

    def set_primary_entries(self, entries: int) -> None:
        """The `event_log_capacity` fault: BT74 (and BT71.5) shrink to `entries`; 0 resets."""
        self.primary_entries = entries if entries > 0 else PRIMARY_ENTRIES

    def log_live(self, wall: float, rng: random.Random) -> SimEvent:
        """The `event_rate` fault: the next event of the rotation, now."""
        name, phase = _LIVE[self._live_turn % len(_LIVE)]
        self._live_turn += 1
        if phase and name in ("voltage_sag", "voltage_swell"):
            phase = rng.randint(1, 3)
        wall = max(wall, self._events[-1].wall if self._events else wall)
        return self._log(wall, name, phase)

    # --- truth ----------------------------------------------------------------------------

    def logged(self, log: EventLog, wall: float | None = None) -> tuple[SimEvent, ...]:
        """Every event this log ever got (up to `wall`), oldest first: the truth."""
        return tuple(e for e in self._events if e.log is log and (wall is None or e.wall <= wall))

    def entries(self, log: EventLog) -> int:
        return self.primary_entries if log is EventLog.PRIMARY else ALTERNATE_ENTRIES

    def held(self, log: EventLog, wall: float | None = None) -> tuple[SimEvent, ...]:
        """What the log still holds: the newest `entries` events."""
        events = self.logged(log, wall)
        return events[max(0, len(events) - self.entries(log)) :]

    def outage_records(self) -> tuple[OutageRecord, ...]:
        """ET81's truth, oldest first: every outage before the start (local = UTC here)."""
        return tuple(
            OutageRecord(_naive_utc(o.start), _naive_utc(o.end), FIRST_OUTAGE_SEQUENCE + k)
            for k, o in enumerate(self.outages)
        )

    # --- tables ---------------------------------------------------------------------------

    def bt71(self) -> bytes:
        """OPG p.51: date/time and sequence numbers kept; 2 argument bytes."""
        return encode_bt71(
            ActualLog(
                event_number=False,
                history_date_time=True,
                history_sequence_number=True,
                history_inhibit_overflow=False,
                event_inhibit_overflow=False,
                standard_event_bytes=8,
                manufacturer_event_bytes=19,
                history_data_length=ARGUMENT_BYTES,
                event_data_length=ARGUMENT_BYTES,
                history_entries=self.primary_entries,
                event_entries=0,
            )
        )

    def log_table(self, log: EventLog, wall: float) -> bytes:
        """BT74 or ET79 at `wall`: entry k of the log in element k % entries (p.242)."""
        capacity = self.entries(log)
        layout = log_layout(log, capacity, ARGUMENT_BYTES)
        events = self.logged(log, wall)
        kept = events[max(0, len(events) - capacity) :]
        last = kept[-1].sequence if kept else 0
        # p.242: overflow is more unread than the log holds; no head end reads these logs
        status = written_status(capacity, len(events), last, unread=len(kept))
        first = len(events) - len(kept)
        entries = {
            (first + k) % capacity: LogEntry(
                e.time, e.sequence & 0xFFFF, NO_USER, e.code, e.argument
            )
            for k, e in enumerate(kept)
        }
        return encode_event_log(layout, status, entries)

    def et81(self) -> bytes:
        """p.185-186: outage k in element k % entries, the newest with the header's number."""
        records = self.outage_records()
        kept = records[max(0, len(records) - OUTAGE_ENTRIES) :]
        layout = et81_layout(OUTAGE_ENTRIES)
        first = len(records) - len(kept)
        last = FIRST_OUTAGE_SEQUENCE + len(records) - 1
        status = written_status(OUTAGE_ENTRIES, len(records), last)
        elements = {(first + k) % OUTAGE_ENTRIES: r for k, r in enumerate(kept)}
        return encode_et81(layout, status, elements)

    def power_quality(self, wall: float) -> PowerQuality:
        """ET09 at `wall` from the same story: power cycles, sags, swells, phase loss now."""
        events = sorted(
            (*self.logged(EventLog.PRIMARY, wall), *self.logged(EventLog.ALTERNATE, wall)),
            key=lambda e: e.sequence,
        )
        cycles = tuple(
            PowerCycle(
                _naive_utc(o.start),
                _naive_utc(o.end),
                math.floor(o.end) - math.floor(o.start),
                RESET_POWER_FAILURE,
            )
            for o in reversed(self.outages[-POWER_CYCLES:])
        )

        def per_phase(name: str) -> tuple[PhaseEvents, PhaseEvents, PhaseEvents]:
            code = CODES_BY_NAME[name]
            found = [
                [e for e in events if e.code == code and e.argument[0] == p] for p in (1, 2, 3)
            ]
            first, second, third = (
                PhaseEvents(_naive_utc(hits[-1].wall) if hits else None, len(hits))
                for hits in found
            )
            return first, second, third

        lost = [False, False, False]
        for e in events:
            if e.code in (CODES_BY_NAME["phase_loss"], CODES_BY_NAME["phase_restored"]):
                lost[e.argument[0] - 1] = e.code == CODES_BY_NAME["phase_loss"]
        sags, surges = per_phase("voltage_sag"), per_phase("voltage_swell")
        return PowerQuality(
            cycles=cycles,
            sags=sags,
            surges=surges,
            phase_losses=per_phase("phase_loss"),
            phase_lost_now=(lost[0], lost[1], lost[2]),
            over_current=(0, 0, 0),
            sag_voltage_mv=_extremes(sags, SAG_MV),
            surge_voltage_mv=_extremes(surges, SURGE_MV),
            short_outages=0,
        )

    def et09(self, wall: float) -> bytes:
        return encode_et09(self.power_quality(wall), POWER_CYCLES)
