"""What the publisher remembers per meter and per poller feed: the latest, never a history.

Kept apart from the publisher so its module is about sending, and so these records (which
every event handler reads and writes) are in one place with the rule for a link change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mepd.publish.discovery import ReadPeriods
from mepd.readings import LinkStatus, MBusUnit, MeterIdentity, Quantity, SubMeterIdentity


@dataclass
class MeterState:
    """What the publisher knows about one meter: the latest, never a history."""

    identity: MeterIdentity
    periods: ReadPeriods
    link_changed: datetime  # when up/reason/auth_problem last changed
    names: set[str] = field(default_factory=set)  # entities announced so far
    up: bool = False
    reason: str = ""
    auth_problem: bool = False
    # Latest slow state per topic: payload, when sent, seconds it stays fresh (None: always).
    latest: dict[str, tuple[bytes, datetime, float | None]] = field(default_factory=dict)
    sub_meters: dict[str, SubMeterState] = field(default_factory=dict)  # by key

    def apply_link(self, status: LinkStatus, now: datetime) -> None:
        """Take the poller's link status; `link_changed` moves only when something did."""
        if (status.up, status.reason, status.authentication_problem) != (
            self.up,
            self.reason,
            self.auth_problem,
        ):
            self.link_changed = now
        self.up = status.up
        self.reason = status.reason
        self.auth_problem = status.authentication_problem


@dataclass
class SubMeterState:
    """An M-Bus device of a meter: who it is, and each register it reported (with its unit)."""

    identity: SubMeterIdentity
    registers: dict[Quantity, MBusUnit] = field(default_factory=dict)


@dataclass
class FeedState:
    """One poller's feed. Its first LinkStatus comes before the meter says who it is."""

    periods: ReadPeriods
    name: str | None = None  # as configured (`[meters.<name>]`): known before the serial
    serial: str | None = None  # the meter that answered last
    link: LinkStatus | None = None  # the latest, to apply when the meter says who it is
