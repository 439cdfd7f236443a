"""Billing snapshots, meter events, the phase condition and the relay: payloads, discovery,
the feed's rules (newest billing wins, events once at QoS 1), and one run against Mosquitto."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest

from mepd.protocol.tables import SOURCES_BY_NAME, Measurement, Measurements
from mepd.protocol.tables.event_codes import CODES_BY_NAME, meaning_of
from mepd.publish import Publisher
from mepd.publish.catalog import HistoryKey
from mepd.publish.discovery import meter_config
from mepd.publish.history_entities import BILLING, EVENT_ENTITIES, event_types
from mepd.publish.history_feed import EVENT_QOS, HistoryFeed
from mepd.publish.history_payloads import (
    billing_fields,
    condition_payload,
    event_payload,
    lost_payload,
    relay_payload,
)
from mepd.publish.topics import Topics
from mepd.readings import (
    BillingSnapshotRead,
    Condition,
    ConditionState,
    DisconnectControl,
    DisconnectState,
    EventCategory,
    EventsLost,
    HistoryLog,
    LinkStatus,
    MeterEventRecord,
    MeterIdentity,
    RelayState,
    SnapshotKind,
    ValueName,
)
from tests.mosquitto import Listener, Mosquitto, retained
from tests.publish.conftest import DISCOVERY, GATEWAY, PERIODS, settings_for
from tests.publish.ha_rules import config_problems

SERIAL = "SIM-GEN4-0001"
TOPICS = Topics("mepd", GATEWAY.gateway_id)
IDENTITY = MeterIdentity(SERIAL, "NES", "83334-3I", "4.30", "1.0", 1, 19, 84, 1, "/dev/x")
MIDNIGHT = datetime(2026, 12, 6, 0, 0, tzinfo=UTC)


def _wh(name: str, value: float) -> Measurement:
    source = SOURCES_BY_NAME[name]
    return Measurement(source, value, source.unit, int(value))


def snapshot(
    when: datetime = MIDNIGHT, kind: SnapshotKind = SnapshotKind.SELF_READ
) -> BillingSnapshotRead:
    registers = Measurements.of((_wh("energy_import", 1234567.0), _wh("energy_export", 89.0)))
    sequence = 20428 if kind is SnapshotKind.SELF_READ else None
    return BillingSnapshotRead(SERIAL, kind, when, registers, sequence, 213)


def event(name: str, sequence: int = 65540, argument: bytes = b"\x02\x00") -> MeterEventRecord:
    meaning = meaning_of(CODES_BY_NAME[name])
    return MeterEventRecord(
        SERIAL,
        HistoryLog.BT74,
        sequence,
        datetime(2026, 12, 5, 13, 30, 5, tzinfo=UTC),
        meaning.code,
        meaning.name,
        meaning.text,
        meaning.category,
        meaning.page,
        argument,
    )


def test_a_billing_payload_is_kwh_to_the_wh_with_its_time_and_kind() -> None:
    document = billing_fields(snapshot())
    assert str(document[ValueName.ENERGY_IMPORT]) == "1234.567"
    assert str(document[ValueName.ENERGY_EXPORT]) == "0.089"
    assert document["kind"] == "self_read"
    assert document["time"] == "2026-12-06T00:00:00.000+00:00"
    assert document["sequence"] == 20428
    assert ValueName.REACTIVE_ENERGY_IMPORT not in document  # not in the snapshot: absent


def test_an_event_payload_carries_event_type_meaning_time_and_page() -> None:
    document = json.loads(event_payload(event("phase_loss")))
    assert document == {
        "event_type": "phase_loss",
        "category": "phase_loss",
        "event": "phase_loss",
        "text": "Phase loss (argument: phase 1-3)",
        "code": CODES_BY_NAME["phase_loss"],
        "log": "BT74",
        "sequence": 65540,
        "time": "2026-12-05T13:30:05.000+00:00",
        "argument": "0200",
        "page": 146,
    }


def test_an_unknown_code_is_an_unknown_event_of_the_other_entity() -> None:
    meaning = meaning_of(0x800 + 77)
    record = MeterEventRecord(
        SERIAL,
        HistoryLog.ET79,
        7,
        MIDNIGHT,
        meaning.code,
        meaning.name,
        meaning.text,
        meaning.category,
        None,
    )
    document = json.loads(event_payload(record))
    assert document["event_type"] == "unknown"
    assert document["event"] == "manufacturer_77"
    assert document["event_type"] in event_types(EventCategory.OTHER)


def test_an_outage_record_has_its_end_and_duration() -> None:
    record = MeterEventRecord(
        SERIAL,
        HistoryLog.ET81,
        301,
        MIDNIGHT,
        None,
        "outage",
        "Power outage",
        EventCategory.POWER_OUTAGE,
        185,
        end=datetime(2026, 12, 6, 0, 42, 30, tzinfo=UTC),
    )
    document = json.loads(event_payload(record))
    assert document["event_type"] == "outage"
    assert document["duration_s"] == 2550
    assert "code" not in document
    assert document["event_type"] in event_types(EventCategory.POWER_OUTAGE)


def test_a_lost_range_and_the_states() -> None:
    lost = json.loads(lost_payload(EventsLost(SERIAL, HistoryLog.EVENT_LOGS, 10, 14)))
    assert lost == {
        "event_type": "events_lost",
        "category": "other",
        "log": "BT74+ET79",
        "first": 10,
        "last": 14,
        "count": 5,
    }
    missing = ConditionState(SERIAL, Condition.PHASE_MISSING, True, ("L2",))
    assert json.loads(condition_payload(missing)) == {"phase_missing": True, "phases": "L2"}
    relay = RelayState(SERIAL, DisconnectState.OPENED, DisconnectControl.POWER)
    assert json.loads(relay_payload(relay)) == {"relay": "opened", "control": "power"}


def _history_config() -> dict[str, Any]:
    return meter_config(IDENTITY, set(HistoryKey), topics=TOPICS, gateway=GATEWAY, periods=PERIODS)


def test_the_history_entities_pass_home_assistants_rules() -> None:
    config = _history_config()
    assert config_problems(config) == []
    components = config["cmps"]
    billing = components[HistoryKey.BILLING_ENERGY_IMPORT]
    assert billing["state_class"] == "total"  # a snapshot may move either way
    assert billing["device_class"] == "energy"
    assert billing["unit_of_measurement"] == "kWh"
    assert "energy_import" in billing["value_template"]
    assert components[HistoryKey.RELAY]["options"] == ["closed", "closing", "opened", "opening"]
    assert components[HistoryKey.PHASE_MISSING]["device_class"] == "problem"


_CATEGORY_TEST = re.compile(r"value_json\['category'\] == '([a-z_]+)'")


@pytest.mark.parametrize("category", list(EventCategory))
def test_each_event_entity_takes_only_its_own_categorys_events(category: EventCategory) -> None:
    component = _history_config()["cmps"][EVENT_ENTITIES[category].key]
    assert component["p"] == "event"
    (tested,) = _CATEGORY_TEST.findall(component["value_template"])
    assert tested == category.value
    assert "else ''" in component["value_template"]  # HA ignores an empty rendering
    for name in component["event_types"]:
        if name in CODES_BY_NAME:
            assert meaning_of(CODES_BY_NAME[name]).category is category
    names = {m for c in EventCategory for m in event_types(c)}
    assert len(names) == sum(len(event_types(c)) for c in EventCategory)  # no type twice


class _Recorder:
    def __init__(self) -> None:
        self.status: dict[str, bytes] = {}
        self.sent: list[tuple[str, bytes, int]] = []
        self.learned: set[str] = set()

    def feed(self, known: Iterable[str] = (SERIAL,)) -> HistoryFeed:
        meters = set(known)

        def publish(topic: str, payload: bytes, *, qos: int = 0, on_acked: Any = None) -> int:
            self.sent.append((topic, payload, qos))
            return 1

        return HistoryFeed(
            TOPICS,
            known=lambda serial: serial in meters,
            learn=lambda serial, keys: self.learned.update(keys),
            set_status=self.status.__setitem__,
            publish=publish,
        )


def test_the_newest_billing_snapshot_wins_and_events_go_once_at_qos_1() -> None:
    rig = _Recorder()
    feed = rig.feed()
    billing_topic = TOPICS.meter(SERIAL, "billing")
    feed.receive(snapshot(MIDNIGHT))
    feed.receive(snapshot(datetime(2026, 12, 1, tzinfo=UTC), SnapshotKind.DEMAND_RESET))
    assert json.loads(rig.status[billing_topic])["kind"] == "self_read"  # the older one lost
    assert {BILLING[ValueName.ENERGY_IMPORT].key, BILLING[ValueName.ENERGY_EXPORT].key} == (
        rig.learned
    )
    feed.receive(event("cover_removed"))
    ((topic, payload, qos),) = rig.sent
    assert (topic, qos) == (TOPICS.meter(SERIAL, "event"), EVENT_QOS)
    assert json.loads(payload)["category"] == "tamper"
    assert {spec.key for spec in EVENT_ENTITIES.values()} <= rig.learned


def test_nothing_goes_out_for_a_meter_that_has_not_said_who_it_is() -> None:
    rig = _Recorder()
    feed = rig.feed(known=())
    feed.receive(snapshot())
    feed.receive(event("power_down"))
    feed.receive(ConditionState(SERIAL, Condition.PHASE_MISSING, False))
    assert rig.status == {}
    assert rig.sent == []
    assert rig.learned == set()


@pytest.mark.asyncio
async def test_history_reaches_the_broker_with_its_entities(broker: Mosquitto) -> None:
    publisher = Publisher(settings_for(broker), DISCOVERY, GATEWAY)
    await publisher.start()
    try:
        assert await publisher._connection.wait_connected(5.0)
        feed = publisher.feed(PERIODS)
        with Listener(broker.port) as heard:
            feed(IDENTITY)
            feed(LinkStatus(SERIAL, True, "meter answers"))
            feed(snapshot())
            feed(event("voltage_sag"))
            feed(ConditionState(SERIAL, Condition.PHASE_MISSING, True, ("L3",)))
            feed(RelayState(SERIAL, DisconnectState.CLOSED, DisconnectControl.CURRENT))
            (message,) = await heard.wait_topic(TOPICS.meter(SERIAL, "event"))
            await heard.wait_topic(TOPICS.meter(SERIAL, "relay"))
        assert json.loads(message.payload)["event_type"] == "voltage_sag"
        assert message.retain is False
        held = await retained(broker.port, ("mepd/#", "homeassistant/#"))
        assert json.loads(held[TOPICS.meter(SERIAL, "billing")])["sequence"] == 20428
        assert json.loads(held[TOPICS.meter(SERIAL, "phase_missing")])["phase_missing"] is True
        assert TOPICS.meter(SERIAL, "event") not in held
        config = json.loads(held[f"homeassistant/device/mepd_{SERIAL}/config"])
        assert set(HistoryKey) <= set(config["cmps"]) | {
            HistoryKey.BILLING_REACTIVE_ENERGY_IMPORT,
            HistoryKey.BILLING_REACTIVE_ENERGY_EXPORT,
        }
        assert config_problems(config) == []
    finally:
        await publisher.stop()
