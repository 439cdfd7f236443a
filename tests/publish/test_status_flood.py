"""A flood of `online` on Home Assistant's status topic (issue 18, item 6).

Anyone who may publish there can send Home Assistant's birth message as often as they like.
Each one logged an INFO line and restarted the rediscovery (100,000 messages: 83,261 lines,
and the configs went out only once the flood stopped). Now a pending rediscovery absorbs the
flood, they go out at most once a minute, and the line is said once.
"""

from __future__ import annotations

import asyncio
import logging
import time

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from mepd.publish import Publisher
from mepd.publish.ha_births import REDISCOVERY_JITTER_S, REDISCOVERY_MIN_INTERVAL_S
from tests.mosquitto import Listener, Mosquitto
from tests.publish.conftest import DISCOVERY, GATEWAY, PERIODS, settings_for
from tests.publish.simulated import meter_feeding

STATUS = "homeassistant/status"
FLOOD = 20_000
# Sent again only on a reconnect or a rediscovery (a meter's config also grows with its names).
GATEWAY_CONFIG = f"homeassistant/device/mepd_gateway_{GATEWAY.gateway_id}/config"


def flood(port: int, count: int) -> None:
    sender = paho.Client(CallbackAPIVersion.VERSION2, client_id="test-flood")
    sender.max_queued_messages_set(0)
    sender.connect("127.0.0.1", port)
    sender.loop_start()
    try:
        for _ in range(count):
            sender.publish(STATUS, b"online", qos=0)
        sender.publish(STATUS, b"end", qos=1).wait_for_publish(30)
    finally:
        sender.disconnect()
        sender.loop_stop()


@pytest.mark.asyncio
async def test_a_flood_of_online_gives_one_line_and_one_rediscovery(
    broker: Mosquitto, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    delays: list[float] = []
    never = asyncio.Event()

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        if seconds > REDISCOVERY_JITTER_S[1]:
            await never.wait()  # the once-a-minute wait: not over within this test

    heard: list[bytes] = []
    handle = Publisher._on_message

    def counting(self: Publisher, topic: str, payload: bytes, retained: bool) -> None:
        heard.append(payload)
        handle(self, topic, payload, retained)

    monkeypatch.setattr(Publisher, "_on_message", counting)
    publisher = Publisher(settings_for(broker), DISCOVERY, GATEWAY, sleep=sleep)
    await publisher.start()
    try:
        with Listener(broker.port, (GATEWAY_CONFIG,)) as configs:
            async with meter_feeding(publisher.feed(PERIODS)):
                await configs.wait_topic(GATEWAY_CONFIG)
                await asyncio.sleep(0.5)
                before = len(configs.on(GATEWAY_CONFIG))
                caplog.clear()
                with caplog.at_level(logging.DEBUG, logger="mepd.publish"):
                    await asyncio.to_thread(flood, broker.port, FLOOD)
                    deadline = time.monotonic() + 30
                    while b"end" not in heard:
                        assert time.monotonic() < deadline, f"{len(heard)} of {FLOOD} heard"
                        await asyncio.sleep(0.05)
                    await asyncio.sleep(0.5)
                after = len(configs.on(GATEWAY_CONFIG))
    finally:
        await publisher.stop()
    assert heard.count(b"online") == FLOOD  # every one of them reached the publisher
    lines = [r for r in caplog.records if "back online" in r.getMessage()]
    assert len(lines) == 1, len(lines)
    assert after == before + 1  # sent again once, not once per message
    # The first answered after the jitter; the next waits for the minute to pass.
    assert REDISCOVERY_JITTER_S[0] <= delays[0] <= REDISCOVERY_JITTER_S[1]
    assert len(delays) == 2
    assert delays[1] > REDISCOVERY_MIN_INTERVAL_S - 5
