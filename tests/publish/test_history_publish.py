"""Intervals and the month's peak on MQTT: payload shapes, discovery, and the delivery receipt."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from mepd.protocol.tables import SOURCES_BY_NAME, Measurement, Measurements
from mepd.publish import Publisher
from mepd.publish.catalog import Key
from mepd.publish.discovery import meter_config
from mepd.publish.history import interval_payload, peak_payload
from mepd.publish.topics import Topics
from mepd.readings import DemandPeak, IntervalRecord, LinkStatus, MeterIdentity, Receipt
from tests.mosquitto import Listener, Mosquitto
from tests.publish.conftest import DISCOVERY, GATEWAY, PERIODS, settings_for
from tests.publish.ha_rules import config_problems

SERIAL = "SIM-GEN4-0001"
TOPICS = Topics("mepd", GATEWAY.gateway_id)
START = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
END = datetime(2026, 12, 6, 3, 15, tzinfo=UTC)
IDENTITY = MeterIdentity(SERIAL, "NES", "83334-3I", "4.30", "1.0", 1, 19, 84, 1, "/dev/x")


def _record(receipt: Receipt | None = None) -> IntervalRecord:
    values = Measurements.of(
        (
            Measurement(
                SOURCES_BY_NAME["energy_import"], 165.0, SOURCES_BY_NAME["energy_import"].unit, 165
            ),
            Measurement(
                SOURCES_BY_NAME["energy_export"], 2.5, SOURCES_BY_NAME["energy_export"].unit, 25
            ),
        )
    )
    return IntervalRecord(SERIAL, START, END, values, ("power_outage",), receipt)


def test_an_interval_payload_has_its_times_si_values_and_flags() -> None:
    assert json.loads(interval_payload(_record())) == {
        "start": "2026-12-06T03:00:00.000+00:00",
        "end": "2026-12-06T03:15:00.000+00:00",
        "values": {"energy_import": 165, "energy_export": 2.5},
        "status": ["power_outage"],
    }


def test_the_peak_payload() -> None:
    peak = DemandPeak(SERIAL, "2026-12", 2345.6, 900, START, END)
    document = json.loads(peak_payload(peak))
    assert document["demand_w"] == 2345.6
    assert document["month"] == "2026-12"
    assert document["window_s"] == 900


def test_the_interval_and_peak_entities_pass_home_assistants_rules() -> None:
    config = meter_config(
        IDENTITY,
        {Key.INTERVAL_ENERGY, Key.MONTH_PEAK_DEMAND},
        topics=TOPICS,
        gateway=GATEWAY,
        periods=PERIODS,
    )
    assert config_problems(config) == []
    interval = config["cmps"][Key.INTERVAL_ENERGY]
    assert interval["state_topic"] == TOPICS.interval(SERIAL)
    assert "values" in interval["value_template"]
    assert config["cmps"][Key.MONTH_PEAK_DEMAND]["state_topic"] == TOPICS.demand_peak(SERIAL)


@pytest.mark.asyncio
async def test_the_receipt_comes_with_the_brokers_acknowledgement(broker: Mosquitto) -> None:
    publisher = Publisher(settings_for(broker), DISCOVERY, GATEWAY)
    await publisher.start()
    try:
        assert await publisher._connection.wait_connected(5.0)
        feed = publisher.feed(PERIODS)
        delivered: list[bool] = []
        with Listener(broker.port) as heard:
            feed(_record(Receipt(lambda: delivered.append(True))))  # unknown meter: not sent
            feed(IDENTITY)
            feed(LinkStatus(SERIAL, True, "meter answers"))
            feed(_record(Receipt(lambda: delivered.append(True))))
            feed(DemandPeak(SERIAL, "2026-12", 2345.6, 900, START, END))
            (message,) = await heard.wait_topic(TOPICS.interval(SERIAL))
            await heard.wait_topic(TOPICS.demand_peak(SERIAL))
        for _ in range(50):  # the PUBACK may come after the subscriber has the message
            if delivered:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)
        assert delivered == [True]  # the one sent: the record for an unknown meter was not
        assert json.loads(message.payload)["end"] == "2026-12-06T03:15:00.000+00:00"
    finally:
        await publisher.stop()
