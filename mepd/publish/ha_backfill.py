"""Which hourly rows of Home Assistant's long-term statistics a load profile corrects: pure.

What Home Assistant keeps. For a sensor with `state_class: total_increasing` (mepd's energy
sensors, `catalog.ENERGY`), the recorder compiles 5-minute statistics from the states and rolls
them up into one row per hour: `start` (top of the hour, UTC), `state` (the last reading of the
hour) and `sum`, a running total that grows by each increase of the reading. The Energy
dashboard shows an hour's consumption as the difference of `sum` between that hour's row and the
row before it. When the sensor is unavailable (mepd, the broker or the gateway away) or Home
Assistant is down, those hours get no row (or a row with the sum unchanged); the next valid
reading is compared with the last one before the gap, and the whole increase lands in the hour
mepd came back (the "return hour").

How the recorder continues. Each new 5-minute row starts from the last 5-minute row's `state`
and `sum`, not from the hourly table. Rows imported into the hourly table through
`recorder/import_statistics` (source "recorder", statistic_id = the sensor's entity id: the
same statistic the recorder keeps, not an external `domain:name` one, which would be a second
series the dashboard does not show for the sensor) therefore change nothing the recorder
computes afterwards: every later row keeps its sum, which already counts all the energy since
before the gap.

So the gap hours are rewritten, and nothing else is. Let the last row before a run of gap hours
A..B-1 have sum S (the anchor). Each gap hour h gets `sum = S + E(A) + ... + E(h)`, with E the
load profile's energy of that hour. Then:
- each gap hour shows E(h), its real consumption;
- the return hour B, untouched, shows sum(B) - sum(B-1) = (S + increase of the reading from the
  anchor's last reading to B's last) - (S + E(A..B-1)), which is B's own consumption: the gap
  energy is no longer counted there, without writing B's row;
- every later hour is the difference of two rows the recorder made, unchanged.
The hour the outage began has a row that misses the energy after the last reading; it counts as
a gap hour too when Home Assistant's figure for it falls short of the profile by more than
`tolerance` (a few read periods' worth of timing is not an outage), so its tail is moved out of
the return hour as well.

When a gap hour is safe to write. Only hours that Home Assistant has compiled past: a row must
exist for some hour after the run. The recorder compiles an hour once, going forward, so it never
later inserts a row over one imported here (and an hour a restarting Home Assistant is still
compiling is left for the next pass). Until then the hour waits.

A run without any row before it (a sensor with no history yet) is never written: there is no
sum to continue, and sums starting from zero would make the first recorded hour negative.

Importing is idempotent: a second pass over the same hours finds them no longer short and
imports nothing, so an import lost to a restarting Home Assistant is simply done again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

HOUR = timedelta(hours=1)
WH_PER_KWH = 1000.0
# An hour whose recorded consumption is this close to the profile's is left alone: the readings
# Home Assistant saw are 15 s apart by default, so their timing moves a few Wh between hours.
TOLERANCE_FRACTION = 0.05
TOLERANCE_KWH = 0.002  # the register's last digit (Wh) on either side


@dataclass(frozen=True)
class Row:
    """One hourly row of Home Assistant's statistics (`start`: top of the hour, UTC)."""

    start: datetime
    sum: float | None
    state: float | None = None


def hour_of(moment: datetime) -> datetime:
    """The top of the UTC hour that contains `moment`."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class HourlyEnergy:
    """Interval energy collected into UTC hours for one statistic; full hours come out.

    An interval must lie inside one hour (15 or 60 minutes do; a profile of 90 minutes cannot be
    split honestly and is refused). Each interval counts once, whoever sends it again: one that
    overlaps an interval held is refused (the engine emits again what the broker has not
    confirmed, and resumes from its cursor after a restart), and so is one for an hour already
    finished (`finish`: Home Assistant has it right, or it can never be written), up to the
    newest finished hour. Intervals come oldest first (the engine's history), so an hour still
    incomplete when an interval of a later hour comes never completes (the first hour after a
    start, a channel missing, a profile that wrapped): it is finished then, not kept for ever.
    """

    # hour -> (start, end) -> Wh: each interval kept, so the hours can be saved and restored
    _spans: dict[datetime, dict[tuple[datetime, datetime], float]] = field(default_factory=dict)
    finished: datetime | None = None  # the newest hour done with; none up to it is taken again

    def add(self, start: datetime, end: datetime, wh: float) -> bool:
        """Adds one interval's Wh; False if it does not fit in one hour, was seen, or its hour
        is finished."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        hour = hour_of(start)
        if not start < end <= hour + HOUR:
            return False
        spans = self._spans.get(hour)
        if spans is None and self.finished is not None and hour <= self.finished:
            return False
        if spans and any(start < seen_end and seen_start < end for seen_start, seen_end in spans):
            return False
        self.finish(h for h in list(self._spans) if h < hour and not self._whole(h))
        self._spans.setdefault(hour, {})[(start, end)] = wh
        return True

    def _whole(self, hour: datetime) -> bool:
        return sum((end - start for start, end in self._spans[hour]), timedelta()) == HOUR

    def complete(self) -> dict[datetime, float]:
        """kWh of each hour the intervals cover whole."""
        return {
            hour: sum(spans.values()) / WH_PER_KWH
            for hour, spans in self._spans.items()
            if self._whole(hour)
        }

    def intervals(self) -> list[tuple[datetime, datetime, float]]:
        """Every interval held (start, end, Wh), oldest first: what `add` would restore."""
        return sorted((s, e, wh) for spans in self._spans.values() for (s, e), wh in spans.items())

    def hours(self) -> list[datetime]:
        return sorted(self._spans)

    def finish(self, hours: Iterable[datetime]) -> None:
        """Done with `hours`: forgotten, and an interval of them is not taken again."""
        for hour in hours:
            self._spans.pop(hour, None)
            self.finished = hour if self.finished is None else max(self.finished, hour)

    def __len__(self) -> int:
        return len(self._spans)


@dataclass(frozen=True)
class Plan:
    """What one look at Home Assistant's rows decided for a statistic's complete hours."""

    rows: tuple[Row, ...]  # to import: the gap hours, with continued sums
    settled: frozenset[datetime]  # hours Home Assistant already has right: done with
    waiting: frozenset[datetime]  # gap hours Home Assistant has not compiled past yet
    orphaned: frozenset[datetime]  # gap hours with no row before them: never written


def _short(hour: datetime, kwh: float, rows: Mapping[datetime, Row]) -> bool:
    """Whether Home Assistant's consumption for `hour` falls short of the profile's `kwh`."""
    row = rows.get(hour)
    if row is None or row.sum is None:
        return True
    before = [r for start, r in rows.items() if start < hour and r.sum is not None]
    if not before:
        return False  # the first row: the recorder counts nothing before it either
    previous = max(before, key=lambda r: r.start)
    assert previous.sum is not None
    tolerance = max(TOLERANCE_KWH, TOLERANCE_FRACTION * kwh)
    return row.sum - previous.sum < kwh - tolerance


def plan(complete: Mapping[datetime, float], existing: Sequence[Row]) -> Plan:
    """The rows to import for the complete hours `complete` (kWh), given Home Assistant's rows."""
    rows = {row.start: row for row in existing if row.sum is not None}
    short = sorted(hour for hour, kwh in complete.items() if _short(hour, kwh, rows))
    settled = frozenset(complete) - set(short)
    imported: list[Row] = []
    waiting: set[datetime] = set()
    orphaned: set[datetime] = set()
    for run in _runs(short):
        first, last = run[0], run[-1]
        anchors = [row for start, row in rows.items() if start < first]
        if not anchors:
            orphaned.update(run)
            continue
        if not any(start > last for start in rows):
            waiting.update(run)
            continue
        anchor = max(anchors, key=lambda r: r.start)
        assert anchor.sum is not None
        total, state = anchor.sum, anchor.state
        for hour in run:
            total += complete[hour]
            state = None if state is None else state + complete[hour]
            imported.append(Row(hour, _rounded(total), None if state is None else _rounded(state)))
    return Plan(tuple(imported), settled, frozenset(waiting), frozenset(orphaned))


def _runs(hours: Sequence[datetime]) -> list[list[datetime]]:
    """Consecutive hours grouped: each run continues from the row before it."""
    runs: list[list[datetime]] = []
    for hour in hours:
        if runs and runs[-1][-1] + HOUR == hour:
            runs[-1].append(hour)
        else:
            runs.append([hour])
    return runs


def _rounded(kwh: float) -> float:
    """To the Wh, as the meter counts: no float dust in Home Assistant's database."""
    return round(kwh, 3)
