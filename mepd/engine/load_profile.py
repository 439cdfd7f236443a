"""The load profile as a history source: each stored interval the meter holds, once.

The guide's recipe (p.30), one frame per `step`:
1. BT61 (the data set's dimensions) and BT62 (which source each channel logs, its scalar and
   divisor), once per configuration; ET66 only if a channel has a mapped source id (112..163).
2. ET21 before each round of data reads ("must be re-read before each read of load profile
   data", p.30 step 4): it also carries BT63's valid blocks, last block and last interval
   (ET21.14-20), and the newest interval's end in UTC (ET21.94).
3. Per block: its header (end time, simple status), then runs of whole intervals, each read
   <= 465 bytes (p.8, `plan_intervals`). Offsets count back from the newest interval modulo the
   data set's size (p.30: "a circular buffer ... modulo the number of total blocks").

An interval's times come from its block's end time (UTC, p.238) and the interval length; the
meter's load profile runs on its UTC system clock, never local time (p.239), so the times go
out as they are (the DST bit is a status). Channels are end-of-interval snapshots (p.28): an
energy channel's value is this end minus the previous one, so the interval before the first
new one is read too (the base). If the meter no longer holds the interval after the cursor
(its list wrapped), the gap is logged once and reading resumes at the oldest held.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mepd.engine.history import Found, Reader
from mepd.logs import Throttle
from mepd.protocol import PartialRead
from mepd.protocol.errors import AuthenticationError, DecodeError, ResponseError, SequenceError
from mepd.protocol.frames import MAX_READ_COUNT
from mepd.protocol.tables.codes_lp import CHANNEL_OK, NOT_MEASURED
from mepd.protocol.tables.ids import BT61, BT62, BT64, ET21, ET66
from mepd.protocol.tables.lp_config import (
    BT61_HEADER,
    BT61_SET,
    ET21_READ,
    MAPPED_LAST,
    ActualLoadProfile,
    ChannelControl,
    LoadProfileInternal,
    bt62_set_size,
    channel_source,
    decode_bt61,
    decode_bt62,
    decode_et21,
    decode_et66,
    is_mapped,
)
from mepd.protocol.tables.lp_data import (
    BlockHeader,
    BlockLayout,
    IntervalData,
    decode_block_start,
    decode_intervals,
    interval_end,
    plan_intervals,
)
from mepd.protocol.tables.measurements import Measurement, Measurements, scaled
from mepd.protocol.tables.names import ValueName
from mepd.protocol.tables.sources import Source
from mepd.protocol.tls.errors import TlsRefusedError
from mepd.readings import DemandPeak, Event, IntervalRecord

log = logging.getLogger(__name__)

FIRST_RUN = timedelta(days=1)  # never delivered: start a day back (p.29: weeks may be held)
AFTER_CLOSE = timedelta(seconds=5)  # look for a new interval this long after it closes
RETRY_AFTER = timedelta(minutes=5)  # after data that does not decode
DEMAND_WINDOW = timedelta(minutes=15)  # the peak demand window, or the interval if longer


@dataclass(frozen=True)
class _Read:
    request: PartialRead
    slot: int
    first: int  # interval index of the first interval read; -1: the header (and interval 0..)
    distance: int  # of the first interval read back from the newest


@dataclass
class _Peak:
    month: str
    demand_w: float
    start: datetime
    end: datetime


class LoadProfileSource:
    """Data set 1 (BT64; for fw < 3.50 all load profile data, p.30)."""

    name = "load_profile"

    def __init__(self, say: Throttle | None = None) -> None:
        self._say = say or Throttle(log)
        self._serial = ""
        self._offered = True
        self._position: datetime | None = None  # end of the last interval emitted (or base)
        self._base: tuple[int, ...] | None = None
        self._peak: _Peak | None = None
        self._window: tuple[datetime, float] | None = None  # window start, Wh so far
        self.forget_layout()

    def forget_layout(self) -> None:
        self._bt61: ActualLoadProfile | None = None
        self._channels: tuple[ChannelControl, ...] | None = None
        self._et66: tuple[int, ...] | None = None
        self._reads: deque[_Read] = deque()
        self._headers: dict[int, BlockHeader] = {}
        self._layout: BlockLayout | None = None
        self._newest_end: datetime | None = None
        self._next_look = datetime.min.replace(tzinfo=UTC)

    # --- HistorySource -----------------------------------------------------------------------

    def adopt(self, serial: str, cursor: str | None) -> Sequence[Event]:
        self._serial = serial
        self._position, self._base, self._peak, self._window = None, None, None, None
        self._reads.clear()
        if cursor is not None:
            self._load_cursor(cursor)
        return self._summary()

    def _summary(self) -> Sequence[Event]:
        """This month's peak so far, said once after a (re)start (it is retained status)."""
        return () if self._peak is None else (self._peak_event(self._peak),)

    def has_work(self, now: datetime) -> bool:
        return self._offered and (bool(self._reads) or now >= self._next_look)

    async def step(self, read: Reader, now: datetime) -> Sequence[Found]:
        try:
            return await self._step(read, now)
        except (AuthenticationError, SequenceError, TlsRefusedError):
            raise  # the link's business, as for any read (`failures.FAILURES`)
        except ResponseError as error:  # a refusal of this table
            if self._bt61 is None:  # p.29: fw and modules without a load profile
                self._offered = False
                log.info("the meter offers no load profile (BT61: %s)", error)
            else:
                self._retry_later(now, f"refused: {error}")
            return ()
        except DecodeError as error:
            self._retry_later(now, str(error))
            return ()

    # --- reading -------------------------------------------------------------------------------

    async def _step(self, read: Reader, now: datetime) -> Sequence[Found]:
        if self._bt61 is None:
            self._bt61 = decode_bt61(await read(PartialRead(BT61, 0, BT61_HEADER + BT61_SET)))
            return ()
        dims = self._bt61.sets[0]
        if self._channels is None:
            size = bt62_set_size(dims.channels, self._bt61.scalar_divisor[0])
            self._channels = decode_bt62(await read(PartialRead(BT62, 0, size)), self._bt61).sets[0]
            return ()
        if self._et66 is None:
            mapped = any(is_mapped(c.source_id) for c in self._channels)
            self._et66 = (
                decode_et66(await read(PartialRead(ET66, 0, 2 * (MAPPED_LAST - 111))))
                if mapped
                else ()
            )
            return ()
        if not self._reads:
            self._plan(decode_et21(await read(PartialRead(ET21, 0, ET21_READ))), now)
            return ()
        job = self._reads.popleft()
        data = await read(job.request)
        assert self._layout is not None
        layout = self._layout
        if job.first >= 0:
            return self._intervals(job, decode_intervals(data, layout, job.first))
        self._headers[job.slot], first = decode_block_start(data, layout)
        return self._intervals(job, first)  # the first intervals, read with the header

    def _plan(self, et21: LoadProfileInternal, now: datetime) -> None:
        assert self._bt61 is not None
        dims = self._bt61.sets[0]
        self._layout = layout = BlockLayout.from_et21(et21, dims)
        length = timedelta(seconds=dims.interval_s)
        if et21.interval_end_utc is None or et21.valid_blocks == 0:
            self._next_look = now + length
            return
        newest = et21.interval_end_utc.replace(tzinfo=UTC)
        self._newest_end = newest
        self._next_look = newest + length + AFTER_CLOSE
        per, ring = dims.intervals_per_block, dims.blocks * dims.intervals_per_block
        held = min(ring, (et21.valid_blocks - 1) * per + et21.last_interval + 1)
        if self._position is None:
            self._position = newest - FIRST_RUN
            self._base = None
        back = int((newest - self._position) / length)  # the base interval's distance
        if back <= 0:
            return
        if back >= held:
            oldest = newest - (held - 1) * length
            if self._base is not None or self._position != newest - FIRST_RUN:
                self._say.warning(
                    "lp-gap",
                    "load profile: the meter no longer holds the intervals from %s to %s "
                    "(it keeps %d); they are lost",
                    self._position.isoformat(),
                    (oldest - length).isoformat(),
                    held,
                )
            back, self._base = held - 1, None
            self._position = oldest - length  # the oldest held becomes the base
        start = back if self._base is None else back - 1
        newest_at = et21.last_block * per + et21.last_interval
        self._headers.clear()
        distance = start
        while distance >= 0:
            at = (newest_at - distance) % ring
            slot, first = divmod(at, per)
            count = min(per - first, distance + 1)
            self._plan_block(layout, slot, first, count, distance)
            distance -= count

    def _plan_block(
        self, layout: BlockLayout, slot: int, first: int, count: int, distance: int
    ) -> None:
        """The block's header, then its intervals first.. (count); from interval 0 the header
        and the first intervals are one read when they fit (p.8: 465 bytes), a frame saved."""
        block_at = slot * layout.block_size
        together = 0
        if first == 0 and layout.interval0_offset == layout.header_size:
            together = min(count, (MAX_READ_COUNT - layout.header_size) // layout.interval_size)
        size = layout.interval0_offset + together * layout.interval_size
        self._reads.append(
            _Read(
                PartialRead(BT64, block_at, size if together else layout.header_size),
                slot,
                -1,
                distance,
            )
        )
        first, count, distance = first + together, count - together, distance - together
        if count == 0:
            return
        for request in plan_intervals(BT64, layout, slot, first, count):
            begin = (
                first
                + (request.offset - layout.interval_offset(slot, first)) // layout.interval_size
            )
            self._reads.append(_Read(request, slot, begin, distance - (begin - first)))

    def _intervals(self, job: _Read, found: tuple[IntervalData, ...]) -> Sequence[Found]:
        assert self._bt61 is not None
        assert self._newest_end is not None
        length = timedelta(seconds=self._bt61.sets[0].interval_s)
        header = self._headers.get(job.slot)
        out: list[Found] = []
        for n, interval in enumerate(found):
            if header is None or not header.processed[interval.index]:
                continue
            end = interval_end(header, interval.index, length).replace(tzinfo=UTC)
            if end != self._newest_end - (job.distance - n) * length:
                # The block moved under us (a new block overwrote it) or the clock jumped:
                # plan again from ET21.
                self._reads.clear()
                self._next_look = datetime.min.replace(tzinfo=UTC)
                return out
            out += self._take(end, length, interval)
        return out

    def _take(self, end: datetime, length: timedelta, interval: IntervalData) -> list[Found]:
        position, base = self._position, self._base
        if position is not None and end <= position:
            if end == position:
                self._base = interval.values
            return []
        self._position, self._base = end, interval.values
        if base is None:
            return []  # the first one held after a gap or a first run: the base only
        record = self._record(end, length, interval, base)
        found = [Found(record, "")]
        peak = self._add_demand(record)
        if peak is not None:
            found.append(Found(self._peak_event(peak), ""))
        cursor = self._cursor()
        return [Found(f.event, cursor) for f in found]

    def _record(
        self, end: datetime, length: timedelta, interval: IntervalData, base: tuple[int, ...]
    ) -> IntervalRecord:
        assert self._channels is not None
        values: list[Measurement] = []
        status = [flag.value for flag in sorted(interval.common, key=lambda f: f.bit)]
        for c, control in enumerate(self._channels):
            source = channel_source(control.source_id, self._et66 or ())
            state = interval.channel_status[c]
            if state != CHANNEL_OK:
                status.append(f"{source.name}:{state}")
            if state in NOT_MEASURED:
                continue
            raw = interval.values[c] - base[c] if source.kind == "energy" else interval.values[c]
            if raw < 0:
                self._say.warning(
                    "lp-fall", "load profile: %s fell at %s; left out", source.name, end
                )
                continue
            values.append(_measure(source, raw, control))
        return IntervalRecord(
            self._serial, end - length, end, Measurements.of(values), tuple(status)
        )

    # --- the month's peak demand ---------------------------------------------------------------

    def _add_demand(self, record: IntervalRecord) -> _Peak | None:
        energy = record.values.get(ValueName.ENERGY_IMPORT)
        length = record.end - record.start
        window = max(DEMAND_WINDOW, length)
        if energy is None or window % length:
            return None
        start = datetime.fromtimestamp(
            record.start.timestamp() // window.total_seconds() * window.total_seconds(), UTC
        )
        so_far = self._window[1] if self._window and self._window[0] == start else 0.0
        self._window = (start, so_far + energy.value)
        if record.end != start + window:
            return None
        demand = round(self._window[1] * 3600 / window.total_seconds(), 3)
        month = start.strftime("%Y-%m")
        if self._peak is None or self._peak.month != month or demand > self._peak.demand_w:
            self._peak = _Peak(month, demand, start, start + window)
            return self._peak
        return None

    def _peak_event(self, peak: _Peak) -> DemandPeak:
        window = int((peak.end - peak.start).total_seconds())
        return DemandPeak(self._serial, peak.month, peak.demand_w, window, peak.start, peak.end)

    # --- the cursor ----------------------------------------------------------------------------

    def _cursor(self) -> str:
        assert self._position is not None
        document: dict[str, object] = {"end": self._position.isoformat()}
        if self._peak is not None:
            p = self._peak
            document["peak"] = [p.month, p.demand_w, p.start.isoformat(), p.end.isoformat()]
        if self._window is not None:
            document["window"] = [self._window[0].isoformat(), self._window[1]]
        return json.dumps(document, separators=(",", ":"))

    def _load_cursor(self, cursor: str) -> None:
        """A cursor that does not parse is a first run (said once), never a crash."""
        try:
            document = json.loads(cursor)
            self._position = _utc(document["end"])
            if "peak" in document:
                month, demand, start, end = document["peak"]
                self._peak = _Peak(str(month), float(demand), _utc(start), _utc(end))
            if "window" in document:
                start, energy = document["window"]
                self._window = (_utc(start), float(energy))
        except (ValueError, KeyError, TypeError) as error:
            log.warning(
                "load profile cursor %r not understood (%s): starting a day back",
                cursor[:80],
                error,
            )
            self._position, self._peak, self._window = None, None, None

    def _retry_later(self, now: datetime, why: str) -> None:
        self._reads.clear()
        self._next_look = now + RETRY_AFTER
        self._say.warning("lp-decode", "load profile: %s; trying again in %s", why, RETRY_AFTER)


def _measure(source: Source, raw: int, control: ChannelControl) -> Measurement:
    """p.235: scalars and divisors applied to the raw interval data."""
    value = scaled(raw * control.scalar, source.scale) / control.divisor
    return Measurement(source, value, source.unit, raw)


def _utc(text: object) -> datetime:
    if not isinstance(text, str):
        raise TypeError("not a time")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return moment.astimezone(UTC)
