"""M-Bus sub-meters as a history source (`history.HistorySource`), and the probe's survey.

`MBusFollower` does the reading (p.25-27); this adapter gives it the backbone's shape: the
cursor as the state file's opaque string, wall time, and what a refusal means. A meter that
refuses ET14 offers no M-Bus (a Gen 2/3 meter or a module without it): asked once per start.
A table that does not decode is tried again after `RETRY_AFTER`, from the header on. A wrong
key, a sequence error or a TLS refusal is the link's business, as for every read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mepd.engine.history import Found, HistorySource, Reader
from mepd.engine.mbus_cursor import MBusCursor
from mepd.engine.mbus_follower import MBusFollower
from mepd.logs import Throttle
from mepd.protocol import PartialRead
from mepd.protocol.errors import AuthenticationError, DecodeError, ResponseError, SequenceError
from mepd.protocol.tables.et14 import DeviceSlot, decode_et14, plan_et14
from mepd.protocol.tables.et16 import decode_billing_read, plan_et16
from mepd.protocol.tables.planning import assemble
from mepd.protocol.tls.errors import TlsRefusedError
from mepd.readings import Event, SubMeterIdentity

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(minutes=5)  # after a table that does not decode


class MBusSource:
    """The meter's M-Bus devices and their recurring read log (ET14, ET16, ET36, ET45)."""

    name = "mbus"

    def __init__(
        self, say: Throttle | None = None, *, yields_to: tuple[HistorySource, ...] = ()
    ) -> None:
        self._say = say or Throttle(log)
        self._yields_to = yields_to  # sources whose work comes first (as `ScriptedSource`)
        self._follower = MBusFollower("", say=self._say)
        self._offered = True
        self._answered = False  # ET14 answered once: a later refusal is no "not offered"
        self._resume = datetime.min.replace(tzinfo=UTC)

    def adopt(self, serial: str, cursor: str | None) -> Sequence[Event]:
        self._follower.adopt(serial, MBusCursor.from_text(cursor))
        self._offered, self._answered = True, False
        self._resume = datetime.min.replace(tzinfo=UTC)
        return ()

    def has_work(self, now: datetime) -> bool:
        if not self._offered or now < self._resume:
            return False
        if any(first.has_work(now) for first in self._yields_to):
            return False
        return self._follower.has_work(now.timestamp())

    async def step(self, read: Reader, now: datetime) -> Sequence[Found]:
        try:
            outs = await self._follower.step(read, now.timestamp())
        except (AuthenticationError, SequenceError, TlsRefusedError):
            raise  # the link's business (`failures.FAILURES`)
        except ResponseError as error:  # a refusal of this table
            if not self._answered:
                self._offered = False
                log.info("the meter offers no M-Bus devices (ET14: %s)", error)
            else:
                self._retry_later(now, f"refused: {error}")
            return ()
        except DecodeError as error:
            self._retry_later(now, str(error))
            return ()
        self._answered = True
        return [Found(out.event, out.cursor.to_text()) for out in outs]

    def forget_layout(self) -> None:
        self._follower.forget_layout()

    def _retry_later(self, now: datetime, why: str) -> None:
        self._say.warning("mbus-retry", "M-Bus read log: %s; trying again in 5 min", why)
        self._follower.forget_layout()
        self._resume = now + RETRY_AFTER


@dataclass(frozen=True)
class Occupant:
    """An occupied M-Bus slot and who is in it; no identity while the meter has not read the
    device yet (p.26)."""

    slot: DeviceSlot
    identity: SubMeterIdentity | None


async def survey(read: Reader, serial: str) -> tuple[Occupant, ...]:
    """Which M-Bus devices meter `serial` has, for `mepd probe`: ET14, then ET16 per device
    (as far as its billing read length, p.26)."""
    found = []
    for slot in decode_et14(await _table(read, plan_et14())).devices:
        plan = plan_et16(slot.slot, used=slot.billing_read_length)
        device = decode_billing_read(await _table(read, plan)).identity
        identity = None
        if device is not None:
            identity = SubMeterIdentity(
                serial, slot.slot, device.serial, device.manufacturer, device.version, device.medium
            )
        found.append(Occupant(slot, identity))
    return tuple(found)


async def _table(read: Reader, plan: tuple[PartialRead, ...]) -> bytes:
    return assemble(plan, [await read(request) for request in plan])
