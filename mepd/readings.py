"""What the poller tells the publisher: typed events with units, never raw bytes.

Every value comes from a verified frame and has passed the plausibility guard. Values carry
their units through `Measurement` (W, V, A, Hz, Wh, var, varh, VA) and two clocks: the host's
UTC time when the answer arrived, and the meter's (host time corrected by the BT52 offset).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from mepd.protocol.mbus.units import MBusUnit, MediumKind, Quantity, medium_kind
from mepd.protocol.tables import Measurement, Measurements
from mepd.protocol.tables.billing import SnapshotKind
from mepd.protocol.tables.event_codes import EVENT_CODES, Condition, EventCategory
from mepd.protocol.tables.names import ValueName
from mepd.protocol.tables.relay import DisconnectControl, DisconnectState
from mepd.protocol.tables.units import Unit

# What a reading carries, re-exported: the publisher imports them from here and nothing from the
# protocol layer, so the readings are its whole view of the meter.
__all__ = [
    "EVENT_CODES",
    "PIECES",
    "BillingSnapshotRead",
    "Condition",
    "ConditionState",
    "DemandPeak",
    "Diagnostics",
    "DisconnectControl",
    "DisconnectState",
    "EnergyHeld",
    "EnergyReading",
    "Event",
    "EventCategory",
    "EventsLost",
    "HeldRegister",
    "HistoryLog",
    "IntervalRecord",
    "LinkStatus",
    "MBusUnit",
    "Measurement",
    "Measurements",
    "MediumKind",
    "MeterEventRecord",
    "MeterIdentity",
    "Piece",
    "PresentReading",
    "Quantity",
    "Receipt",
    "RelayState",
    "SnapshotKind",
    "SubMeterIdentity",
    "SubMeterReading",
    "SubMeterValue",
    "Unit",
    "ValueName",
]


@dataclass(frozen=True)
class MeterIdentity:
    """What the meter says it is; `serial` is the stable id topics and state are keyed on."""

    serial: str
    manufacturer: str
    model: str
    firmware: str
    hardware: str
    channel: int | None  # MEP1/MEP2 on Gen 4 (ET70.142), None on Gen 2/3
    summations: int
    present_values: int
    idt_version: int | None
    port: str  # the serial device it answered on
    security: str = "rc4"  # "rc4" or "tls": the mode it answered in (p.8)
    interface: str = "mep"  # "mep" or "optical": the port it is read through


class Piece(StrEnum):
    """A part of BT28 the poller reads on its own while the line is noisy (engine/noise.py):
    a few values that came in one answer. Its name is also its state topic's last level."""

    POWER = "power"


# What each piece carries: total power first (the value a dashboard shows).
PIECES: Mapping[Piece, tuple[ValueName, ...]] = MappingProxyType(
    {Piece.POWER: (ValueName.POWER_IMPORT, ValueName.POWER_EXPORT)}
)


@dataclass(frozen=True)
class PresentReading:
    """One BT28 read: instantaneous power, voltage, current, power factor, frequency.

    `piece`: None for the whole table; else only that piece's values were read (a noisy
    line), and nothing may be concluded about the others.
    """

    meter: str
    values: Measurements = field(repr=False)
    host_time: datetime
    meter_time: datetime | None
    piece: Piece | None = None


@dataclass(frozen=True)
class EnergyReading:
    """One BT23 read: the energy registers that passed the guard (rejected ones are absent)."""

    meter: str
    registers: Measurements = field(repr=False)
    host_time: datetime
    meter_time: datetime | None


@dataclass(frozen=True)
class HeldRegister:
    """An energy register the guard did not publish: a fall, a rise faster than the fuse
    allows since the last published value, or no register a house could hold."""

    name: str  # a `ValueName` of `ENERGY_REGISTERS`
    published: float | None  # Wh: the last published value; None if there is none yet
    held: float  # Wh: what the meter said last
    reason: str
    since: datetime  # host time this register was first held back in this run of them


@dataclass(frozen=True)
class EnergyHeld:
    """Which energy registers are held back after a BT23 read; empty: none are (any more).

    Sent when that changes, and once after each start-up, so a problem reported before a
    restart clears when the meter reads plausibly again. The registers in `EnergyReading`
    are those published; these never are, until the owner accepts them (`mepd accept-energy`).
    """

    meter: str
    registers: tuple[HeldRegister, ...]


@dataclass(frozen=True)
class LinkStatus:
    """Whether the meter answers. `reason` is the one line a user needs when it does not."""

    meter: str | None
    up: bool
    reason: str
    authentication_problem: bool = False


@dataclass(frozen=True)
class Diagnostics:
    """Counters and health for diagnostic entities; published now and then, not per read."""

    meter: str
    counters: Mapping[str, int]
    clock_offset_s: float | None  # meter clock minus host clock
    last_success: datetime | None
    authentication_problem: bool


class Receipt:
    """How the publisher says a history record reached the broker (its QoS 1 PUBACK).

    The engine moves its cursor in the state file only then, so a record lost with a broker
    outage is sent again, and one delivered is never sent again after a restart.
    """

    def __init__(self, on_delivered: Callable[[], None]) -> None:
        self._on_delivered = on_delivered
        self.done = False

    def delivered(self) -> None:
        if not self.done:
            self.done = True
            self._on_delivered()


@dataclass(frozen=True)
class IntervalRecord:
    """One load-profile interval the meter stored (p.27-31, p.238-241), published once.

    `start`/`end` are UTC, tz-aware: the meter keeps its load profile in UTC (p.238, p.224:
    no DST or time zone; the DST bit is a status only, p.239). `values` are the interval's
    own: Wh drawn in it for energy channels (the difference of the meter's end-of-interval
    snapshots), the snapshot for others; named like the energy registers. `status` names the
    meter's flags for the interval (`CommonFlag` values and channel statuses, p.239-241).
    """

    meter: str
    start: datetime
    end: datetime
    values: Measurements = field(repr=False)
    status: tuple[str, ...]
    receipt: Receipt | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class DemandPeak:
    """This month's (UTC) highest demand over a demand window, from the load profile."""

    meter: str
    month: str  # "2026-12"
    demand_w: float
    window_s: int
    start: datetime  # of the window it was reached in
    end: datetime


# --- what the meter remembers: billing snapshots, events, conditions, relay (issue 20) ---------
# Times are UTC, tz-aware: local meter times were converted by the guide's rule
# (`protocol/tables/meter_time.TimeBasis.rule`, p.225-229) before they got here.


@dataclass(frozen=True)
class BillingSnapshotRead:
    """The energy registers as they stood at a billing read (BT26 self-read, BT25 demand reset;
    p.212-214): what the bill is computed from. Published retained; the newest wins."""

    meter: str
    kind: SnapshotKind  # SELF_READ (BT26) or DEMAND_RESET (BT25)
    time: datetime  # UTC
    registers: Measurements = field(repr=False)  # energy registers in Wh
    sequence: int | None  # BT26's operation number (UINT16); None for BT25
    page: int  # the guide page of the table


class HistoryLog(StrEnum):
    """Where an event came from: the tables, and the event logs' one shared sequence."""

    BT74 = "BT74"
    ET79 = "ET79"
    ET81 = "ET81"
    EVENT_LOGS = "BT74+ET79"  # p.182, p.242: both logs number their events in one sequence


@dataclass(frozen=True)
class MeterEventRecord:
    """One entry of an event log (BT74, ET79, p.181-183, p.241-243) or an outage (ET81,
    p.185-186), published once. `name`/`text`/`category` are `event_codes.py`'s meaning."""

    meter: str
    log: HistoryLog  # BT74, ET79 or ET81
    sequence: int  # the shared event sequence (BT74/ET79) or ET81's outage number
    time: datetime  # UTC: the event's time (an outage's start)
    code: int | None  # 12-bit event code; None for an ET81 outage
    name: str
    text: str
    category: EventCategory
    page: int | None  # the guide page naming the event
    argument: bytes = b""
    end: datetime | None = None  # an outage's end (ET81), UTC
    receipt: Receipt | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class EventsLost:
    """Events the meter no longer holds when mepd got to them (a log that wrapped or
    overflowed): the inclusive range of sequence numbers, said once."""

    meter: str
    log: HistoryLog  # EVENT_LOGS or ET81
    first: int
    last: int
    receipt: Receipt | None = field(default=None, compare=False, repr=False)

    @property
    def count(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True)
class ConditionState:
    """A condition with a start and an end, as the meter says it is now (ET09 "phase loss
    now", p.72). `phases`: which of L1-L3 it concerns while on."""

    meter: str
    condition: Condition
    on: bool
    phases: tuple[str, ...] = ()


@dataclass(frozen=True)
class RelayState:
    """The disconnect relay's commanded position (ET23.94, p.99): closed, closing, opened,
    opening; `control` is ET46's disconnect control type (p.121)."""

    meter: str
    state: DisconnectState
    control: DisconnectControl


def sub_meter_key(manufacturer: str, mbus_id: str) -> str:
    """A sub-meter's stable name: its manufacturer (three letters, p.92) and 8-digit M-Bus id,
    which together name one device worldwide, whichever slot or electricity meter it is in."""
    return f"{manufacturer.strip()}{mbus_id.strip()}"


@dataclass(frozen=True)
class SubMeterIdentity:
    """An M-Bus device (gas, water, heat meter) in a slot of the electricity meter `meter`
    (ET14 occupancy, ET16 identity; p.26, p.92-93)."""

    meter: str  # the electricity meter's serial: the sub-meter's device is "via" it
    slot: int  # 1-4 (p.84)
    mbus_id: str  # the 8-digit M-Bus identification number
    manufacturer: str  # three letters (p.92)
    version: int
    medium: int  # EN 13757-3 medium code (p.93)
    # The cumulative registers it reports, each with its unit: its entities.
    registers: tuple[tuple[Quantity, MBusUnit], ...] = ()

    @property
    def key(self) -> str:
        return sub_meter_key(self.manufacturer, self.mbus_id)

    @property
    def kind(self) -> MediumKind:
        return medium_kind(self.medium)


@dataclass(frozen=True)
class SubMeterValue:
    """One cumulative register of a sub-meter, exact, in a unit Home Assistant takes as it
    is (m³, kWh, GJ)."""

    quantity: Quantity
    value: Decimal
    unit: MBusUnit


@dataclass(frozen=True)
class SubMeterReading:
    """One scheduled read of a sub-meter (an ET45 entry, p.27): the registers that passed the
    never-falls guard (held ones are absent), at the read's time in UTC (p.88: the meter
    stamps it in its local time; the engine corrects it)."""

    meter: str
    key: str  # `SubMeterIdentity.key`
    read_time: datetime  # UTC
    values: tuple[SubMeterValue, ...]
    receipt: Receipt | None = field(default=None, compare=False, repr=False)  # QoS 1 PUBACK


Event = (
    MeterIdentity
    | PresentReading
    | EnergyReading
    | EnergyHeld
    | LinkStatus
    | Diagnostics
    | BillingSnapshotRead
    | MeterEventRecord
    | EventsLost
    | ConditionState
    | RelayState
    | SubMeterIdentity
    | SubMeterReading
    | IntervalRecord
    | DemandPeak
)
