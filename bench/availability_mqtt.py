"""Broker restarts and Home Assistant births, in real time against a real Mosquitto.

The publisher and a poller reading a simulated meter over a pty, as `mepd run` wires them
(the default reconnect settings: 1 s doubling to 120 s). Figures from a subscriber's view.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.publish as paho_publish

from mepd.drivers.gpio import NoLinkControl
from mepd.drivers.serial import SerialPort
from mepd.drivers.simulator.driver import PtyMeter
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.profiles import PROFILES
from mepd.engine.poller import Poller
from mepd.protocol import MepKey
from mepd.publish.catalog import PRESENT
from mepd.publish.discovery import ReadPeriods
from mepd.publish.gateway import GatewayInfo
from mepd.publish.publisher import Publisher
from mepd.publish.topics import Topics
from mepd.settings import DiscoverySettings, MeterSettings, MqttSettings, Schedule
from tests.mosquitto import Listener, Message, Mosquitto

try:  # trees since the birth flood fix answer HA's birth at most once a minute
    from mepd.publish.ha_births import REDISCOVERY_MIN_INTERVAL_S

    BIRTHS_APART_S = REDISCOVERY_MIN_INTERVAL_S + 1.0
except ImportError:
    BIRTHS_APART_S = 5.0

GATEWAY = GatewayInfo(gateway_id="10000000cafe0001", model="bench")
SERIAL = PROFILES["gen4"].utility_serial
TOPICS = Topics("mepd", GATEWAY.gateway_id)
# The topics entities read; a tree with pieces (issue 19) has the power entities on their own.
ENTITY_TOPICS = (
    TOPICS.present(SERIAL),
    *sorted({TOPICS.meter(SERIAL, spec.topic) for spec in PRESENT} - {TOPICS.present(SERIAL)}),
    TOPICS.energy(SERIAL),
    TOPICS.diagnostics(SERIAL),
    TOPICS.gateway_state,
)


@asynccontextmanager
async def _daemon(broker: Mosquitto) -> AsyncIterator[float]:
    settings = MqttSettings(host="127.0.0.1", port=broker.port, keepalive_s=5)
    publisher = Publisher(settings, DiscoverySettings(), GATEWAY)
    started = time.monotonic()
    await publisher.start()
    port = simulated_meter(PROFILES["gen4"], epoch=time.monotonic(), start_wall=time.time())
    try:
        async with PtyMeter(port) as pty:
            schedule = Schedule()
            poller = Poller(
                MeterSettings(key=MepKey.parse(DEMO_MBK)),
                SerialPort(pty.path),
                NoLinkControl(),
                publisher.feed(ReadPeriods(schedule.present_s, schedule.energy_s)),
            )
            task = asyncio.create_task(poller.run())
            try:
                yield started
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    finally:
        await publisher.stop()


def _after(topic: str, moment: float) -> Callable[[Message], bool]:
    return lambda message: message.topic == topic and message.at > moment


def _broker(directory: str) -> Mosquitto:
    broker = Mosquitto(Path(directory) / "broker")
    broker.start()
    return broker


def broker_restart(rounds: int = 3, outage_s: float = 10.0) -> dict[str, Any]:
    """The broker is away for 10 s: from its restart to the first power value."""

    async def scenario(broker: Mosquitto) -> list[float]:
        firsts = []
        async with _daemon(broker):
            with Listener(broker.port) as heard:
                await heard.wait_topic(TOPICS.present(SERIAL), within_s=20)
            for _ in range(rounds):
                await asyncio.sleep(3.0)
                broker.stop()
                await asyncio.sleep(outage_s)
                broker.start()
                back = time.monotonic()
                with Listener(broker.port) as after:
                    (first,) = await after.wait_topic(TOPICS.present(SERIAL), within_s=60)
                firsts.append(first.at - back)
        return firsts

    with tempfile.TemporaryDirectory() as directory:
        broker = _broker(directory)
        try:
            firsts = asyncio.run(scenario(broker))
        finally:
            broker.stop()
    return {"first_value_s": [round(f, 2) for f in firsts], "max_s": round(max(firsts), 2)}


def ha_birth(rounds: int = 3) -> dict[str, Any]:
    """From mepd's start to diagnostics carrying the clock offset; and from each HA birth
    (`online` on homeassistant/status) until every entity topic has had a value."""

    async def scenario(broker: Mosquitto) -> dict[str, Any]:
        births = []
        with Listener(broker.port) as early:
            async with _daemon(broker) as started:
                (diag,) = await early.wait_for(
                    lambda m: (
                        m.topic == TOPICS.diagnostics(SERIAL) and "clock_offset_s" in m.json()
                    ),
                    within_s=90,
                )
                clock_known = diag.at - started
                await asyncio.sleep(20.0)
                for _ in range(rounds):
                    with Listener(broker.port) as heard:
                        await asyncio.to_thread(
                            paho_publish.single,
                            "homeassistant/status",
                            "online",
                            hostname="127.0.0.1",
                            port=broker.port,
                        )
                        born = time.monotonic()
                        waits = []
                        for topic in ENTITY_TOPICS:
                            found = await heard.wait_for(_after(topic, born), within_s=90)
                            waits.append(found[0].at - born)
                    births.append(max(waits))
                    # Home Assistant is born once per start: mepd answers once a minute.
                    await asyncio.sleep(BIRTHS_APART_S)
        return {
            "clock_offset_known_s": round(clock_known, 2),
            "every_entity_after_birth_s": [round(b, 2) for b in births],
            "max_s": round(max(births), 2),
        }

    with tempfile.TemporaryDirectory() as directory:
        broker = _broker(directory)
        try:
            return asyncio.run(scenario(broker))
        finally:
            broker.stop()
