"""What the meter logged: the event logs (BT74 + ET79) and the power outage log (ET81).

Policies for `scripted_source.ScriptedSource`; each look is one generator of reads.

Event logs (p.181-183, p.241-243): BT71 gives BT74's size and argument length; ET79 exists
from fw 3.70 (a refused header: none) and ET54.80 gives its size (0: off). A look reads both
headers, then only the entries that can be newer than the cursor (`plan_events_after`), then
both headers again: if either moved, what was read may mix old and new entries (p.108) and is
dropped, and the next look comes at once. Both logs number their events in one sequence
(p.182, p.242), so one cursor (the newest sequence delivered) serves both; a number neither
log holds any more after a wrap is a lost range, said once as an `EventsLost` in its place.

Outage log (p.185-186, fw 3.70+): one number per outage (UINT16), its size from its header
(`lists.fitted`, as `mepd dump` does: a list that has wrapped is full). Its times are the
local BT55 clock, made UTC with BT53/BT55 (`local_clock.py`); a meter whose BT53 cannot be
read gets no outage records published (a local time is never passed off as UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from mepd.engine.history import Found
from mepd.engine.read_script import Script, refused
from mepd.protocol import PartialRead
from mepd.protocol.errors import DecodeError
from mepd.protocol.tables.event_log import (
    EventBatch,
    EventLog,
    HistoryEvent,
    LogRead,
    decode_alternate_entries,
    decode_bt71,
    decode_log_status,
    events_after,
    log_layout,
    plan_alternate_entries,
    plan_bt71,
    plan_events_after,
)
from mepd.protocol.tables.ids import ET81
from mepd.protocol.tables.lists import (
    SMALL_LIST,
    EntryRead,
    ListLayout,
    ListStatus,
    backlog,
    fitted,
    plan_newest,
    sequence_at,
    split_entries,
    unchanged,
)
from mepd.protocol.tables.local_clock import (
    LocalClock,
    decode_bt53,
    decode_dst_now,
    plan_bt53,
    plan_bt55,
    plausible_offset,
)
from mepd.protocol.tables.meter_time import TimeBasis
from mepd.protocol.tables.outage_log import (
    OutageRecord,
    decode_et81_status,
    decode_outage,
    et81_layout,
)
from mepd.readings import Event, EventCategory, EventsLost, HistoryLog, MeterEventRecord

EVENT_LOOK = timedelta(minutes=2)  # two header frames a look: the budget's surplus is small
OUTAGE_LOOK = timedelta(minutes=5)
OUTAGE_PAGE = 185  # ET81 (p.185-186)
OUTAGE_NAME = "outage"
_LOG_NAMES = {EventLog.PRIMARY: HistoryLog.BT74, EventLog.ALTERNATE: HistoryLog.ET79}


def cursor_number(cursor: str | None) -> int | None:
    """A cursor written by these sources: a sequence number; anything else is no cursor."""
    if cursor is None or not cursor.isdigit():
        return None
    return int(cursor)


def read_entries(plan: Sequence[EntryRead]) -> Script[list[tuple[EntryRead, bytes]]]:
    pairs: list[tuple[EntryRead, bytes]] = []
    for item in plan:
        pairs.append((item, (yield item.read)))
    return pairs


def read_zone() -> Script[tuple[int, int]]:
    """BT53 (p.225): the time zone offset and the DST adjustment, in minutes."""
    zone, dst = decode_bt53((yield plan_bt53()))
    if not plausible_offset(zone):
        raise DecodeError(f"BT53: time zone offset {zone} min is outside -12..+14 h (p.225)")
    return zone, dst


def read_clock(zone: tuple[int, int]) -> Script[LocalClock]:
    """BT55's DST flag now (p.229), with BT53's offsets: what makes a local time UTC."""
    return LocalClock(zone[0], zone[1], decode_dst_now((yield plan_bt55())))


def event_log_layouts() -> Script[tuple[tuple[EventLog, ListLayout], ...]]:
    """BT74's layout from BT71, and ET79's from ET54.80 if the meter has one (also for
    `history_offer`)."""
    actual = decode_bt71((yield plan_bt71()))
    arguments = actual.history_data_length
    primary = log_layout(EventLog.PRIMARY, actual.history_entries, arguments)
    layouts = [(EventLog.PRIMARY, primary)]
    try:
        # fw 3.70+ only (p.181): a meter without ET79 refuses its header.
        yield log_layout(EventLog.ALTERNATE, 0, arguments).status_read()
        entries = decode_alternate_entries((yield plan_alternate_entries()))
    except Exception as error:
        if not refused(error):
            raise
        entries = 0
    if entries:
        layouts.append((EventLog.ALTERNATE, log_layout(EventLog.ALTERNATE, entries, arguments)))
    return tuple(layouts)


class EventLogs:
    """BT74 and ET79 under one cursor."""

    name = "event_log"
    what = "event log (BT71/BT74)"
    every = EVENT_LOOK

    def __init__(self) -> None:
        self._serial = ""
        self._after: int | None = None
        self.again = False
        self.forget_layout()

    def forget_layout(self) -> None:
        self._layouts: tuple[tuple[EventLog, ListLayout], ...] | None = None

    @property
    def configured(self) -> bool:
        return self._layouts is not None

    def adopt(self, serial: str, cursor: str | None) -> Sequence[Event]:
        self._serial = serial
        self._after = cursor_number(cursor)
        return ()

    def look(self, now: datetime) -> Script[Sequence[Found]]:
        del now
        self.again = False
        if self._layouts is None:
            self._layouts = yield from event_log_layouts()
        layouts = self._layouts
        before: list[ListStatus] = []
        for log, layout in layouts:
            status = decode_log_status(log, (yield layout.status_read()))
            layout.check(status)
            before.append(status)
        reads: list[LogRead] = []
        for (log, layout), status in zip(layouts, before, strict=True):
            plan = plan_events_after(layout, status, self._after)
            reads.append(LogRead.of(log, layout, status, (yield from read_entries(plan))))
        if any(r.entries for r in reads):
            for (log, layout), status in zip(layouts, before, strict=True):
                if not unchanged(status, decode_log_status(log, (yield layout.status_read()))):
                    self.again = True  # p.108: it moved while read; read it again
                    return ()
        return self._found(events_after(self._after, reads))

    def _found(self, batch: EventBatch) -> Sequence[Found]:
        items: list[tuple[int, Found]] = [
            (first, Found(EventsLost(self._serial, HistoryLog.EVENT_LOGS, first, last), str(last)))
            for first, last in batch.lost
        ]
        items += [(e.sequence, Found(self._record(e), str(e.sequence))) for e in batch.events]
        if batch.newest is not None:
            self._after = batch.newest
        return [found for _, found in sorted(items, key=lambda item: item[0])]

    def _record(self, event: HistoryEvent) -> MeterEventRecord:
        meaning = event.meaning
        return MeterEventRecord(
            meter=self._serial,
            log=_LOG_NAMES[event.log],
            sequence=event.sequence,
            time=event.time.replace(tzinfo=UTC),  # p.182, p.242: entries are UTC
            code=event.code,
            name=meaning.name,
            text=meaning.text,
            category=meaning.category,
            page=meaning.page,
            argument=event.argument,
        )


class OutageLog:
    """ET81, one outage per record, start and end made UTC."""

    name = "outage_log"
    what = "power outage log (ET81) or time offset (BT53)"
    every = OUTAGE_LOOK

    def __init__(self) -> None:
        self._serial = ""
        self._after: int | None = None
        self.again = False
        self.forget_layout()

    def forget_layout(self) -> None:
        self._zone: tuple[int, int] | None = None

    @property
    def configured(self) -> bool:
        return self._zone is not None

    def adopt(self, serial: str, cursor: str | None) -> Sequence[Event]:
        self._serial = serial
        self._after = cursor_number(cursor)
        return ()

    def look(self, now: datetime) -> Script[Sequence[Found]]:
        del now
        self.again = False
        header = PartialRead(ET81, 0, SMALL_LIST.header_size)
        if self._zone is None:
            decode_et81_status((yield header))  # fw 3.70+ (p.185): refused means no log
            self._zone = yield from read_zone()
        status = decode_et81_status((yield header))
        layout = fitted(et81_layout(status.valid), status)
        layout.check(status)
        backlog = _outage_backlog(status, self._after)
        if backlog is None:
            return ()
        new, lost = backlog
        raw = [
            data
            for item, block in (yield from read_entries(plan_newest(layout, status, new)))
            for _, data in split_entries(layout, item, block)
        ]
        if raw and not unchanged(status, decode_et81_status((yield header))):
            self.again = True
            return ()
        clock = yield from read_clock(self._zone)
        found: list[Found] = []
        if lost and self._after is not None:
            first = (self._after + 1) % SMALL_LIST.sequence_modulus
            last = (self._after + lost) % SMALL_LIST.sequence_modulus
            found.append(Found(EventsLost(self._serial, HistoryLog.ET81, first, last), str(last)))
        for k, data in enumerate(raw):
            sequence = sequence_at(status, len(raw) - 1 - k, SMALL_LIST)
            found.append(Found(self._record(decode_outage(data, sequence), clock), str(sequence)))
        self._after = status.last_sequence
        return found

    def _record(self, outage: OutageRecord, clock: LocalClock) -> MeterEventRecord:
        return MeterEventRecord(
            meter=self._serial,
            log=HistoryLog.ET81,
            sequence=outage.sequence or 0,
            time=clock.to_utc(outage.start, TimeBasis.LOCAL),
            code=None,
            name=OUTAGE_NAME,
            text="Power outage (start and end, ET81)",
            category=EventCategory.POWER_OUTAGE,
            page=OUTAGE_PAGE,
            end=clock.to_utc(outage.end, TimeBasis.LOCAL),
        )


def _outage_backlog(status: ListStatus, after: int | None) -> tuple[int, int] | None:
    """(new entries to read, numbers lost to a wrap) since `after`; None: nothing new."""
    if not status.valid:
        return None
    pending = backlog(status, after, SMALL_LIST)
    if pending.new == 0 and pending.lost == 0:
        return None
    return pending.new, 0 if pending.restarted else pending.lost
