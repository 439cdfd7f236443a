"""A history source made of a policy: what to read in one look, and how often to look.

The billing, event log, outage log, power quality and relay sources (`meter_records.py`,
`meter_now.py`) differ only in what they read and what they make of it; the rest is here,
once: one frame per `step` (`read_script.ScriptRun`), a look every `every`, and the failures:

- the meter refuses a table while the policy is configuring itself (it has no such table,
  p.29: not every meter or firmware keeps every history): the source is off until the meter's
  layout changes, said once;
- a refusal or data that does not decode during a look: that look is dropped and the source
  looks again after `RETRY`, said once per kind of problem;
- a wrong key, a sequence error, a TLS refusal, a timeout: the link's business, raised on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from mepd.engine.history import Found, HistorySource, Reader
from mepd.engine.read_script import Script, ScriptRun, refused
from mepd.logs import Throttle
from mepd.protocol.errors import DecodeError
from mepd.readings import Event

log = logging.getLogger(__name__)

RETRY = timedelta(minutes=5)  # after a look that failed
# Between two frames of these sources together: at most 7.5 a minute, under the budget's
# surplus at the default schedule (about twelve history frames a minute), so the surplus still
# builds the recovery reserve (`timetable.ReadReserve`) that an IDT change needs (p.55). Their
# steady need is about four a minute (event log headers, relay, phase).
PACE = timedelta(seconds=8)
_NEVER = datetime.min.replace(tzinfo=UTC)


class Pace:
    """One frame per `PACE` for the sources that share it (they are not in a hurry: a state,
    a log looked at every minute), so they never eat the surplus the reserve is built of."""

    def __init__(self, gap: timedelta = PACE) -> None:
        self.gap = gap
        self.next = _NEVER

    def ready(self, now: datetime) -> bool:
        return now >= self.next

    def used(self, now: datetime) -> None:
        self.next = now + self.gap


class Policy(Protocol):
    name: str  # the cursor's key in the state file: stable forever
    what: str  # for log lines: "billing snapshots"
    every: timedelta  # between looks
    again: bool  # the last look asks for another at once (a list moved while it was read)

    @property
    def configured(self) -> bool:
        """The one-off reads are done: a refusal now is not "the meter has none"."""
        ...

    def adopt(self, serial: str, cursor: str | None) -> Sequence[Event]: ...

    def forget_layout(self) -> None: ...

    def look(self, now: datetime) -> Script[Sequence[Found]]: ...


class ScriptedSource:
    """A `history.HistorySource` from a `Policy`. `yields_to`: sources whose work comes first
    (the load profile: its intervals are what a dashboard misses most, and the read budget's
    gaps hold only about ten history frames a minute); this one has work only when they have
    none."""

    def __init__(
        self,
        policy: Policy,
        say: Throttle | None = None,
        yields_to: tuple[HistorySource, ...] = (),
        pace: Pace | None = None,
    ) -> None:
        self.policy = policy
        self._yields_to = yields_to
        self._pace = pace or Pace(timedelta(0))
        self.name = policy.name
        self._say = say or Throttle(log)
        self._run: ScriptRun[Sequence[Found]] | None = None
        self._next = _NEVER
        self.offered = True

    def adopt(self, serial: str, cursor: str | None) -> Sequence[Event]:
        self._run = None
        self._next = _NEVER
        return self.policy.adopt(serial, cursor)

    def forget_layout(self) -> None:
        """The meter's tables may have changed (p.55): configure again, and look again."""
        self._run = None
        self._next = _NEVER
        self.offered = True
        self.policy.forget_layout()

    def has_work(self, now: datetime) -> bool:
        if not self._pace.ready(now) or any(first.has_work(now) for first in self._yields_to):
            return False
        return self.offered and (self._run is not None or now >= self._next)

    async def step(self, read: Reader, now: datetime) -> Sequence[Found]:
        if self._run is None:
            self._run = ScriptRun(self.policy.look(now))
        self._pace.used(now)
        configuring = not self.policy.configured
        try:
            done = await self._run.step(read)
        except DecodeError as error:
            self.policy.forget_layout()  # stale dimensions, maybe: configure again
            return self._failed(now, f"{error}")
        except Exception as error:
            if not refused(error):
                self._run = None
                raise
            if configuring:
                self._run = None
                self.offered = False
                log.info("the meter offers no %s (%s)", self.policy.what, error)
                return ()
            return self._failed(now, f"refused: {error}")
        if not done:
            return ()
        found = self._run.result or ()
        self._run = None
        self._next = now if self.policy.again else now + self.policy.every
        return found

    def _failed(self, now: datetime, why: str) -> Sequence[Found]:
        self._run = None
        self._next = now + RETRY
        what = self.policy.what
        self._say.warning(f"history {self.name}", "%s not read (%s): again later", what, why)
        return ()
