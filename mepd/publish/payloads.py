"""State payloads: compact JSON of exactly what one event carried, plus a timestamp.

Nothing is carried over from an earlier event and nothing is filled in: a value the poller
did not emit (quarantined, or not reported by this meter) is simply absent, and the discovery
templates turn an absent key into "unknown" rather than a number. Numbers are written at the
meter's resolution as exact decimals (kWh with three decimals is Wh), never as float noise.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from mepd.publish.catalog import COUNTERS, ENERGY, PRESENT, EntitySpec, HeldKey, Key
from mepd.readings import (
    Diagnostics,
    EnergyHeld,
    EnergyReading,
    LinkStatus,
    Measurements,
    PresentReading,
)

Fields = dict[str, "Decimal | int | bool | str"]
_WH_PER_KWH = Decimal(1000)


def exact(value: float, decimals: int) -> Decimal | None:
    """`value` rounded to `decimals` digits as an exact decimal; None if not finite."""
    if not math.isfinite(value):
        return None
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)


def kilo(value: float, decimals: int = 3) -> Decimal | None:
    """Wh to kWh, exactly: 1234567 Wh is 1234.567 kWh."""
    if not math.isfinite(value):
        return None
    wh = Decimal(repr(value))
    return (wh / _WH_PER_KWH).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds; Home Assistant's timestamp sensors parse it."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def encode(fields: Mapping[str, Decimal | int | bool | str]) -> bytes:
    """Compact JSON; decimals are written as they are (12.300 stays 12.300)."""

    def value(item: Decimal | int | bool | str) -> str:
        if isinstance(item, Decimal):
            return format(item, "f")
        return json.dumps(item, ensure_ascii=False)

    body = ",".join(f"{json.dumps(key)}:{value(item)}" for key, item in fields.items())
    return f"{{{body}}}".encode()


def _measured(specs: Iterable[EntitySpec], values: Measurements, *, kwh: bool = False) -> Fields:
    fields: Fields = {}
    for spec in specs:
        measurement = values.get(spec.key)
        if measurement is None or measurement.unit != spec.source_unit:
            continue
        number = kilo(measurement.value) if kwh else exact(measurement.value, spec.decimals)
        if number is not None:
            fields[spec.key] = number
    return fields


def present_fields(reading: PresentReading) -> Fields:
    """The announced present values of one BT28 read (all of it passed the guard)."""
    return _measured(PRESENT, reading.values)


def present_messages(reading: PresentReading) -> dict[str, Fields]:
    """A BT28 read's payloads by topic leaf. The whole table: everything on "present" (as
    ever) and each piece's values on its own topic too; a piece: its own topic only, so the
    entities of the values it did not carry keep their value and their freshness."""
    messages: dict[str, Fields] = {}
    if reading.piece is None:
        messages["present"] = _measured(PRESENT, reading.values)
        leaves: list[str] = sorted({spec.topic for spec in PRESENT} - {"present"})
    else:
        leaves = [reading.piece.value]
    for leaf in leaves:
        messages[leaf] = _measured((s for s in PRESENT if s.topic == leaf), reading.values)
    return messages


def energy_fields(reading: EnergyReading) -> Fields:
    """The energy registers that passed the guard, in kWh."""
    return _measured(ENERGY, reading.registers, kwh=True)


def held_payload(held: EnergyHeld) -> bytes:
    """The problem entity's state and attributes: on while any register is held back.

    Attributes name the first register held back in catalog order (last published and held
    value in kWh, why, since when) and list all of them; no time stamp of its own, so the
    retained message changes only when what is held back does.
    """
    order: dict[str, int] = {spec.key: n for n, spec in enumerate(ENERGY)}
    registers = sorted(held.registers, key=lambda r: order.get(r.name, len(order)))
    fields: Fields = {Key.ENERGY_HELD: bool(registers)}
    if registers:
        first = registers[0]
        fields[HeldKey.REGISTER] = first.name
        if first.published is not None and (published := kilo(first.published)) is not None:
            fields[HeldKey.LAST_PUBLISHED_KWH] = published
        if (value := kilo(first.held)) is not None:
            fields[HeldKey.HELD_KWH] = value
        fields[HeldKey.REASON] = first.reason
        fields[HeldKey.SINCE] = timestamp(first.since)
        fields[HeldKey.REGISTERS] = ", ".join(r.name for r in registers)
    return encode(fields)


def diagnostics_fields(report: Diagnostics) -> Fields:
    fields: Fields = {}
    if report.last_success is not None:
        fields[Key.LAST_SUCCESS] = timestamp(report.last_success)
    if report.clock_offset_s is not None:
        offset = exact(report.clock_offset_s, 3)
        if offset is not None:
            fields[Key.CLOCK_OFFSET_S] = offset
    for name in COUNTERS:
        if name in report.counters:
            fields[name] = int(report.counters[name])
    return fields


def stamped(fields: Fields, moment: datetime) -> bytes:
    """The payload: the fields, then "ts" (when the meter's answer arrived)."""
    return encode({**fields, "ts": timestamp(moment)})


def link_payload(up: bool, reason: str, auth_problem: bool, moment: datetime) -> bytes:
    return encode(
        {"up": up, Key.AUTH_PROBLEM: auth_problem, "reason": reason, "ts": timestamp(moment)}
    )


def gateway_payload(
    meters_online: int,
    started: datetime,
    moment: datetime,
    problems: Mapping[str, str] | None = None,
) -> bytes:
    """`problems`: per configured meter, its problem key and the problem ("ok" if none)."""
    return encode(
        {
            Key.METERS_ONLINE: meters_online,
            Key.STARTED: timestamp(started),
            **(problems or {}),
            "ts": timestamp(moment),
        }
    )


# Home Assistant keeps at most 255 characters of a state.
_STATE_CHARS = 255


def meter_problem(link: LinkStatus | None) -> str:
    """A configured meter's problem in one state: "ok", "starting", or why it is down."""
    if link is None:
        return "starting"
    if link.up:
        return "ok"
    text = f"key rejected: {link.reason}" if link.authentication_problem else link.reason
    return text if len(text) <= _STATE_CHARS else text[: _STATE_CHARS - 1] + "…"
