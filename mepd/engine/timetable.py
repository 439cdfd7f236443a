"""When each kind of read is next due: the poller's schedule as data, no clock of its own.

Times are the loop's (seconds). A read that comes late moves its next turn to "now" rather
than queueing the missed ones: catching up would break the meter's rate budget (p.51).
"""

from __future__ import annotations

from collections.abc import Mapping

from mepd.settings import Schedule


class Timetable:
    """Due times per kind of read; on a tie the kind named first in `periods` goes first."""

    def __init__(self, periods: Mapping[str, float]) -> None:
        self._periods = dict(periods)
        self._configured = dict(periods)
        self._due: dict[str, float] = {}

    @classmethod
    def of(cls, schedule: Schedule) -> Timetable:
        """BT28 (present values), BT23 (energy), BT52 (clock), in this order on a tie."""
        return cls(
            {"present": schedule.present_s, "energy": schedule.energy_s, "clock": schedule.clock_s}
        )

    def start(self, now: float) -> None:
        """Everything is due now (after start-up)."""
        self._due = dict.fromkeys(self._periods, now)

    def next(self) -> tuple[str, float]:
        """The kind due first and when."""
        kind = min(self._due, key=self._due.__getitem__)
        return kind, self._due[kind]

    def taken(self, kind: str, now: float) -> None:
        """`kind` is being read at `now`: its next turn is one period on, or now if late."""
        self._due[kind] = max(self._due[kind] + self._periods[kind], now)

    def stretch(self, kind: str, period: float | None) -> None:
        """Read `kind` every `period` (never faster than configured); None: as configured.
        History backfills take the slack this leaves (`engine/history.py`)."""
        configured = self._configured[kind]
        self._periods[kind] = configured if period is None else max(configured, period)

    def due_now(self, kind: str, now: float) -> None:
        """`kind` again at once: its last read was set aside (the meter's layout may have
        moved under it, p.55)."""
        self._due[kind] = min(self._due[kind], now)


# Frames a routine poll leaves in the read budget for recovery reads: after an IDT change,
# ET04, BT21, BT27, BT22 and the ET55 unit (p.55, p.158), so BT28 follows without waiting.
RESERVE_FRAMES = 5


class ReadReserve:
    """Frames routine polls leave in the read budget (p.51) for recovery reads.

    Once the budget's surplus has built the reserve, routine polls wait rather than spend it,
    so an IDT change or a resync is read at once instead of at 1.25 s a frame. Polls never
    wait to build it, and an urgent burst (start-up, an IDT change, a comeback) that used it
    starts over.
    """

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self.urgent = True  # the next poll follows a start-up, an IDT change or a comeback
        self._kept = False

    def frames_kept(self) -> int:
        """Frames other reads (history, `engine/history.py`) must leave in the budget: the
        reserve once it is built, else none (they take the surplus that would build it)."""
        return self.frames if self._kept and not self.urgent else 0

    def extra_wait(self, budget_wait: float) -> float:
        """How long a routine poll waits for the reserve; `budget_wait` is how long until the
        budget holds the reserve and one frame more."""
        if self.urgent:
            self._kept = False
        elif self._kept:
            return budget_wait
        elif budget_wait <= 0:
            self._kept = True
        return 0.0
