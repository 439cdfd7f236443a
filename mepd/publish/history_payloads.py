"""Payloads of what the meter remembers: billing snapshots, events, conditions, the relay.

    billing        {"kind", "time", "sequence"?, "<register>": kWh, ..., "page"}   retained
    event          {"event_type", "category", "event", "text", "code"?, "log", "sequence",
                    "time", "end"?, "duration_s"?, "argument"?, "page"?}          QoS 1, once
                   a lost range: {"event_type": "events_lost", "category": "other", "log",
                    "first", "last", "count"}
    phase_missing  {"phase_missing": bool, "phases": "L2, L3"}                       retained
    relay          {"relay": "closed", "control": "power"}                          retained

Times are ISO 8601 UTC (the engine converted local meter times by the guide's rule); energy in
kWh with three decimals, as on the energy topic. A retained payload carries no time stamp of
its own, so it changes (and goes out) only when what it says does.
"""

from __future__ import annotations

from mepd.publish.catalog import HistoryKey
from mepd.publish.history_entities import (
    BILLING,
    CATEGORY,
    EVENT_TYPE,
    EVENTS_LOST,
    OUTAGE,
    UNKNOWN_EVENT,
)
from mepd.publish.payloads import Fields, encode, kilo, timestamp
from mepd.readings import (
    EVENT_CODES,
    BillingSnapshotRead,
    ConditionState,
    EventCategory,
    EventsLost,
    MeterEventRecord,
    RelayState,
)


def billing_fields(snapshot: BillingSnapshotRead) -> Fields:
    """The snapshot's registers that have a billing entity, in kWh, after its kind and time."""
    fields: Fields = {"kind": snapshot.kind.value, "time": timestamp(snapshot.time)}
    if snapshot.sequence is not None:
        fields["sequence"] = snapshot.sequence
    for register, spec in BILLING.items():
        measurement = snapshot.registers.get(register)
        if measurement is None or measurement.unit != spec.source_unit:
            continue
        value = kilo(measurement.value)
        if value is not None:
            fields[register] = value
    fields["page"] = snapshot.page
    return fields


def event_type(record: MeterEventRecord) -> str:
    """HA's event_type: the meaning's name if `event_codes` knows the code, else unknown."""
    if record.code is None:
        return OUTAGE
    return record.name if record.code in EVENT_CODES else UNKNOWN_EVENT


def event_payload(record: MeterEventRecord) -> bytes:
    fields: Fields = {
        EVENT_TYPE: event_type(record),
        CATEGORY: record.category.value,
        "event": record.name,
        "text": record.text,
    }
    if record.code is not None:
        fields["code"] = record.code
    fields["log"] = record.log.value
    fields["sequence"] = record.sequence
    fields["time"] = timestamp(record.time)
    if record.end is not None:
        fields["end"] = timestamp(record.end)
        fields["duration_s"] = round((record.end - record.time).total_seconds())
    if record.argument:
        fields["argument"] = record.argument.hex()
    if record.page is not None:
        fields["page"] = record.page
    return encode(fields)


def lost_payload(lost: EventsLost) -> bytes:
    return encode(
        {
            EVENT_TYPE: EVENTS_LOST,
            CATEGORY: EventCategory.OTHER.value,
            "log": lost.log.value,
            "first": lost.first,
            "last": lost.last,
            "count": lost.count,
        }
    )


def condition_payload(state: ConditionState) -> bytes:
    return encode({state.condition.value: state.on, "phases": ", ".join(state.phases)})


def relay_payload(state: RelayState) -> bytes:
    return encode(
        {HistoryKey.RELAY: state.state.name.lower(), "control": state.control.name.lower()}
    )
