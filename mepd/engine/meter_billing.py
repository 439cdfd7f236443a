"""Billing snapshots as a history policy: the newest BT26 self-read and the BT25 demand reset.

A snapshot is status, not a stream: Home Assistant's "energy at last billing read" shows the
newest one, so a look reads BT26's header and, when its newest self-read is one mepd has not
published in this run, that entry's time and energy registers (one read: an entry can be
bigger than a read, p.8, so only its prefix, `plan_self_reads`); then BT25, and publishes it
when its time changed. After a start the newest of each goes out once more (it is retained;
the broker may have lost it). The registers are decoded with the poller's own BT21/BT22/ET55
layout (`Layout`), never a second guess at it; the times are the local BT55 clock (p.212-213),
made UTC with BT53/BT55 (`local_clock.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from mepd.engine.history import Found
from mepd.engine.meter_records import read_clock, read_entries, read_zone
from mepd.engine.read_script import Script, refused
from mepd.engine.startup import Layout
from mepd.protocol import PartialRead
from mepd.protocol.errors import DecodeError
from mepd.protocol.tables.billing import (
    BillingSnapshot,
    decode_bt25,
    decode_bt26_status,
    decode_self_read,
    plan_bt25,
    plan_self_reads,
)
from mepd.protocol.tables.ids import BT26
from mepd.protocol.tables.lists import SMALL_LIST, unchanged
from mepd.protocol.tables.local_clock import LocalClock
from mepd.readings import BillingSnapshotRead, Event, SnapshotKind

BILLING_LOOK = timedelta(minutes=15)  # self-reads are daily or monthly (p.213)
PAGES = {SnapshotKind.SELF_READ: 213, SnapshotKind.DEMAND_RESET: 212}


class Billing:
    name = "billing"
    what = "billing snapshots (BT25/BT26) or time offset (BT53)"
    every = BILLING_LOOK

    def __init__(self, layout: Callable[[], Layout | None]) -> None:
        self._layout = layout
        self._serial = ""
        self._self_read: int | None = None  # the newest BT26 sequence published in this run
        self._reset: datetime | None = None  # the BT25 time published in this run
        self.again = False
        self.forget_layout()

    def forget_layout(self) -> None:
        self._zone: tuple[int, int] | None = None

    @property
    def configured(self) -> bool:
        return self._zone is not None

    def adopt(self, serial: str, cursor: str | None) -> Sequence[Event]:
        del cursor  # the newest snapshot is published again after every start (retained)
        self._serial = serial
        self._self_read, self._reset = None, None
        return ()

    def look(self, now: datetime) -> Script[Sequence[Found]]:
        del now
        self.again = False
        layout = self._layout()
        if layout is None:
            return ()  # the poller has not read the dimensions yet
        if self._zone is None:
            self._zone = yield from read_zone()
        zone = self._zone
        found: list[Found] = []
        dims = layout.dims
        if dims.self_reads:
            header = PartialRead(BT26, 0, SMALL_LIST.header_size)
            status = decode_bt26_status((yield header))
            if status.valid and status.last_sequence != self._self_read:
                plan = plan_self_reads(dims, status, 1)
                ((_, raw),) = yield from read_entries(plan)  # one entry's prefix
                if not unchanged(status, decode_bt26_status((yield header))):
                    self.again = True  # p.108: a self-read was taken while we read
                    return ()
                snapshot = decode_self_read(
                    raw, dims, status.last_sequence, layout.data_selection, layout.energy_unit
                )
                clock = yield from read_clock(zone)
                found.append(Found(self._reading(snapshot, clock), str(status.last_sequence)))
                self._self_read = status.last_sequence
        try:
            data = yield plan_bt25(dims)
            reset = decode_bt25(data, dims, layout.data_selection, layout.energy_unit)
        except DecodeError:
            return found  # no demand reset yet (a time of zeros), or none this meter keeps
        except Exception as error:
            if not refused(error):
                raise
            return found
        if reset.time != self._reset:
            clock = yield from read_clock(zone)
            found.append(Found(self._reading(reset, clock), str(self._self_read or "")))
            self._reset = reset.time
        return found

    def _reading(self, snapshot: BillingSnapshot, clock: LocalClock) -> BillingSnapshotRead:
        return BillingSnapshotRead(
            meter=self._serial,
            kind=snapshot.kind,
            time=clock.to_utc(snapshot.time, snapshot.time_basis),
            registers=snapshot.registers,
            sequence=snapshot.sequence,
            page=PAGES[snapshot.kind],
        )
