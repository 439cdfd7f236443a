"""Topic names and ids: stable, serial-based, safe for MQTT and Home Assistant."""

from __future__ import annotations

import socket

import pytest

from mepd.publish.topics import (
    Topics,
    discovery_topic,
    entity_slug,
    gateway_device_id,
    meter_device_id,
    topic_id,
)


@pytest.mark.parametrize(
    ("serial", "safe"),
    [
        ("SIM-GEN4-0001", "SIM-GEN4-0001"),
        ("0000041234567890", "0000041234567890"),
        ("A/B+#C", "A_B__C"),  # MQTT wildcards and levels never leak into a topic
        (" 12 34 ", "12_34"),
        ("Zähler.7", "Z_hler_7"),
        ("", "_"),
    ],
)
def test_serials_are_sanitised_for_topics_and_ids(serial: str, safe: str) -> None:
    assert topic_id(serial) == safe
    assert meter_device_id(serial) == f"mepd_{safe}"


def test_entity_slugs_are_lower_case_and_underscored() -> None:
    assert entity_slug("SIM-GEN4-0001") == "sim_gen4_0001"
    assert entity_slug("10000000CAFE") == "10000000cafe"


def test_the_layout() -> None:
    topics = Topics("mepd", "10000000cafe0001")
    assert topics.gateway_status == "mepd/gateway/10000000cafe0001/status"
    assert topics.gateway_state == "mepd/gateway/10000000cafe0001/state"
    assert topics.availability("SIM-1") == "mepd/meter/SIM-1/availability"
    assert topics.link("SIM-1") == "mepd/meter/SIM-1/link"
    assert topics.present("SIM-1") == "mepd/meter/SIM-1/present"
    assert topics.energy("SIM-1") == "mepd/meter/SIM-1/energy"
    assert topics.diagnostics("SIM-1") == "mepd/meter/SIM-1/diagnostics"
    assert topics.present("a/b") == "mepd/meter/a_b/present"
    assert discovery_topic("homeassistant", meter_device_id("SIM-1")) == (
        "homeassistant/device/mepd_SIM-1/config"
    )
    assert gateway_device_id("10000000cafe0001") == "mepd_gateway_10000000cafe0001"


def test_no_topic_carries_the_hostname() -> None:
    topics = Topics("mepd", "10000000cafe0001")
    names = [topics.gateway_status, topics.gateway_state, topics.present("SIM-1")]
    hostname = socket.gethostname()
    assert all(hostname not in name for name in names)
