"""The publisher's part for what the meter remembers: load-profile intervals and the month's
peak demand, billing, events, conditions, relay.

Composed into `Publisher` (which owns the connection, the retained store and the meters) so
its module stays about sending. The rules:

- an interval goes out once at QoS 1, the broker's PUBACK is its receipt (the engine's
  cursor); the month's peak demand is status, retained;
- billing is status: retained, sent again on reconnect; the newest snapshot of either kind
  (a self-read or a demand reset) wins, an older one arriving later changes nothing;
- an event (or a lost range) goes out once at QoS 1, never retained (HA ignores a replayed
  retained event); the engine keeps it until the broker confirmed it (`readings.Receipt`
  where the history backbone gives one), so a broker outage loses none;
- a condition and the relay are status, retained, like the link.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

from mepd.publish.catalog import HistoryKey, Key
from mepd.publish.history import interval_payload, peak_payload
from mepd.publish.history_entities import (
    BILLING,
    BILLING_TOPIC,
    EVENT_ENTITIES,
    EVENT_TOPIC,
    PHASE_MISSING,
    RELAY,
)
from mepd.publish.history_payloads import (
    billing_fields,
    condition_payload,
    event_payload,
    lost_payload,
    relay_payload,
)
from mepd.publish.payloads import encode
from mepd.publish.topics import Topics
from mepd.readings import (
    BillingSnapshotRead,
    Condition,
    ConditionState,
    DemandPeak,
    EventsLost,
    IntervalRecord,
    MeterEventRecord,
    RelayState,
    ValueName,
)

# Confirmed by the broker (PUBACK) before the engine forgets the record or moves its cursor.
EVENT_QOS = INTERVAL_QOS = 1

HistoryEvent = (
    IntervalRecord
    | DemandPeak
    | BillingSnapshotRead
    | MeterEventRecord
    | EventsLost
    | ConditionState
    | RelayState
)


class Publish(Protocol):
    def __call__(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = ...,
        on_acked: Callable[[], None] | None = ...,
    ) -> int | None: ...


class HistoryFeed:
    """`known(serial)`: the meter has said who it is; `learn`: announce entity keys;
    `set_status`: a retained message; `publish`: a one-off message."""

    def __init__(
        self,
        topics: Topics,
        *,
        known: Callable[[str], bool],
        learn: Callable[[str, Iterable[str]], None],
        set_status: Callable[[str, bytes], object],
        publish: Publish,
    ) -> None:
        self._topics = topics
        self._known = known
        self._learn = learn
        self._set_status = set_status
        self._publish = publish
        self._billing_time: dict[str, datetime] = {}

    def receive(self, event: HistoryEvent) -> None:
        if not self._known(event.meter):
            return  # not confirmed: the engine sends it again once the meter is known
        match event:
            case IntervalRecord():
                self._interval(event)
            case DemandPeak():
                self._learn(event.meter, (Key.MONTH_PEAK_DEMAND,))
                self._set_status(self._topics.demand_peak(event.meter), peak_payload(event))
            case BillingSnapshotRead():
                self._billing(event)
            case MeterEventRecord() | EventsLost():
                self._event(event)
            case ConditionState():
                self._condition(event)
            case RelayState():
                self._learn(event.meter, (HistoryKey.RELAY,))
                self._set_status(self._topics.meter(event.meter, RELAY.topic), relay_payload(event))

    def _interval(self, record: IntervalRecord) -> None:
        if ValueName.ENERGY_IMPORT in record.values:
            self._learn(record.meter, (Key.INTERVAL_ENERGY,))
        receipt = record.receipt
        self._publish(
            self._topics.interval(record.meter),
            interval_payload(record),
            qos=INTERVAL_QOS,
            on_acked=receipt.delivered if receipt is not None else None,
        )

    def _billing(self, snapshot: BillingSnapshotRead) -> None:
        newest = self._billing_time.get(snapshot.meter)
        if newest is not None and snapshot.time < newest:
            return
        self._billing_time[snapshot.meter] = snapshot.time
        fields = billing_fields(snapshot)
        self._learn(snapshot.meter, [s.key for r, s in BILLING.items() if r in fields])
        self._set_status(self._topics.meter(snapshot.meter, BILLING_TOPIC), encode(fields))

    def _event(self, event: MeterEventRecord | EventsLost) -> None:
        self._learn(event.meter, [spec.key for spec in EVENT_ENTITIES.values()])
        payload = (
            event_payload(event) if isinstance(event, MeterEventRecord) else lost_payload(event)
        )
        receipt = event.receipt
        self._publish(
            self._topics.meter(event.meter, EVENT_TOPIC),
            payload,
            qos=EVENT_QOS,
            on_acked=receipt.delivered if receipt is not None else None,
        )

    def _condition(self, state: ConditionState) -> None:
        if state.condition is not Condition.PHASE_MISSING:
            return  # the only condition with an entity so far
        self._learn(state.meter, (PHASE_MISSING.key,))
        topic = self._topics.meter(state.meter, PHASE_MISSING.topic)
        self._set_status(topic, condition_payload(state))
