"""What an event log code means: category, text, the guide page, and the condition it changes.

The guide does not list event IDs: BT74 and ET79 say "Consult the documentation for your meter
for a list of the event IDs" (p.243, p.183; OPG p.50-52 the same). What it does give:

- the Event field is UINT(0..11) (p.243). In ANSI C12.19, whose history log BT74 is (OPG
  p.49), bits 0..10 are the event number and bit 11 says standard (0) or manufacturer (1), so a
  code is the number, or 2048 + the number for a manufacturer event. The standard numbers
  below are C12.19's (Primary Power Down = 1 ...), not the guide's: `Provenance.C12_19`.
- BT71 allows up to 64 standard and 152 manufacturer events (OPG p.50-51), and names some of
  them in prose: Power Down and Power Up (ET04 "Events Outage Threshold", p.63), phase loss
  (ET55 "Phase Loss Threshold Seconds", p.146), sag and surge (ET09, p.67-70), cover removed
  (ET55, p.149), unbalanced voltage (p.35), the alternate log's own events (p.181).

Their numbers are not in the guide. mepd gives those it needs codes from 2048 + 200 upwards
(`Provenance.ASSUMED`): past the 152 manufacturer events a meter can have, so no real meter's
event is ever shown with a meaning it does not have. A real meter's manufacturer events decode
as "manufacturer event N" (category OTHER) until its documentation is mapped here. The
simulator logs the assumed codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

MANUFACTURER_FLAG = 0x800  # C12.19 HISTORY_CODE bit 11: STD_VS_MFG_FLAG
CODE_MASK = 0x0FFF  # p.243: Event UINT(0..11); bits 12..15 are filler
MANUFACTURER_EVENTS = 152  # OPG p.50: "Up to 152 manufacturer-defined events"
ASSUMED_BASE = MANUFACTURER_FLAG + 200  # past every real manufacturer event (see above)


class EventCategory(StrEnum):
    """The Home Assistant event entity an event belongs to (issue 20)."""

    POWER_OUTAGE = "power_outage"
    PHASE_LOSS = "phase_loss"
    VOLTAGE_QUALITY = "voltage_quality"
    TAMPER = "tamper"
    OTHER = "other"


class Condition(StrEnum):
    """A state with a start and an end event: a binary sensor's subject."""

    SUPPLY_OFF = "supply_off"
    PHASE_MISSING = "phase_missing"
    COVER_OPEN = "cover_open"


class Provenance(StrEnum):
    C12_19 = "ansi_c12_19"  # standard event number from ANSI C12.19
    ASSUMED = "assumed"  # named by the guide, numbered by mepd (ASSUMED_BASE and up)
    UNKNOWN = "unknown"  # a code nobody here knows


@dataclass(frozen=True)
class EventMeaning:
    code: int
    name: str  # a stable identifier (topics, entity ids)
    text: str
    category: EventCategory
    page: int | None  # the guide page that names the event (None: only C12.19 does)
    provenance: Provenance
    starts: Condition | None = None
    ends: Condition | None = None

    @property
    def manufacturer(self) -> bool:
        return bool(self.code & MANUFACTURER_FLAG)


def _std(
    number: int,
    name: str,
    text: str,
    category: EventCategory = EventCategory.OTHER,
    page: int | None = None,
    **condition: Condition,
) -> EventMeaning:
    return EventMeaning(number, name, text, category, page, Provenance.C12_19, **condition)


def _assumed(
    offset: int,
    name: str,
    text: str,
    category: EventCategory,
    page: int,
    **condition: Condition,
) -> EventMeaning:
    code = ASSUMED_BASE + offset
    return EventMeaning(code, name, text, category, page, Provenance.ASSUMED, **condition)


_C = EventCategory
_ROWS = (
    _std(1, "power_down", "Primary power down", _C.POWER_OUTAGE, 63, starts=Condition.SUPPLY_OFF),
    _std(2, "power_up", "Primary power up", _C.POWER_OUTAGE, 63, ends=Condition.SUPPLY_OFF),
    _std(3, "time_changed_old", "Time changed (stamped with the old time)"),
    _std(4, "time_changed_new", "Time changed (stamped with the new time)"),
    _std(5, "time_changed_old_short", "Time changed (old time, STIME_DATE)"),
    _std(6, "time_changed_new_short", "Time changed (new time, STIME_DATE)"),
    _std(7, "accessed_for_read", "End device accessed for read"),
    _std(8, "accessed_for_write", "End device accessed for write"),
    _std(9, "procedure_invoked", "Procedure invoked"),
    _std(10, "table_written", "Table written to"),
    _std(11, "programmed", "End device programmed"),
    _std(16, "history_log_cleared", "History log cleared"),
    _std(17, "history_log_pointers_updated", "History log pointers updated"),
    _std(20, "demand_reset", "Demand reset occurred", page=212),
    _std(21, "self_read", "Self-read occurred", page=213),
    _std(22, "dst_on", "Daylight saving time on", page=225),
    _std(23, "dst_off", "Daylight saving time off", page=225),
    _std(24, "season_changed", "Season changed"),
    _std(25, "rate_change", "Rate change"),
    _std(27, "tier_switch", "Tier switch change"),
    _std(28, "pending_table_activated", "Pending table activated"),
    _std(36, "reprogrammed", "End device reprogrammed"),
    _std(37, "configuration_error", "Configuration error detected"),
    _std(38, "self_check_error", "Self check error detected"),
    _std(39, "ram_failure", "RAM failure detected"),
    _std(40, "rom_failure", "ROM failure detected"),
    _std(41, "nvm_failure", "Nonvolatile memory failure detected"),
    _std(42, "clock_error", "Clock error detected"),
    _std(43, "measurement_error", "Measurement error detected"),
    _std(44, "low_battery", "Low battery detected"),
    _std(46, "demand_overload", "Demand overload detected"),
    _std(47, "tamper_attempt", "Tamper attempt detected", _C.TAMPER),
    _std(48, "reverse_rotation", "Reverse rotation (reverse energy) detected", _C.TAMPER),
    _assumed(
        0,
        "phase_loss",
        "Phase loss (argument: phase 1-3)",
        _C.PHASE_LOSS,
        146,
        starts=Condition.PHASE_MISSING,
    ),
    _assumed(
        1,
        "phase_restored",
        "Phase restored (argument: phase 1-3)",
        _C.PHASE_LOSS,
        146,
        ends=Condition.PHASE_MISSING,
    ),
    _assumed(2, "voltage_sag", "Voltage sag (argument: phase 1-3)", _C.VOLTAGE_QUALITY, 70),
    _assumed(
        3, "voltage_swell", "Voltage swell/surge (argument: phase 1-3)", _C.VOLTAGE_QUALITY, 70
    ),
    _assumed(4, "unbalanced_voltage", "Unbalanced voltage detected", _C.VOLTAGE_QUALITY, 35),
    _assumed(5, "cover_removed", "Cover removed", _C.TAMPER, 149, starts=Condition.COVER_OPEN),
    _assumed(6, "cover_closed", "Cover closed", _C.TAMPER, 149, ends=Condition.COVER_OPEN),
    _assumed(7, "alternate_log_cleared", "Alternate event log cleared", _C.OTHER, 181),
    _assumed(8, "alternate_log_updated", "Alternate event log updated", _C.OTHER, 181),
)

EVENT_CODES: Mapping[int, EventMeaning] = MappingProxyType({row.code: row for row in _ROWS})
CODES_BY_NAME: Mapping[str, int] = MappingProxyType({row.name: row.code for row in _ROWS})


def meaning_of(code: int) -> EventMeaning:
    """The meaning of a 12-bit event code; one nobody knows is OTHER, never an error."""
    code &= CODE_MASK
    known = EVENT_CODES.get(code)
    if known is not None:
        return known
    number = code & ~MANUFACTURER_FLAG
    kind = "manufacturer" if code & MANUFACTURER_FLAG else "standard"
    return EventMeaning(
        code,
        f"{kind}_{number}",
        f"{kind.capitalize()} event {number}",
        EventCategory.OTHER,
        None,
        Provenance.UNKNOWN,
    )
