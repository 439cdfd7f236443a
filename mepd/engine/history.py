"""What the meter remembers, read in the gaps of the read budget and published once each.

The backbone every history source plugs into (load profile here; billing snapshots, event logs
and M-Bus read logs later): a source is a strategy object (`HistorySource`) that makes at most
one table read per `step` and returns the records that read completed, oldest first, each with
the cursor the source would resume from once that record is delivered. `History` owns the rest,
the same for every source:

- **Share of the budget** (p.51): a step runs only in a gap, when the next routine read is at
  least `GAP_S` away and the read budget holds the reserve, the history frame and the next
  routine frame (or will, within the gap: then it waits for that first). While a source has
  work, the present-value period is stretched to `BACKFILL_PRESENT_S` (power still goes out
  every <= 2 s) so the gaps hold about one frame in five; afterwards the schedule is the
  configured one again.
- **Exactly once** (`Receipt`): each record is emitted with a receipt; the publisher calls it
  when the broker acknowledged the QoS 1 message. The cursor in the state file
  (`MeterState.cursors[source.name]`) moves to the newest record delivered with all before it;
  records not confirmed within `RESEND_S` are emitted again, in order (a broker outage loses
  nothing); at most `MAX_PENDING` wait, then the source is not stepped until some are confirmed.
  A restart resumes from the cursor, so what was delivered is not sent again.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, cast

from mepd.engine.state import StateStore
from mepd.engine.timetable import Timetable
from mepd.protocol import PartialRead
from mepd.readings import Event, Receipt

log = logging.getLogger(__name__)

Reader = Callable[[PartialRead], Awaitable[bytes]]

GAP_S = 0.7  # a history frame (<= 500 ms answer, p.21, plus the 100 ms spacing) fits
BACKFILL_PRESENT_S = 1.85  # present period while a source has work: < 2 s between power
# publishes also when an energy read (two frames, ~0.13 s) falls just before a present read
ROOM_SLACK_S = 0.01  # budget waits shorter than this count as none
RESEND_S = 30.0  # a record the broker has not confirmed by then goes again
MAX_PENDING = 500  # records emitted and not yet confirmed, per source
# A record unconfirmed this long means the broker is away: its source reads nothing newer
# until the resend got it through, so the broker gets a source's records in order.
STALLED_S = 5.0


@dataclass(frozen=True)
class Found:
    """A record a step completed, and the cursor to resume from once it is delivered."""

    event: Event
    cursor: str


class HistorySource(Protocol):
    """One kind of history (load profile, billing, event log, M-Bus log): a strategy."""

    name: str  # its cursor's key in the state file; stable forever

    def adopt(self, serial: str, cursor: str | None) -> Sequence[Event]:
        """The meter is known (again): resume after `cursor` (None: never delivered);
        returns events to emit once (a retained summary, say)."""
        ...

    def has_work(self, now: datetime) -> bool:
        """A step would read something now (`now`: the host's UTC clock)."""
        ...

    async def step(self, read: Reader, now: datetime) -> Sequence[Found]:
        """At most one `read` (one frame); the records it completed, oldest first."""
        ...

    def forget_layout(self) -> None:
        """The meter's tables may have changed (IDT change, p.55): read the configuration again."""
        ...


@dataclass
class _Pending:
    found: Found
    emitted: float
    delivered: bool = False


@dataclass
class _Queue:
    source: HistorySource
    pending: deque[_Pending] = field(default_factory=deque)


class History:
    """The history sources of one meter, their cursors and the records not yet confirmed."""

    def __init__(
        self,
        sources: Sequence[HistorySource],
        store: StateStore,
        emit: Callable[[Event], None],
        *,
        clock: Callable[[], float],
        wall: Callable[[], datetime],
        pause: Callable[[float], Awaitable[None]],
    ) -> None:
        self._queues = [_Queue(source) for source in sources]
        self._store = store
        self._emit = emit
        self._clock = clock
        self._wall = wall
        self._pause = pause
        self._next = 0
        self._adopted = False

    def adopt(self, serial: str) -> None:
        """After start-up: each source resumes from its cursor in this meter's state."""
        cursors = self._store.state.cursors
        for queue in self._queues:
            queue.pending.clear()
            for event in queue.source.adopt(serial, cursors.get(queue.source.name)):
                self._emit(event)
        self._adopted = True

    def forget_layout(self) -> None:
        for queue in self._queues:
            queue.source.forget_layout()

    @property
    def busy(self) -> bool:
        now = self._wall()
        return self._adopted and any(q.pending or q.source.has_work(now) for q in self._queues)

    async def fill_gap(
        self, wait_s: float, room_in_s: float, read: Reader, timetable: Timetable
    ) -> bool:
        """Use a gap of `wait_s` before the next routine read for one history frame; True if
        the gap was used (a frame, or a pause until the budget has room: the caller then looks
        at its schedule again). `room_in_s`: when the read budget will hold the reserve, this
        frame and the next routine one (p.51)."""
        if not self._adopted:
            return False
        self._resend_late()
        busy = self.busy
        timetable.stretch("present", BACKFILL_PRESENT_S if busy else None)
        if not busy or wait_s < GAP_S or room_in_s + GAP_S > wait_s:
            return False
        if room_in_s > ROOM_SLACK_S:
            # The budget refills within this gap: wait for it (a little more, so the float
            # arithmetic of the token bucket cannot leave a sliver and spin on it).
            await self._pause(room_in_s + ROOM_SLACK_S)
            return True
        queue = self._choose()
        if queue is None:
            return False
        for found in await queue.source.step(read, self._wall()):
            self._send(queue, found)
        return True

    def _choose(self) -> _Queue | None:
        """Round robin over the sources with work and room for more unconfirmed records."""
        now = self._wall()
        for turn in range(len(self._queues)):
            queue = self._queues[(self._next + turn) % len(self._queues)]
            if self._open(queue) and queue.source.has_work(now):
                self._next = (self._next + turn + 1) % len(self._queues)
                return queue
        return None

    def _open(self, queue: _Queue) -> bool:
        """Room for more unconfirmed records, and none waiting since before `STALLED_S`."""
        if len(queue.pending) >= MAX_PENDING:
            return False
        now = self._clock()
        return not any(not p.delivered and now - p.emitted >= STALLED_S for p in queue.pending)

    def _send(self, queue: _Queue, found: Found) -> None:
        item = _Pending(found, self._clock())
        queue.pending.append(item)
        event = _with_receipt(found.event, Receipt(lambda: self._delivered(queue, item)))
        item.found = Found(event, found.cursor)
        self._emit(event)

    def _resend_late(self) -> None:
        now = self._clock()
        for queue in self._queues:
            if queue.pending and now - queue.pending[0].emitted >= RESEND_S:
                for item in queue.pending:
                    if not item.delivered:
                        item.emitted = now
                        self._emit(item.found.event)

    def _delivered(self, queue: _Queue, item: _Pending) -> None:
        item.delivered = True
        cursor = None
        while queue.pending and queue.pending[0].delivered:
            cursor = queue.pending.popleft().found.cursor
        if cursor is None:
            return
        self._store.state.cursors[queue.source.name] = cursor
        # Written at once when caught up (a restart then sends nothing again); during a
        # backfill at the state file's own pace (SD card wear) and at shutdown.
        caught_up = not queue.pending and not queue.source.has_work(self._wall())
        self._store.save(self._wall().timestamp(), force=caught_up)


def _with_receipt(event: Event, receipt: Receipt) -> Event:
    """The event carrying `receipt`; one without a `receipt` field (a summary such as
    `DemandPeak`, sent retained) counts as delivered once handed to the publisher."""
    if any(f.name == "receipt" for f in dataclasses.fields(event)):
        return cast(Event, dataclasses.replace(cast(Any, event), receipt=receipt))
    receipt.delivered()
    return event
