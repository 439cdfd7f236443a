"""A piece of BT28 (the power piece of a noisy line) has its own topic: it updates the power
entities and blanks no other one; discovery points the power entities at that topic."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from mepd.protocol.tables import SOURCES_BY_NAME, Measurement, Measurements
from mepd.publish.catalog import PRESENT
from mepd.publish.discovery import expire_after
from mepd.publish.payloads import present_messages, stamped
from mepd.readings import PIECES, Piece, PresentReading, ValueName
from tests.publish.conftest import PERIODS
from tests.publish.test_discovery import IDENTITY, TOPICS, _render, full_meter

AT = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
SERIAL = IDENTITY.serial


def _reading(piece: Piece | None = None, **raw: int) -> PresentReading:
    values = Measurements.of(
        Measurement.of(SOURCES_BY_NAME[name], value) for name, value in raw.items()
    )
    return PresentReading(SERIAL, values, AT, None, piece)


class HomeAssistant:
    """The entities' states as Home Assistant's MQTT sensors would hold them: each renders
    the messages on its own state topic (our one template shape) and nothing else."""

    def __init__(self) -> None:
        self.components = full_meter()["cmps"]
        self.states: dict[str, str] = {}

    def receive(self, leaf: str, payload: bytes) -> None:
        topic = TOPICS.meter(SERIAL, leaf)
        document = json.loads(payload)
        for key, component in self.components.items():
            if component["state_topic"] == topic and "value_template" in component:
                self.states[key] = _render(component["value_template"], document)

    def feed(self, reading: PresentReading) -> None:
        for leaf, fields in present_messages(reading).items():
            self.receive(leaf, stamped(fields, reading.host_time))


def test_the_power_entities_read_the_pieces_topic_with_the_present_freshness() -> None:
    components: dict[str, Any] = full_meter()["cmps"]
    for name in PIECES[Piece.POWER]:
        assert components[name]["state_topic"] == TOPICS.meter(SERIAL, Piece.POWER)
        assert components[name]["expire_after"] == expire_after(PERIODS.present_s)
    assert components[ValueName.FREQUENCY]["state_topic"] == TOPICS.present(SERIAL)


def test_the_catalog_topics_are_the_pieces() -> None:
    pieced = {spec.key: spec.topic for spec in PRESENT if spec.topic != "present"}
    assert pieced == {name: piece.value for piece, names in PIECES.items() for name in names}


def test_a_whole_table_feeds_present_and_the_piece_topic() -> None:
    messages = present_messages(_reading(power_import=1500, power_export=0, frequency=50010))
    assert set(messages) == {"present", "power"}
    assert set(messages["present"]) == {"power_import", "power_export", "frequency"}
    assert set(messages["power"]) == {"power_import", "power_export"}


def test_a_piece_blanks_no_other_entity() -> None:
    ha = HomeAssistant()
    ha.feed(_reading(power_import=1500, power_export=0, frequency=50010, apparent_power=1600))
    assert ha.states["frequency"] == "50.01"
    ha.feed(_reading(Piece.POWER, power_import=1700, power_export=0))
    assert ha.states["power_import"] == "1700"
    assert ha.states["frequency"] == "50.01"  # not "None": the piece is not on its topic
    assert ha.states["apparent_power"] == "1600"
    # A piece carries only its own values, whatever the reading held.
    assert set(present_messages(_reading(Piece.POWER, power_import=1, frequency=50000))) == {
        "power"
    }
    assert present_messages(_reading(Piece.POWER, power_import=1, frequency=50000))["power"] == {
        "power_import": 1
    }
