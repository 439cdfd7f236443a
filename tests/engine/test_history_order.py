"""The history backbone sends a source's records oldest first, also around a broker outage: a
source is not read further while its records wait for their resend (`History._open`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from mepd.engine.history import RESEND_S, STALLED_S, Found, History, Reader
from mepd.engine.state import StateStore
from mepd.engine.timetable import Timetable
from mepd.protocol import PartialRead
from mepd.readings import Event, MBusUnit, Quantity, SubMeterReading, SubMeterValue
from mepd.settings import Schedule

WHEN = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)


def record(n: int) -> SubMeterReading:
    value = SubMeterValue(Quantity.VOLUME, Decimal(n), MBusUnit.CUBIC_METRE)
    return SubMeterReading("M", "ACW00000001", WHEN, (value,))


class Counting:
    """A source with one new record per step."""

    name = "counting"

    def __init__(self) -> None:
        self.made = 0

    def adopt(self, serial: str, cursor: str | None) -> Sequence[Event]:
        return ()

    def has_work(self, now: datetime) -> bool:
        return True

    async def step(self, read: Reader, now: datetime) -> Sequence[Found]:
        self.made += 1
        return [Found(record(self.made), str(self.made))]

    def forget_layout(self) -> None:
        pass


def test_a_source_waits_while_its_records_wait_for_their_resend() -> None:
    clock = [0.0]
    sent: list[SubMeterReading] = []
    store = StateStore(None)

    def emit(event: Event) -> None:
        assert isinstance(event, SubMeterReading)
        sent.append(event)

    async def pause(_: float) -> None:
        pass

    async def read(request: PartialRead) -> bytes:
        raise AssertionError("the fake source reads nothing")

    history = History(
        [Counting()], store, emit, clock=lambda: clock[0], wall=lambda: WHEN, pause=pause
    )
    history.adopt("M")
    timetable = Timetable.of(Schedule())

    def step(at: float) -> None:
        clock[0] = at
        asyncio.run(history.fill_gap(10.0, 0.0, read, timetable))

    def numbers() -> list[int]:
        return [int(event.values[0].value) for event in sent]

    step(0.0)  # 1 goes out; the broker is away: no PUBACK
    step(1.0)  # 2: within a PUBACK's time, the broker may be there: out at once
    assert numbers() == [1, 2]
    step(STALLED_S + 1)  # 1 has waited too long: nothing newer is read
    assert numbers() == [1, 2]
    step(RESEND_S)  # both again, in order, then 3
    assert numbers()[2:] == [1, 2, 3]
    for event in sent[-3:]:
        assert event.receipt is not None
        event.receipt.delivered()  # the broker is back
    assert store.state.cursors["counting"] == "3"
    step(RESEND_S + 1)  # nothing waits: 4 goes at once
    assert numbers()[-1] == 4
