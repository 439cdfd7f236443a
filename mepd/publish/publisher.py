"""The publisher: poller events in, MQTT messages out, without ever holding up a poller.

Two kinds of message, two rules:

* status (availability, the link, discovery configs) is retained, kept here as the latest
  value per topic, and sent again on every (re)connect, so the broker always holds the truth;
* state (present values, energy, diagnostics, gateway state) is sent once, now or never: while
  the broker is away it is dropped, never queued and replayed stale later.

A meter's entities are announced only for values it has actually reported; a new name makes
the device config go out again. Home Assistant's birth message brings the configs and the
latest slow values (energy within its freshness, diagnostics) again; `ha_births` says when.
Present values are not replayed: the next read (every few seconds) is sooner than anyone could
tell, and a value read while the broker was away stays unsent.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import assert_never

from mepd.logs import Throttle
from mepd.publish.catalog import Key
from mepd.publish.client import MqttConnection, Will
from mepd.publish.discovery import (
    ReadPeriods,
    expire_after,
    gateway_config,
    meter_config,
    meter_problem_key,
)
from mepd.publish.gateway import GatewayInfo
from mepd.publish.ha_births import BirthTimers, Sleep
from mepd.publish.history_feed import HistoryFeed
from mepd.publish.meter_state import FeedState, MeterState
from mepd.publish.payloads import (
    diagnostics_fields,
    energy_fields,
    gateway_payload,
    held_payload,
    link_payload,
    meter_problem,
    present_messages,
    stamped,
)
from mepd.publish.submeters import SubMeterPublisher
from mepd.publish.topics import (
    OFFLINE,
    ONLINE,
    Topics,
    discovery_topic,
    gateway_device_id,
    meter_device_id,
    topic_id,
)
from mepd.readings import (
    BillingSnapshotRead,
    ConditionState,
    DemandPeak,
    Diagnostics,
    EnergyHeld,
    EnergyReading,
    Event,
    EventsLost,
    IntervalRecord,
    LinkStatus,
    MeterEventRecord,
    MeterIdentity,
    PresentReading,
    RelayState,
    SubMeterIdentity,
    SubMeterReading,
)
from mepd.settings import DiscoverySettings, MqttSettings
from mepd.text import printable

log = logging.getLogger(__name__)

STOP_ACK_TIMEOUT_S = 2.0
STATUS_QOS = 1


class Publisher:
    def __init__(
        self,
        mqtt: MqttSettings,
        discovery: DiscoverySettings,
        gateway: GatewayInfo,
        *,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._discovery = discovery
        self._gateway = gateway
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._clock = clock
        self._started = clock()
        self.topics = Topics(mqtt.topic_prefix, gateway.gateway_id)
        self._retained: dict[str, bytes] = {}
        self._meters: dict[str, MeterState] = {}
        self._say = Throttle(log)
        self._births = BirthTimers(
            discovery.status_topic,
            rediscover=self._rediscover,
            replay=self._send_latest,
            rng=self._rng,
            sleep=sleep,
            say=self._say,
        )
        self._named: list[FeedState] = []  # each gets a problem entity on the gateway
        self._connection = MqttConnection(
            mqtt,
            mqtt.client_id or f"mepd-{topic_id(gateway.gateway_id)}",
            will=Will(self.topics.gateway_status, OFFLINE),
            subscriptions=(discovery.status_topic,) if discovery.enabled else (),
            on_connect=self._on_connect,
            on_message=self._on_message,
            rng=self._rng,
        )
        self._sub_meters = SubMeterPublisher(
            self.topics,
            discovery,
            set_status=self._set_status,
            send=self._connection.publish,
            announced=self._births.replay_soon,
            clock=clock,
        )
        # Billing, events, conditions, relay (issue 20): `history_feed.py`.
        self._history = HistoryFeed(
            self.topics,
            known=lambda serial: serial in self._meters,
            learn=lambda serial, keys: self._learn(self._meters[serial], keys),
            set_status=self._set_status,
            publish=self._connection.publish,
        )
        self._set_status(self.topics.gateway_status, ONLINE.encode())  # the birth message
        self._announce_gateway()

    # --- the daemon's interface ------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connection.connected

    @property
    def problem(self) -> str | None:
        """The current MQTT connection problem in one line (None when connected)."""
        return self._connection.problem

    async def start(self) -> None:
        """Begin connecting in the background; returns at once, broker or not."""
        await self._connection.start()

    def feed(self, periods: ReadPeriods, name: str | None = None) -> Callable[[Event], None]:
        """The emit callback for one meter's Poller, which reads it at `periods`:
        non-blocking, never raises. `name` (the configured one) gives the meter a problem
        entity on the gateway, visible before the meter ever said who it is."""
        source = FeedState(periods, name)
        if name is not None:
            self._named.append(source)
            self._announce_gateway()
        return functools.partial(self._receive, source)

    async def stop(self) -> None:
        """Say `offline` (retained) for the meters and the gateway, then disconnect cleanly."""
        await self._births.stop()
        mids = [
            self._set_status(self.topics.availability(s), OFFLINE.encode()) for s in self._meters
        ]
        mids.append(self._set_status(self.topics.gateway_status, OFFLINE.encode()))
        if self.connected and not await self._connection.flush(mids, STOP_ACK_TIMEOUT_S):
            log.warning("the MQTT broker did not confirm the offline messages in time")
        await self._connection.stop()

    # --- events (from a feed) --------------------------------------------------------------

    def _receive(self, source: FeedState, event: Event) -> None:
        try:
            self._dispatch(source, event)
        except Exception:
            # A publishing bug must never stop the meter being read.
            name = type(event).__name__
            self._say.exception(f"publish {name}", "could not publish %s", name)

    def _dispatch(self, source: FeedState, event: Event) -> None:
        match event:
            case MeterIdentity():
                self._take_identity(source, event)
            case LinkStatus():
                source.link = event
                serial = event.meter or source.serial
                if serial is not None:
                    self._on_link(serial, event)
                elif source.name is not None:
                    self._send_gateway_state()  # the meter's problem, on the gateway
            case PresentReading():
                self._on_present(event)
            case EnergyReading():
                self._on_energy(event)
            case EnergyHeld():
                self._on_energy_held(event)
            case Diagnostics():
                self._on_diagnostics(event)
            case (
                IntervalRecord()
                | DemandPeak()
                | BillingSnapshotRead()
                | MeterEventRecord()
                | EventsLost()
                | ConditionState()
                | RelayState()
            ):
                self._history.receive(event)  # `history_feed.py`
            case SubMeterIdentity() | SubMeterReading():
                self._sub_meters.on(self._meters.get(event.meter), event)
            case _:
                assert_never(event)

    def _take_identity(self, source: FeedState, identity: MeterIdentity) -> None:
        if source.serial is not None and source.serial != identity.serial:
            self._on_retired(source.serial)
        source.serial = identity.serial
        self._on_identity(identity, source.periods, source.link)

    def _on_identity(
        self, identity: MeterIdentity, periods: ReadPeriods, link: LinkStatus | None
    ) -> None:
        meter = self._meters.get(identity.serial)
        if meter is None:
            meter = MeterState(identity, periods, self._clock())
            self._meters[identity.serial] = meter
            log.info(
                "publishing meter %s under %s",
                printable(identity.serial),
                printable(self.topics.meter(identity.serial, "#")),
            )
        meter.identity = identity
        meter.periods = periods
        if link is not None:
            meter.apply_link(link, self._clock())
        self._publish_link(meter)
        self._announce(meter)

    def _on_retired(self, serial: str) -> None:
        """Another meter answers on this port now: the old one is offline."""
        meter = self._meters.get(serial)
        if meter is not None:
            meter.up = False
            meter.reason = "another meter answers on this port"
            self._publish_link(meter)

    def _on_link(self, serial: str, status: LinkStatus) -> None:
        meter = self._meters.get(serial)
        if meter is None:
            return
        meter.apply_link(status, self._clock())
        self._publish_link(meter)

    def _on_present(self, reading: PresentReading) -> None:
        meter = self._meters.get(reading.meter)
        if meter is not None:
            for leaf, fields in present_messages(reading).items():
                if fields:
                    self._learn(meter, fields.keys())
                    payload = stamped(fields, reading.host_time)
                    self._send(self.topics.meter(reading.meter, leaf), payload)

    def _on_energy(self, reading: EnergyReading) -> None:
        meter = self._meters.get(reading.meter)
        if meter is not None:
            fields = energy_fields(reading)
            if fields:
                self._learn(meter, fields.keys())
                topic = self.topics.energy(reading.meter)
                payload = stamped(fields, reading.host_time)
                self._send(topic, payload)
                freshness = expire_after(meter.periods.energy_s)
                meter.latest[topic] = (payload, self._clock(), freshness)

    def _on_energy_held(self, held: EnergyHeld) -> None:
        """Status, like the link: retained and sent again on reconnect, so the problem stays
        on (or off) in Home Assistant until the poller says otherwise."""
        meter = self._meters.get(held.meter)
        if meter is not None:
            self._learn(meter, (Key.ENERGY_HELD,))
            self._set_status(self.topics.energy_held(held.meter), held_payload(held))

    def _on_diagnostics(self, report: Diagnostics) -> None:
        meter = self._meters.get(report.meter)
        if meter is not None:
            fields = diagnostics_fields(report)
            self._learn(meter, fields.keys())
            topic = self.topics.diagnostics(report.meter)
            payload = stamped(fields, self._clock())
            self._send(topic, payload)
            meter.latest[topic] = (payload, self._clock(), None)

    # --- inside ----------------------------------------------------------------------------

    def _publish_link(self, meter: MeterState) -> None:
        serial = meter.identity.serial
        self._set_status(
            self.topics.availability(serial), (ONLINE if meter.up else OFFLINE).encode()
        )
        self._set_status(
            self.topics.link(serial),
            link_payload(meter.up, meter.reason, meter.auth_problem, meter.link_changed),
        )
        self._send_gateway_state()

    def _learn(self, meter: MeterState, names: Iterable[str]) -> None:
        new = set(names) - meter.names
        if new:
            meter.names |= new
            self._announce(meter)

    def _announce(self, meter: MeterState) -> None:
        if not self._discovery.enabled:
            return
        config = meter_config(
            meter.identity,
            meter.names,
            topics=self.topics,
            gateway=self._gateway,
            periods=meter.periods,
        )
        topic = discovery_topic(self._discovery.prefix, meter_device_id(meter.identity.serial))
        if self._set_status(topic, _json(config)) is not None:
            self._births.replay_soon()  # HA subscribes to the new entities' topics after this

    def _set_status(self, topic: str, payload: bytes) -> int | None:
        """Remember a retained message and send it if it changed; it goes again on reconnect."""
        if self._retained.get(topic) == payload:
            return None
        self._retained[topic] = payload
        return self._connection.publish(topic, payload, retain=True, qos=STATUS_QOS)

    def _send(self, topic: str, payload: bytes) -> None:
        """State: now or never."""
        self._connection.publish(topic, payload)

    def _send_gateway_state(self) -> None:
        online = sum(1 for meter in self._meters.values() if meter.up)
        problems = {meter_problem_key(s.name): meter_problem(s.link) for s in self._named if s.name}
        self._send(
            self.topics.gateway_state,
            gateway_payload(online, self._started, self._clock(), problems),
        )

    def _announce_gateway(self) -> None:
        if not self._discovery.enabled:
            return
        names = [source.name for source in self._named if source.name is not None]
        self._set_status(
            discovery_topic(self._discovery.prefix, gateway_device_id(self._gateway.gateway_id)),
            _json(gateway_config(self._gateway, self.topics, names)),
        )

    def _on_connect(self) -> None:
        for topic, payload in self._retained.items():
            self._connection.publish(topic, payload, retain=True, qos=STATUS_QOS)
        self._send_gateway_state()
        self._births.replay_soon()

    def _send_latest(self) -> None:
        """The latest slow values again (energy while fresh), when `ha_births` says."""
        now = self._clock()
        for meter in self._meters.values():
            for topic, (payload, sent, fresh_s) in meter.latest.items():
                if fresh_s is None or (now - sent).total_seconds() < fresh_s:
                    self._send(topic, payload)
        self._send_gateway_state()

    def _on_message(self, topic: str, payload: bytes, retained: bool) -> None:
        self._births.heard(topic, payload, retained)

    def _rediscover(self) -> None:
        """The discovery configs again, when `ha_births` says."""
        prefix = f"{self._discovery.prefix}/"
        for topic, payload in self._retained.items():
            if topic.startswith(prefix):
                self._connection.publish(topic, payload, retain=True, qos=STATUS_QOS)
        self._send_gateway_state()


def _json(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
