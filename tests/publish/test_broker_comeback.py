"""A restarted broker gets the first value within 3 s of accepting connections again."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from mepd.publish.client import FAST_RETRY_CAP_S, MqttConnection
from mepd.publish.publisher import Publisher
from mepd.settings import MqttSettings
from tests.mosquitto import Listener, Mosquitto
from tests.publish.conftest import DISCOVERY, GATEWAY, PERIODS
from tests.publish.simulated import meter_feeding
from tests.publish.test_publisher import TOPICS

SERIAL = "SIM-GEN4-0001"


def test_the_first_minutes_of_an_outage_retry_at_most_every_2_s_with_jitter() -> None:
    connection = MqttConnection(MqttSettings(), "mepd-test", rng=random.Random(3))
    draws = [connection.retry_delay(n, fast=True) for n in range(40)]
    assert max(draws) <= FAST_RETRY_CAP_S * 1.2
    assert len(set(draws)) > 30  # jittered: gateways do not return in step
    assert connection.retry_delay(40) >= 0.8 * 120  # afterwards the usual doubling


@pytest.mark.asyncio
async def test_the_first_value_comes_within_3_s_of_a_broker_restart(broker: Mosquitto) -> None:
    # The default reconnect settings (1 s doubling to 120 s), not the tests' fast ones.
    settings = MqttSettings(host="127.0.0.1", port=broker.port, keepalive_s=5)
    publisher = Publisher(settings, DISCOVERY, GATEWAY)
    await publisher.start()
    try:
        async with meter_feeding(publisher.feed(PERIODS)):
            with Listener(broker.port) as heard:
                await heard.wait_topic(TOPICS.present(SERIAL), within_s=10)
            broker.stop()
            await asyncio.sleep(8.0)  # the backoff used to reach 8 s by now
            broker.start()
            back = time.monotonic()
            with Listener(broker.port) as after:
                await after.wait_topic(TOPICS.present(SERIAL), within_s=20)
                first = time.monotonic() - back
    finally:
        await publisher.stop()
    assert first <= 3.0
