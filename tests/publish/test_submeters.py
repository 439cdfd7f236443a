"""M-Bus sub-meters in Home Assistant: a device each, via the electricity meter, with
Energy-dashboard entities (gas m³ / water m³ / heat kWh or GJ, `total_increasing`)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from mepd.publish.catalog import SubMeterKey
from mepd.publish.discovery import sub_meter_config
from mepd.publish.meter_state import MeterState
from mepd.publish.payloads import stamped, sub_meter_fields
from mepd.publish.submeters import SubMeterPublisher
from mepd.publish.topics import Topics, meter_device_id, sub_meter_device_id
from mepd.readings import (
    LinkStatus,
    MBusUnit,
    MediumKind,
    MeterIdentity,
    Quantity,
    SubMeterIdentity,
    SubMeterReading,
    SubMeterValue,
)
from mepd.settings import DiscoverySettings
from tests.mosquitto import Listener, Mosquitto, retained
from tests.publish.conftest import GATEWAY, PERIODS
from tests.publish.ha_rules import config_problems
from tests.publish.test_publisher import publishing, wait

SERIAL = "SIM-GEN4-0001"
TOPICS = Topics("mepd", GATEWAY.gateway_id)
GAS = SubMeterIdentity(SERIAL, 1, "12345678", "ELS", 0x33, 0x03)
WATER = SubMeterIdentity(SERIAL, 2, "87654321", "KAM", 0x1B, 0x07)
HEAT = SubMeterIdentity(SERIAL, 3, "11223344", "KAM", 0x0A, 0x04)
READ = datetime(2026, 12, 6, 4, 0, 30, tzinfo=UTC)
M3, KWH, GJ = MBusUnit.CUBIC_METRE, MBusUnit.KILOWATT_HOUR, MBusUnit.GIGAJOULE

# (device, registers) -> what Home Assistant must get for each register: (device class, unit)
CASES = [
    (GAS, {Quantity.VOLUME: M3}, {SubMeterKey.VOLUME: ("gas", "m³")}),
    (WATER, {Quantity.VOLUME: M3}, {SubMeterKey.VOLUME: ("water", "m³")}),
    (
        HEAT,
        {Quantity.ENERGY: GJ, Quantity.VOLUME: M3},
        {SubMeterKey.ENERGY: ("energy", "GJ"), SubMeterKey.VOLUME: ("volume", "m³")},
    ),
    (
        SubMeterIdentity(SERIAL, 4, "00000001", "ABB", 1, 0x02),
        {Quantity.ENERGY: KWH},
        {SubMeterKey.ENERGY: ("energy", "kWh")},
    ),
]


@pytest.mark.parametrize(("identity", "registers", "expected"), CASES)
def test_each_sub_meter_is_a_device_via_the_meter_ready_for_the_energy_dashboard(
    identity: SubMeterIdentity,
    registers: dict[Quantity, MBusUnit],
    expected: dict[SubMeterKey, tuple[str, str]],
) -> None:
    config = sub_meter_config(identity, registers, topics=TOPICS)
    assert config_problems(config) == []
    device = config["dev"]
    assert device["identifiers"] == [sub_meter_device_id(identity.key)]
    assert identity.key == identity.manufacturer + identity.mbus_id
    assert device["via_device"] == meter_device_id(SERIAL)
    assert device["serial_number"] == identity.mbus_id
    assert device["manufacturer"] == identity.manufacturer
    assert config["availability"] == [{"topic": TOPICS.gateway_status}]
    components = config["cmps"]
    assert set(components) == {*expected, SubMeterKey.READ_AT}
    for key, (device_class, unit) in expected.items():
        component = components[key]
        assert (component["device_class"], component["unit_of_measurement"]) == (device_class, unit)
        assert component["state_class"] == "total_increasing"
        assert component["state_topic"] == TOPICS.mbus(SERIAL, identity.key)
        assert "expire_after" not in component  # hourly reads of the past never go stale
    assert components[SubMeterKey.READ_AT]["device_class"] == "timestamp"


def test_the_kinds_name_the_devices() -> None:
    names = {
        identity.kind: sub_meter_config(identity, {}, topics=TOPICS)["dev"]["name"]
        for identity, _, _ in CASES
    }
    assert names[MediumKind.GAS] == "Gas meter 12345678"
    assert names[MediumKind.WATER] == "Water meter 87654321"
    assert names[MediumKind.HEAT] == "Heat meter 11223344"


def test_the_payload_carries_the_registers_exactly_and_the_read_time() -> None:
    reading = SubMeterReading(
        SERIAL,
        GAS.key,
        READ,
        (
            SubMeterValue(Quantity.VOLUME, Decimal("1234.560"), M3),
            SubMeterValue(Quantity.VOLUME, Decimal("9.999"), M3),  # a second one: not the main
            SubMeterValue(Quantity.POWER, Decimal("12"), MBusUnit.WATT),  # no register
        ),
    )
    payload = stamped(sub_meter_fields(reading), READ)
    assert b'"volume":1234.560' in payload
    assert json.loads(payload) == {
        "volume": 1234.56,
        "read_at": "2026-12-06T04:00:30.000+00:00",
        "ts": "2026-12-06T04:00:30.000+00:00",
    }


@pytest.mark.asyncio
async def test_sub_meters_are_announced_and_their_reads_published(broker: Mosquitto) -> None:
    identity = MeterIdentity(SERIAL, "NES", "83331-3I", "3.72.05", "3.1", 1, 11, 55, 1, "pty")
    gas_config = f"homeassistant/device/{sub_meter_device_id(GAS.key)}/config"
    gas_state = TOPICS.mbus(SERIAL, GAS.key)
    reading = SubMeterReading(
        SERIAL, GAS.key, READ, (SubMeterValue(Quantity.VOLUME, Decimal("1234.567"), M3),)
    )
    with Listener(broker.port) as heard:
        async with publishing(broker) as publisher:
            assert await wait(lambda: publisher.connected)
            emit = publisher.feed(PERIODS)
            emit(SubMeterIdentity(SERIAL, 1, "99999999", "XYZ", 1, 3))  # no meter yet: dropped
            emit(LinkStatus(None, True, "meter answers"))
            emit(identity)
            emit(reading)  # before the engine said who it is: dropped
            emit(GAS)
            emit(reading)
            assert await wait(lambda: heard.on(gas_state) and heard.on(gas_config))
    stored = await retained(broker.port, ("homeassistant/#",))
    config = json.loads(stored[gas_config])
    assert config_problems(config) == []
    assert config["cmps"][SubMeterKey.VOLUME]["device_class"] == "gas"
    [state] = heard.on(gas_state)
    assert state.payload.startswith(b'{"volume":1234.567,"read_at":"2026-12-06T04:00:30.000+00:00"')
    assert not any("99999999" in m.topic for m in heard.messages)


def test_the_entities_come_with_the_identity_and_stay_across_a_restart() -> None:
    """A device's registers are announced from its identity (ET16's telegram), so a restarted
    publisher never sends a config without them while the next read is an hour away."""
    sent: dict[str, bytes] = {}

    def keep(topic: str, payload: bytes) -> int:
        sent[topic] = payload
        return 1

    meter = MeterState(
        MeterIdentity(SERIAL, "NES", "m", "f", "h", 1, 11, 55, 1, "pty"), PERIODS, READ
    )
    subs = SubMeterPublisher(
        TOPICS,
        DiscoverySettings(),
        set_status=keep,
        send=lambda *_, **__: None,
        announced=lambda: None,
        clock=lambda: READ,
    )
    subs.on(meter, replace(GAS, registers=((Quantity.VOLUME, M3),)))
    config = json.loads(sent[f"homeassistant/device/{sub_meter_device_id(GAS.key)}/config"])
    assert config["cmps"][SubMeterKey.VOLUME]["device_class"] == "gas"
    subs.on(meter, GAS)  # told again without registers (an encrypted read): they stay
    config = json.loads(sent[f"homeassistant/device/{sub_meter_device_id(GAS.key)}/config"])
    assert SubMeterKey.VOLUME in config["cmps"]
