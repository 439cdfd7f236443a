"""The publisher's part for M-Bus sub-meters: a device each, announced when the engine says
who it is and again when a reading brings a register (or unit) not announced yet; each
scheduled read sent once to `<prefix>/meter/<serial>/mbus/<key>`.

Kept apart from `publisher.py` so that module stays about the connection and the meter; the
publisher hands over its retained-status and send functions (composition, no inheritance).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from mepd.publish.discovery import sub_meter_config
from mepd.publish.meter_state import MeterState, SubMeterState
from mepd.publish.payloads import stamped, sub_meter_fields
from mepd.publish.topics import Topics, discovery_topic, sub_meter_device_id
from mepd.readings import SubMeterIdentity, SubMeterReading
from mepd.settings import DiscoverySettings

READING_QOS = 1  # delivery confirmed (PUBACK) before the engine's cursor moves


class Send(Protocol):
    """`MqttConnection.publish`: queue a message; `on_acked` runs on its PUBACK (QoS 1)."""

    def __call__(
        self, topic: str, payload: bytes, *, qos: int, on_acked: Callable[[], None] | None
    ) -> int | None: ...


class SubMeterPublisher:
    def __init__(
        self,
        topics: Topics,
        discovery: DiscoverySettings,
        *,
        set_status: Callable[[str, bytes], int | None],
        send: Send,
        announced: Callable[[], None],
        clock: Callable[[], datetime],
    ) -> None:
        self._topics = topics
        self._discovery = discovery
        self._set_status = set_status  # retained, sent again on reconnect; None if unchanged
        self._send = send
        self._announced = announced  # a discovery config went out: HA subscribes, then replay
        self._clock = clock

    def on(self, meter: MeterState | None, event: SubMeterIdentity | SubMeterReading) -> None:
        """An event of meter `meter` (None: not known to the publisher yet)."""
        if isinstance(event, SubMeterIdentity):
            self.identity(meter, event)
        else:
            self.reading(meter, event)

    def identity(self, meter: MeterState | None, identity: SubMeterIdentity) -> None:
        if meter is not None:
            known = meter.sub_meters.get(identity.key)
            sub = SubMeterState(identity, dict(known.registers if known else {}))
            sub.registers |= dict(identity.registers)
            meter.sub_meters[identity.key] = sub
            self._announce(sub)

    def reading(self, meter: MeterState | None, reading: SubMeterReading) -> None:
        """A scheduled read, once at QoS 1: its receipt (the engine's cursor) is the PUBACK.
        The latest goes again (QoS 0) when Home Assistant is born."""
        sub = meter.sub_meters.get(reading.key) if meter is not None else None
        if meter is None or sub is None:
            return  # not confirmed: the engine sends it again (after its identity)
        units = {v.quantity: v.unit for v in reversed(reading.values) if v.quantity.cumulative}
        if any(sub.registers.get(q) != unit for q, unit in units.items()):
            sub.registers |= units
            self._announce(sub)
        topic = self._topics.mbus(reading.meter, reading.key)
        payload = stamped(sub_meter_fields(reading), self._clock())
        receipt = reading.receipt
        on_acked = receipt.delivered if receipt is not None else None
        self._send(topic, payload, qos=READING_QOS, on_acked=on_acked)
        meter.latest[topic] = (payload, self._clock(), None)

    def _announce(self, sub: SubMeterState) -> None:
        if self._discovery.enabled:
            config = sub_meter_config(sub.identity, sub.registers, topics=self._topics)
            topic = discovery_topic(self._discovery.prefix, sub_meter_device_id(sub.identity.key))
            document = json.dumps(config, separators=(",", ":"), ensure_ascii=False).encode()
            if self._set_status(topic, document) is not None:
                self._announced()
