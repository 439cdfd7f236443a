"""ET81 Power Outage Log (p.185-186; fw 3.70+): when the supply went off and came back.

    header (6 bytes, lists.SMALL_LIST): flags, valid UINT8, last element UINT8,
                                         last sequence UINT16, unread UINT8
    entries: LTIME_DATE start, LTIME_DATE end (12 bytes, ET36 "Entry Size", p.109)

Times are local (p.185: "in local time"; `meter_time.py`). The number of entries is ET36's
"Current Entries" for ET81 (default 0: the log is off; at most 253, p.109). Each outage is one
operation of the UINT16 sequence, so the newest entry has the header's sequence number and
each older one the number before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from mepd.protocol.tables._wire import (
    LTIME_DATE_BYTES,
    decode_datetime,
    encode_datetime,
    require_size,
)
from mepd.protocol.tables.ids import ET81
from mepd.protocol.tables.lists import (
    SMALL_LIST,
    Backlog,
    ListLayout,
    ListStatus,
    backlog,
    decode_list_status,
    encode_list_status,
)
from mepd.protocol.tables.meter_time import TimeBasis

TABLE = "ET81"
ENTRY_BYTES = 2 * LTIME_DATE_BYTES  # p.109: "ET81: 12 bytes"
MAX_ENTRIES = 253  # p.109


@dataclass(frozen=True)
class OutageRecord:
    start: datetime  # meter time as written
    end: datetime
    sequence: int | None = None  # from the header: consecutive, UINT16
    time_basis: TimeBasis = TimeBasis.LOCAL

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


def et81_layout(entries: int) -> ListLayout:
    """`entries`: ET36 "Current Entries" for ET81, or `lists.fitted` from a header."""
    return ListLayout(ET81, TABLE, SMALL_LIST, ENTRY_BYTES, entries)


def decode_et81_status(data: bytes) -> ListStatus:
    return decode_list_status(TABLE, data, SMALL_LIST)


def outages_after(layout: ListLayout, status: ListStatus, after: int | None) -> Backlog:
    """New outages since the cursor (the header's UINT16 sequence; one number per outage)."""
    layout.check(status)
    return backlog(status, after, SMALL_LIST)


def decode_outage(raw: bytes, sequence: int | None = None) -> OutageRecord:
    """One entry. An end before the start is kept as the meter wrote it (its clock may have
    been set in between), so `duration_s` can be negative; the engine judges plausibility."""
    raw = bytes(raw)
    require_size(TABLE, raw, ENTRY_BYTES, "outage entry")
    return OutageRecord(
        start=decode_datetime(TABLE, raw[:LTIME_DATE_BYTES]),
        end=decode_datetime(TABLE, raw[LTIME_DATE_BYTES:]),
        sequence=sequence,
    )


def encode_et81(
    layout: ListLayout, status: ListStatus, records: Mapping[int, OutageRecord]
) -> bytes:
    body = bytearray(layout.capacity * ENTRY_BYTES)
    for element, record in records.items():
        at = element * ENTRY_BYTES
        body[at : at + ENTRY_BYTES] = encode_datetime(
            record.start, LTIME_DATE_BYTES, "ET81 start"
        ) + encode_datetime(record.end, LTIME_DATE_BYTES, "ET81 end")
    return encode_list_status(status, SMALL_LIST, TABLE) + bytes(body)
