"""The publisher against a real Mosquitto, fed by the real poller reading the simulator."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.publish as paho_publish
import pytest

from mepd.protocol.tables import SOURCES_BY_NAME, Measurement, Measurements
from mepd.publish import Publisher
from mepd.publish.topics import Topics
from mepd.readings import EnergyReading, LinkStatus, MeterIdentity, PresentReading
from mepd.settings import MeterSettings, PlausibilityLimits
from tests.mosquitto import Listener, Message, Mosquitto, retained
from tests.publish.conftest import DISCOVERY, GATEWAY, PERIODS, settings_for
from tests.publish.ha_rules import config_problems
from tests.publish.simulated import KEY, meter_feeding

pytestmark = pytest.mark.asyncio

SERIAL = "SIM-GEN4-0001"  # the gen4 profile's ET03 serial
TOPICS = Topics("mepd", GATEWAY.gateway_id)
METER_CONFIG = f"homeassistant/device/mepd_{SERIAL}/config"
GATEWAY_CONFIG = f"homeassistant/device/mepd_gateway_{GATEWAY.gateway_id}/config"
STATE_TOPICS = {
    TOPICS.present(SERIAL),
    TOPICS.energy(SERIAL),
    TOPICS.diagnostics(SERIAL),
    TOPICS.gateway_state,
}


@asynccontextmanager
async def publishing(broker: Mosquitto, **options: Any) -> AsyncIterator[Publisher]:
    publisher = Publisher(settings_for(broker), DISCOVERY, GATEWAY, **options)
    await publisher.start()
    try:
        yield publisher
    finally:
        await publisher.stop()


def config_with(*keys: str) -> Any:
    def match(message: Message) -> bool:
        return message.topic == METER_CONFIG and set(keys) <= set(message.json()["cmps"])

    return match


def ts(message: Message) -> datetime:
    return datetime.fromisoformat(message.json()["ts"])


async def test_discovery_and_states_arrive_with_the_right_shapes(broker: Mosquitto) -> None:
    with Listener(broker.port) as heard:
        async with publishing(broker) as publisher, meter_feeding(publisher.feed(PERIODS)):
            await heard.wait_for(config_with("power_import", "energy_import", "timeouts"))
            await heard.wait_topic(TOPICS.present(SERIAL), count=2)
            await heard.wait_topic(TOPICS.energy(SERIAL))
            snapshot = await retained(broker.port, ("#",))
            assert publisher.connected

    # Every discovery document sent passes Home Assistant's rules.
    configs = heard.matching(lambda m: m.topic.endswith("/config"))
    assert {m.topic for m in configs} == {METER_CONFIG, GATEWAY_CONFIG}
    for message in configs:
        assert message.retain is False  # live delivery; the retained copy is checked below
        assert config_problems(message.json()) == [], message.topic
    announced = set(heard.last(METER_CONFIG).json()["cmps"])

    # States: only announced keys, exact decimals, a timestamp; nothing retained.
    for message in heard.on(TOPICS.present(SERIAL)):
        fields = message.json()
        assert set(fields) - {"ts"} <= announced
        assert {"power_import", "voltage_l1", "frequency"} <= set(fields)
        assert 200 < fields["voltage_l1"] < 260
        assert abs((datetime.now(UTC) - ts(message)).total_seconds()) < 30
    energy = heard.last(TOPICS.energy(SERIAL))
    for number in re.findall(rb'"energy_\w+":([0-9.]+)', energy.payload):
        assert re.fullmatch(rb"\d+\.\d{3}", number)
    assert set(energy.json()) == {"energy_import", "energy_export", "ts"}
    diagnostics = heard.last(TOPICS.diagnostics(SERIAL)).json()
    assert {"timeouts", "corrupt_responses", "quarantined", "last_success"} <= set(diagnostics)

    # Retained: status and configs, never states.
    assert snapshot[TOPICS.gateway_status] == b"online"
    assert snapshot[TOPICS.availability(SERIAL)] == b"online"
    assert json.loads(snapshot[TOPICS.link(SERIAL)])["up"] is True
    assert {METER_CONFIG, GATEWAY_CONFIG} <= set(snapshot)
    assert not STATE_TOPICS & set(snapshot)


async def test_a_broker_restart_brings_fresh_state_and_status_back(broker: Mosquitto) -> None:
    async with publishing(broker) as publisher, meter_feeding(publisher.feed(PERIODS)):
        with Listener(broker.port) as before:
            await before.wait_topic(TOPICS.present(SERIAL))
            await before.wait_for(config_with("energy_import"))
        broker.stop()
        await asyncio.sleep(2.0)  # a reading or two is taken while the broker is away
        # Locals: mypy would keep the attributes narrowed past the reconnection below.
        connected_while_away, problem_while_away = publisher.connected, publisher.problem
        assert not connected_while_away
        assert problem_while_away is not None
        broker.start()  # same port, and no retained messages: persistence is off
        back = datetime.now(UTC)
        with Listener(broker.port) as after:
            await after.wait_topic(TOPICS.present(SERIAL), count=2, within_s=10)
            snapshot = await retained(broker.port, ("#",))
        assert publisher.connected
        assert publisher.problem is None
    # Nothing taken while the broker was away was sent when it came back.
    assert all(ts(m) >= back for m in after.on(TOPICS.present(SERIAL)))
    assert snapshot[TOPICS.gateway_status] == b"online"
    assert snapshot[TOPICS.availability(SERIAL)] == b"online"
    assert {METER_CONFIG, GATEWAY_CONFIG} <= set(snapshot)
    assert "energy_import" in json.loads(snapshot[METER_CONFIG])["cmps"]


async def test_home_assistant_coming_online_triggers_rediscovery(broker: Mosquitto) -> None:
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    def home_assistant_says(payload: str, retain: bool = False) -> None:
        paho_publish.single(
            "homeassistant/status", payload, retain=retain, hostname="127.0.0.1", port=broker.port
        )

    # Some setups retain HA's birth: old news at connect time, not a reason to rediscover.
    await asyncio.to_thread(home_assistant_says, "online", True)
    with Listener(broker.port) as heard:
        async with (
            publishing(broker, sleep=sleep) as publisher,
            meter_feeding(publisher.feed(PERIODS)),
        ):
            await heard.wait_for(config_with("energy_import"))
            # Wait until every entity the meter reports is announced (a value seen for the
            # first time sends the config again, which is not a rediscovery).
            sent = (-1, -1)
            while sent != (len(heard.on(METER_CONFIG)), len(heard.on(GATEWAY_CONFIG))):
                sent = len(heard.on(METER_CONFIG)), len(heard.on(GATEWAY_CONFIG))
                await asyncio.sleep(1.0)
            assert delays == []
            await asyncio.to_thread(home_assistant_says, "offline")  # its Last Will
            await asyncio.sleep(0.5)
            assert (len(heard.on(METER_CONFIG)), len(heard.on(GATEWAY_CONFIG))) == sent
            await asyncio.to_thread(home_assistant_says, "online")
            await heard.wait_topic(METER_CONFIG, count=sent[0] + 1)
            await heard.wait_topic(GATEWAY_CONFIG, count=sent[1] + 1)
    assert len(delays) == 1
    assert 1.0 <= delays[0] <= 10.0
    assert heard.last(METER_CONFIG).json() == heard.on(METER_CONFIG)[sent[0] - 1].json()


async def test_a_silent_meter_goes_unavailable_while_the_gateway_stays_online(
    broker: Mosquitto,
) -> None:
    with Listener(broker.port) as heard:
        async with (
            publishing(broker) as publisher,
            meter_feeding(publisher.feed(PERIODS)) as run,
        ):
            await heard.wait_topic(TOPICS.present(SERIAL))
            run.port.latch_up()  # NoLinkControl cannot power-cycle it: silent for good
            (offline,) = await heard.wait_for(
                lambda m: m.topic == TOPICS.availability(SERIAL) and m.payload == b"offline",
                within_s=15,
            )
            await asyncio.sleep(1.0)
            assert heard.last(TOPICS.gateway_status).payload == b"online"
            link = heard.last(TOPICS.link(SERIAL)).json()
            snapshot = await retained(broker.port, ("#",))
    assert link["up"] is False
    assert "answer" in link["reason"]
    assert snapshot[TOPICS.availability(SERIAL)] == b"offline"
    late = [m for m in heard.on(TOPICS.present(SERIAL)) if m.at > offline.at]
    assert late == []
    # The gateway entity counts it out too.
    assert heard.last(TOPICS.gateway_state).json()["meters_online"] == 0


async def test_quarantined_readings_are_never_published(broker: Mosquitto) -> None:
    # A guard that finds every reading above 50.000 Hz implausible: about half the reads.
    limits = PlausibilityLimits(frequency_hz=(45.0, 50.0))
    settings = MeterSettings(key=KEY, limits=limits)
    with Listener(broker.port) as heard:
        async with (
            publishing(broker) as publisher,
            meter_feeding(publisher.feed(PERIODS), settings=settings) as run,
        ):
            deadline = time.monotonic() + 30
            while (
                run.poller.counters["quarantined"] < 2 or len(heard.on(TOPICS.present(SERIAL))) < 2
            ):
                assert time.monotonic() < deadline, "no mix of quarantined and good readings"
                await asyncio.sleep(0.1)
    frequencies = [m.json()["frequency"] for m in heard.on(TOPICS.present(SERIAL))]
    assert frequencies
    assert max(frequencies) <= 50.0


async def test_a_missing_register_is_absent_from_the_next_payload(broker: Mosquitto) -> None:
    """The fake poller path: export quarantined in the second read is not carried over."""
    identity = MeterIdentity("FAKE-1", "ELON", "83334-3I", "4.32.02", "4.1", 1, 4, 22, 1, "pty")
    now = datetime.now(UTC)

    def energy(**wh: int) -> EnergyReading:
        values = Measurements.of(Measurement.of(SOURCES_BY_NAME[k], v) for k, v in wh.items())
        return EnergyReading("FAKE-1", values, now, None)

    with Listener(broker.port) as heard:
        async with publishing(broker) as publisher:
            assert await wait(lambda: publisher.connected)
            emit = publisher.feed(PERIODS)
            emit(LinkStatus(None, True, "meter answers"))
            emit(identity)
            emit(energy(energy_import=1000, energy_export=2000))
            emit(energy(energy_import=1001))
            first, second = await heard.wait_topic(TOPICS.energy("FAKE-1"), count=2)
    assert first.json() == {"energy_import": 1.0, "energy_export": 2.0, "ts": first.json()["ts"]}
    assert set(second.json()) == {"energy_import", "ts"}
    assert second.payload.startswith(b'{"energy_import":1.001,')
    # The entity stays announced; HA shows it as unknown until the register passes again.
    assert "energy_export" in heard.last("homeassistant/device/mepd_FAKE-1/config").json()["cmps"]


async def test_a_new_value_name_resends_the_device_config(broker: Mosquitto) -> None:
    identity = MeterIdentity("FAKE-2", "NES", "83331-3I", "3.72.05", "3.1", None, 11, 55, 1, "pty")
    config = "homeassistant/device/mepd_FAKE-2/config"

    def present(**raw: int) -> PresentReading:
        values = Measurements.of(Measurement.of(SOURCES_BY_NAME[k], v) for k, v in raw.items())
        return PresentReading("FAKE-2", values, datetime.now(UTC), None)

    with Listener(broker.port) as heard:
        async with publishing(broker) as publisher:
            assert await wait(lambda: publisher.connected)
            emit = publisher.feed(PERIODS)
            emit(identity)
            emit(present(power_import=100))
            emit(present(power_import=101))
            emit(present(power_import=102, voltage_l1=230000))
            await heard.wait_topic(TOPICS.present("FAKE-2"), count=3)
            await asyncio.sleep(0.2)
    documents = [m.json()["cmps"] for m in heard.on(config)]
    assert [sorted(set(d) - {"link", "auth_problem"}) for d in documents] == [
        [],
        ["power_import"],
        ["power_import", "voltage_l1"],
    ]


async def test_a_clean_stop_says_offline_and_keeps_the_configs(broker: Mosquitto) -> None:
    async with publishing(broker) as publisher, meter_feeding(publisher.feed(PERIODS)):
        with Listener(broker.port) as heard:
            await heard.wait_topic(TOPICS.present(SERIAL))
    # publishing() has stopped the publisher (and meter_feeding the poller).
    snapshot = await retained(broker.port, ("#",))
    assert snapshot[TOPICS.gateway_status] == b"offline"
    assert snapshot[TOPICS.availability(SERIAL)] == b"offline"
    assert {METER_CONFIG, GATEWAY_CONFIG} <= set(snapshot)  # never deleted on shutdown
    assert "Client mepd-10000000cafe0001 disconnected." in broker.log()  # clean, not a Will


async def test_feeding_never_waits_for_a_broker(tmp_path: Any) -> None:
    from tests.mosquitto import free_port

    settings = settings_for(Mosquitto(tmp_path, port=free_port()))
    publisher = Publisher(settings, DISCOVERY, GATEWAY)
    started = time.monotonic()
    await publisher.start()
    emit = publisher.feed(PERIODS)
    identity = MeterIdentity("FAKE-3", "ELON", "m", "4.0.0", "1.0", 1, 4, 22, 1, "pty")
    emit(identity)
    emit(LinkStatus("FAKE-3", False, "meter does not answer"))
    assert time.monotonic() - started < 0.5
    assert await wait(lambda: publisher.problem is not None)
    assert "connection refused" in str(publisher.problem)
    assert not publisher.connected
    await publisher.stop()


async def wait(condition: Any, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True
