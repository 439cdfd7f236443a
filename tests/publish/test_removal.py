"""`remove_discovery`: mepd's retained configs and status go, everybody else's stay."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.publish as paho_publish
import pytest

from mepd.protocol.tables import SOURCES_BY_NAME, Measurement, Measurements
from mepd.publish import BrokerError, Publisher, remove_discovery
from mepd.publish.topics import Topics
from mepd.readings import EnergyHeld, LinkStatus, MeterIdentity, PresentReading
from tests.mosquitto import Mosquitto, free_port, retained
from tests.publish.conftest import DISCOVERY, GATEWAY, PERIODS, settings_for

pytestmark = pytest.mark.asyncio

TOPICS = Topics("mepd", GATEWAY.gateway_id)
FOREIGN_CONFIG = "homeassistant/device/zigbee_1/config"
FOREIGN = {
    FOREIGN_CONFIG: json.dumps(
        {"dev": {"identifiers": ["zigbee_1"]}, "o": {"name": "Zigbee2MQTT"}, "cmps": {}}
    ),
    "homeassistant/sensor/kitchen/config": json.dumps({"name": "kitchen", "state_topic": "k"}),
    "other/meter/x/availability": "online",
}


async def test_only_mepds_retained_messages_are_cleared(broker: Mosquitto) -> None:
    for topic, payload in FOREIGN.items():
        await asyncio.to_thread(
            paho_publish.single, topic, payload, retain=True, hostname="127.0.0.1", port=broker.port
        )
    publisher = Publisher(settings_for(broker), DISCOVERY, GATEWAY)
    await publisher.start()
    deadline = time.monotonic() + 5
    while not publisher.connected:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    emit = publisher.feed(PERIODS)
    emit(LinkStatus(None, True, "meter answers"))
    emit(MeterIdentity("SIM-9", "ELON", "83334-3I", "4.32.02", "4.1", 1, 19, 84, 1, "pty"))
    values = Measurements.of([Measurement.of(SOURCES_BY_NAME["power_import"], 321)])
    emit(PresentReading("SIM-9", values, datetime.now(UTC), None))
    emit(EnergyHeld("SIM-9", ()))
    await asyncio.sleep(0.2)
    await publisher.stop()

    ours = {
        "homeassistant/device/mepd_SIM-9/config",
        f"homeassistant/device/mepd_gateway_{GATEWAY.gateway_id}/config",
        TOPICS.gateway_status,
        TOPICS.availability("SIM-9"),
        TOPICS.link("SIM-9"),
        TOPICS.energy_held("SIM-9"),
    }
    before = await retained(broker.port, ("#",))
    assert ours | set(FOREIGN) == set(before)

    cleared = await remove_discovery(settings_for(broker), DISCOVERY, timeout_s=3.0)

    assert set(cleared) == ours
    assert cleared[:2] == sorted(t for t in ours if t.endswith("/config"))  # configs first
    after = await retained(broker.port, ("#",))
    assert set(after) == set(FOREIGN)
    assert await remove_discovery(settings_for(broker), DISCOVERY, timeout_s=3.0) == []


async def test_no_broker_is_a_clear_error(tmp_path: Path) -> None:
    settings = settings_for(Mosquitto(tmp_path, port=free_port()))
    started = time.monotonic()
    with pytest.raises(BrokerError, match="connection refused"):
        await remove_discovery(settings, DISCOVERY, timeout_s=0.5)
    assert time.monotonic() - started < 2.0
