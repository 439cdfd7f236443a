"""A wrong key at first start: no serial is ever learned, yet Home Assistant shows the meter's
problem, on the gateway, under the meter's configured name."""

from __future__ import annotations

import pytest

from mepd.protocol import MepKey
from mepd.publish.discovery import meter_problem_key
from mepd.publish.publisher import Publisher
from mepd.settings import MeterSettings
from tests.mosquitto import Listener, Mosquitto
from tests.publish.conftest import DISCOVERY, GATEWAY, PERIODS, settings_for
from tests.publish.simulated import meter_feeding
from tests.publish.test_publisher import GATEWAY_CONFIG, TOPICS

KEY_PROBLEM = meter_problem_key("mep0")


@pytest.mark.asyncio
async def test_a_wrong_key_at_first_start_shows_on_the_gateway_under_the_meters_name(
    broker: Mosquitto,
) -> None:
    wrong = MeterSettings(key=MepKey.parse("THIS-IS-NOT-THE-KEY!"), security="rc4")
    publisher = Publisher(settings_for(broker), DISCOVERY, GATEWAY)
    with Listener(broker.port) as heard:
        await publisher.start()
        try:
            async with meter_feeding(publisher.feed(PERIODS, "mep0"), settings=wrong):
                (state,) = await heard.wait_for(
                    lambda m: (
                        m.topic == TOPICS.gateway_state
                        and m.json().get(KEY_PROBLEM, "").startswith("key rejected")
                    ),
                    within_s=30,
                )
        finally:
            await publisher.stop()
    config = heard.last(GATEWAY_CONFIG).json()
    entity = config["cmps"][KEY_PROBLEM]
    assert entity["name"] == "Meter mep0 problem"
    assert entity["state_topic"] == TOPICS.gateway_state
    assert KEY_PROBLEM in entity["value_template"]
    assert state.json()["meters_online"] == 0
    assert "THIS-IS" not in state.payload.decode()
