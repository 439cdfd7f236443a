"""Home Assistant keeps no state across restarts: on its birth, and on every reconnect, the
slow entities (energy, diagnostics with the clock offset) get their value again at once."""

from __future__ import annotations

import asyncio
import time

import paho.mqtt.publish as paho_publish
import pytest

from mepd.publish.catalog import Key
from mepd.publish.publisher import Publisher
from tests.mosquitto import Listener, Mosquitto
from tests.publish.conftest import DISCOVERY, GATEWAY, PERIODS, settings_for
from tests.publish.simulated import meter_feeding
from tests.publish.test_publisher import METER_CONFIG, TOPICS, config_with

pytestmark = pytest.mark.asyncio
SERIAL = "SIM-GEN4-0001"
SLOW = (TOPICS.energy(SERIAL), TOPICS.diagnostics(SERIAL), TOPICS.gateway_state)


def _say(broker: Mosquitto, payload: str) -> None:
    paho_publish.single("homeassistant/status", payload, hostname="127.0.0.1", port=broker.port)


async def test_after_home_assistants_birth_every_entity_has_a_value_within_10_s(
    broker: Mosquitto,
) -> None:
    publisher = Publisher(settings_for(broker), DISCOVERY, GATEWAY)
    await publisher.start()
    try:
        async with meter_feeding(publisher.feed(PERIODS)):
            with Listener(broker.port) as early:
                await early.wait_for(config_with("energy_import"), within_s=10)
                # Diagnostics with the clock offset within 5 s of the start, not after 60 s.
                (diagnostics,) = await early.wait_for(
                    lambda m: (
                        m.topic == TOPICS.diagnostics(SERIAL) and Key.CLOCK_OFFSET_S in m.json()
                    ),
                    within_s=5,
                )
            await asyncio.sleep(1.5)  # the replay after the first configs is over
            with Listener(broker.port) as heard:
                await asyncio.to_thread(_say, broker, "online")
                born = time.monotonic()
                for topic in SLOW:
                    await heard.wait_topic(topic, within_s=10)
                waited = time.monotonic() - born
                configs = heard.on(METER_CONFIG)
    finally:
        await publisher.stop()
    assert waited <= 10.0
    assert configs  # discovery first, then the values
    assert Key.CLOCK_OFFSET_S in diagnostics.json()


async def test_a_reconnect_replays_the_latest_energy_and_diagnostics(broker: Mosquitto) -> None:
    publisher = Publisher(settings_for(broker), DISCOVERY, GATEWAY)
    await publisher.start()
    try:
        async with meter_feeding(publisher.feed(PERIODS)):
            with Listener(broker.port) as heard:
                await heard.wait_topic(TOPICS.energy(SERIAL), within_s=10)
                await heard.wait_topic(TOPICS.diagnostics(SERIAL), within_s=10)
            broker.stop()
            await asyncio.sleep(0.5)
            broker.start()
            with Listener(broker.port) as after:
                back = time.monotonic()
                for topic in SLOW[:2]:
                    await after.wait_topic(topic, within_s=6)
                waited = time.monotonic() - back
    finally:
        await publisher.stop()
    assert waited <= 6.0  # not the 15 s energy period, nor the 60 s diagnostics one
