"""The "Energy held back" problem entity: discovery, its retained state, and clearing it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from mepd.publish.catalog import ENERGY_HELD, HeldKey, Key
from mepd.publish.payloads import held_payload
from mepd.publish.topics import Topics
from mepd.readings import EnergyHeld, HeldRegister, LinkStatus, MeterIdentity
from tests.mosquitto import Listener, Mosquitto, retained
from tests.publish.conftest import GATEWAY, PERIODS
from tests.publish.ha_rules import config_problems
from tests.publish.test_publisher import publishing, wait

SERIAL = "FAKE-HELD"
TOPICS = Topics("mepd", GATEWAY.gateway_id)
CONFIG = f"homeassistant/device/mepd_{SERIAL}/config"
SINCE = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
GLITCH = HeldRegister(
    "energy_import",
    3_615_722.0,
    120_615_730.0,
    "energy_import rose 1.17e+08 Wh in 15.0 s since the last published value; "
    "the fuse allows at most 273 Wh",
    SINCE,
)
DROP = HeldRegister("energy_export", 5_000.0, 4_000.0, "energy_export went down", SINCE)


def test_the_payload_names_the_register_its_values_and_why() -> None:
    held = json.loads(held_payload(EnergyHeld(SERIAL, (DROP, GLITCH))))
    assert held == {
        Key.ENERGY_HELD: True,
        HeldKey.REGISTER: "energy_import",  # the catalog's order, not the event's
        HeldKey.LAST_PUBLISHED_KWH: 3615.722,
        HeldKey.HELD_KWH: 120615.73,
        HeldKey.REASON: GLITCH.reason,
        HeldKey.SINCE: "2026-12-06T02:00:00.000+00:00",
        HeldKey.REGISTERS: "energy_import, energy_export",
    }
    assert b'"held_kwh":120615.730' in held_payload(EnergyHeld(SERIAL, (GLITCH,)))
    first = HeldRegister("energy_import", None, -5.0, "no register", SINCE)
    assert HeldKey.LAST_PUBLISHED_KWH not in json.loads(held_payload(EnergyHeld(SERIAL, (first,))))
    assert json.loads(held_payload(EnergyHeld(SERIAL, ()))) == {Key.ENERGY_HELD: False}


@pytest.mark.asyncio
async def test_the_problem_is_announced_raised_retained_and_cleared(broker: Mosquitto) -> None:
    identity = MeterIdentity(SERIAL, "NES", "83331-3I", "3.72.05", "3.1", None, 11, 55, 1, "pty")
    topic = TOPICS.energy_held(SERIAL)
    with Listener(broker.port) as heard:
        async with publishing(broker) as publisher:
            assert await wait(lambda: publisher.connected)
            emit = publisher.feed(PERIODS)
            emit(LinkStatus(None, True, "meter answers"))
            emit(identity)
            emit(EnergyHeld(SERIAL, ()))
            emit(EnergyHeld(SERIAL, (GLITCH,)))
            emit(EnergyHeld(SERIAL, (GLITCH,)))  # unchanged: not sent again
            await heard.wait_topic(topic, count=2)
            raised = await retained(broker.port, (topic,))
            emit(EnergyHeld(SERIAL, ()))
            await heard.wait_topic(topic, count=3)
            await asyncio.sleep(0.2)
    states = [json.loads(m.payload)[Key.ENERGY_HELD] for m in heard.on(topic)]
    assert states == [False, True, False]
    assert json.loads(raised[topic])[HeldKey.HELD_KWH] == 120615.73
    component = heard.last(CONFIG).json()["cmps"][Key.ENERGY_HELD]
    assert component["p"] == "binary_sensor"
    assert component["device_class"] == "problem"
    assert component["name"] == ENERGY_HELD.name == "Energy held back"
    assert component["state_topic"] == component["json_attributes_topic"] == topic
    # It says why while the meter is silent too: it follows the gateway alone.
    assert component["availability"] == [{"topic": TOPICS.gateway_status}]
    assert config_problems(heard.last(CONFIG).json()) == []
