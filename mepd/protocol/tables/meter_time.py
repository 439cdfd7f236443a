"""Which clock a history record's time was written by, and how it becomes UTC.

The meter keeps two clocks: BT52, the system clock in UTC with no time zone or DST (p.224),
and BT55, the TOU clock in local time (p.229). History tables use either, and the guide says
which for each: event log entries are UTC (BT74 p.242, ET79 p.182); self-reads and the demand
reset snapshot are "Time and date (BT55)" (BT26 p.213; BT25 p.212 says only "Date/time", read
as BT55 like its neighbours BT24 and BT26); the power outage log is local time (ET81 p.185-186).

Decoders keep the meter's time as written (a naive datetime) and say which clock it is; the
engine converts with what it read from the meter, never with the gateway's time zone.
"""

from __future__ import annotations

from enum import StrEnum


class TimeBasis(StrEnum):
    UTC = "utc"
    LOCAL = "local"

    @property
    def rule(self) -> str:
        """The guide's rule that turns a time of this clock into UTC."""
        return _TO_UTC[self]


_TO_UTC = {
    TimeBasis.UTC: "already UTC: the BT52 system clock (p.224)",
    TimeBasis.LOCAL: (
        "BT55 local TOU clock (p.229): UTC = local - BT53 Time Zone Offset (INT16 minutes, "
        "p.225) - BT53 Daylight Saving Time Adjustment (UINT8 minutes) if DST was in effect "
        "at that moment; BT55.6 bit 3 says so only for now, the calendar (BT54) for the past"
    ),
}
