"""Discovery documents: what Home Assistant accepts, availability, ids, templates, expiry."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from mepd import __version__
from mepd.publish.catalog import DIAGNOSTICS, ENERGY, LINK, PRESENT
from mepd.publish.discovery import (
    ReadPeriods,
    expire_after,
    gateway_config,
    is_mepd_config,
    meter_config,
    value_template,
)
from mepd.publish.gateway import GatewayInfo
from mepd.publish.topics import Topics
from mepd.readings import MeterIdentity
from tests.publish.conftest import PERIODS
from tests.publish.ha_rules import config_problems, effective_availability

GATEWAY = GatewayInfo(gateway_id="10000000cafe0001", model="Raspberry Pi 4 Model B Rev 1.4")
TOPICS = Topics("mepd", GATEWAY.gateway_id)
IDENTITY = MeterIdentity(
    serial="SIM-GEN4-0001",
    manufacturer="ELON",
    model="83334-3I",
    firmware="4.32.02",
    hardware="4.1",
    channel=1,
    summations=19,
    present_values=84,
    idt_version=1,
    port="/dev/ttyAMA0",
)
EVERY_NAME = {spec.key for spec in (*PRESENT, *ENERGY, *DIAGNOSTICS)}


def full_meter(periods: ReadPeriods | None = None, names: set[str] | None = None) -> dict[str, Any]:
    return meter_config(
        IDENTITY,
        EVERY_NAME if names is None else names,
        topics=TOPICS,
        gateway=GATEWAY,
        periods=periods or PERIODS,
    )


def every_document() -> list[dict[str, Any]]:
    return [full_meter(), full_meter(names=set()), gateway_config(GATEWAY, TOPICS)]


@pytest.mark.parametrize("document", every_document(), ids=["meter", "bare-meter", "gateway"])
def test_every_document_passes_home_assistants_rules(document: dict[str, Any]) -> None:
    assert config_problems(document) == []
    # ... and survives a JSON round trip unchanged (no sets, no datetimes).
    assert json.loads(json.dumps(document)) == document


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"unit_of_measurement": "kWh"}, "unit 'kWh' not accepted for power"),
        ({"state_class": "total_increasing"}, "state_class 'total_increasing' not for power"),
        ({"object_id": "x"}, "object_id"),
        ({"default_entity_id": "sensor.Mepd-X"}, "default_entity_id"),
        ({"device_class": "wattage"}, "not in the table"),
    ],
)
def test_the_rules_catch_what_home_assistant_rejects(change: dict[str, str], problem: str) -> None:
    broken = copy.deepcopy(full_meter())
    broken["cmps"]["power_import"].update(change)
    assert any(problem in line for line in config_problems(broken))


def test_energy_sensors_are_fit_for_the_energy_dashboard() -> None:
    components = full_meter()["cmps"]
    for key in ("energy_import", "energy_export"):
        energy = components[key]
        assert energy["device_class"] == "energy"
        assert energy["unit_of_measurement"] == "kWh"
        assert energy["state_class"] == "total_increasing"
        assert energy["suggested_display_precision"] in (1, 2, 3)
        assert energy.get("enabled_by_default", True)


def test_units_and_classes_are_fixed() -> None:
    components = full_meter()["cmps"]
    expected = {
        "power_import": ("power", "W"),
        "power_export_l2": ("power", "W"),
        "voltage_l1": ("voltage", "V"),
        "current_l3": ("current", "A"),
        "frequency": ("frequency", "Hz"),
        "reactive_power_import": ("reactive_power", "var"),
        "apparent_power": ("apparent_power", "VA"),
        "power_factor_l1": ("power_factor", None),  # a ratio 0..1, matching the payload
        "clock_offset_s": ("duration", "s"),
        "last_success": ("timestamp", None),
    }
    for key, (device_class, unit) in expected.items():
        assert components[key]["device_class"] == device_class, key
        assert components[key].get("unit_of_measurement") == unit, key


def test_per_phase_and_reactive_entities_start_disabled() -> None:
    components = full_meter()["cmps"]
    for key, component in components.items():
        per_phase = re.search(r"_l[123]$", key) or key == "current_neutral"
        if per_phase or key.startswith("reactive_"):
            assert component["enabled_by_default"] is False, key
    for key in ("power_import", "power_export", "energy_import", "frequency"):
        assert "enabled_by_default" not in components[key], key


def test_measurements_need_gateway_and_meter_diagnostics_only_the_gateway() -> None:
    config = full_meter()
    gateway, meter = TOPICS.gateway_status, TOPICS.availability(IDENTITY.serial)
    for spec in (*PRESENT, *ENERGY):
        assert effective_availability(config, spec.key) == ([gateway, meter], "all"), spec.key
    for spec in (*DIAGNOSTICS, *LINK):
        topics, _ = effective_availability(config, spec.key)
        assert topics == [gateway], spec.key
        assert config["cmps"][spec.key]["entity_category"] == "diagnostic"
    for key in gateway_config(GATEWAY, TOPICS)["cmps"]:
        assert effective_availability(gateway_config(GATEWAY, TOPICS), key)[0] == [gateway]


def test_link_and_key_problem_entities() -> None:
    components = full_meter(names=set())["cmps"]
    assert set(components) == {"link", "auth_problem"}  # announced before any reading
    link = components["link"]
    assert link["p"] == "binary_sensor"
    assert link["device_class"] == "connectivity"
    assert link["state_topic"] == TOPICS.availability(IDENTITY.serial)
    assert (link["payload_on"], link["payload_off"]) == ("online", "offline")
    assert link["json_attributes_topic"] == TOPICS.link(IDENTITY.serial)
    problem = components["auth_problem"]
    assert problem["device_class"] == "problem"
    assert problem["state_topic"] == TOPICS.link(IDENTITY.serial)


def test_only_reported_values_are_announced() -> None:
    names = {"power_import", "energy_import", "timeouts"}
    components = full_meter(names=names)["cmps"]
    assert set(components) == names | {"link", "auth_problem"}


def test_devices_and_origin() -> None:
    meter = full_meter()
    assert meter["dev"] == {
        "identifiers": ["mepd_SIM-GEN4-0001"],
        "name": "Electricity meter SIM-GEN4-0001",
        "manufacturer": "Echelon",
        "model": "83334-3I",
        "sw_version": "4.32.02",
        "hw_version": "4.1",
        "serial_number": "SIM-GEN4-0001",
        "via_device": "mepd_gateway_10000000cafe0001",
    }
    assert meter["o"] == {"name": "mepd", "sw_version": __version__}
    gateway = gateway_config(GATEWAY, TOPICS)
    assert gateway["dev"]["identifiers"] == ["mepd_gateway_10000000cafe0001"]
    assert gateway["dev"]["sw_version"] == __version__
    assert gateway["dev"]["model"] == "Raspberry Pi 4 Model B Rev 1.4"
    assert gateway["o"]["name"] == "mepd"


def test_entity_ids_come_from_the_serial() -> None:
    components = full_meter()["cmps"]
    assert (
        components["power_import"]["default_entity_id"] == "sensor.mepd_sim_gen4_0001_power_import"
    )
    assert components["link"]["default_entity_id"] == "binary_sensor.mepd_sim_gen4_0001_link"
    assert components["power_import"]["unique_id"] == "mepd_SIM-GEN4-0001_power_import"
    gateway = gateway_config(GATEWAY, TOPICS)["cmps"]
    assert gateway["started"]["default_entity_id"] == "sensor.mepd_gateway_10000000cafe0001_started"


@pytest.mark.parametrize(
    ("present_s", "energy_s", "present_window", "energy_window"),
    [(1.5, 15.0, 15, 60), (10.0, 60.0, 40, 240), (1.0, 3.0, 15, 15)],
)
def test_expire_after_follows_the_schedule(
    present_s: float, energy_s: float, present_window: int, energy_window: int
) -> None:
    components = full_meter(ReadPeriods(present_s=present_s, energy_s=energy_s))["cmps"]
    assert components["power_import"]["expire_after"] == present_window
    assert components["energy_import"]["expire_after"] == energy_window
    assert "expire_after" not in components["timeouts"]  # diagnostics: no window
    assert expire_after(present_s) > 2 * present_s  # a late read is not an expiry


def test_templates_turn_a_missing_key_into_none_not_a_number() -> None:
    template = value_template("voltage_l1")
    assert template == "{{ value_json['voltage_l1'] if 'voltage_l1' in value_json else 'None' }}"
    for component in full_meter()["cmps"].values():
        if "value_template" in component:
            assert "else 'None'" in component["value_template"]
            assert "|" not in component["value_template"]  # no filters that invent a default


def _render(template: str, payload: dict[str, Any]) -> str:
    """A stand-in for HA's Jinja rendering of our one template shape."""
    match = re.fullmatch(
        r"\{\{ value_json\['(\w+)'\] if '(\w+)' in value_json else 'None' \}\}", template
    )
    assert match
    assert match[1] == match[2]
    return str(payload[match[1]]) if match[1] in payload else "None"


def test_a_rendered_missing_value_is_none() -> None:
    template = full_meter()["cmps"]["energy_export"]["value_template"]
    assert _render(template, {"energy_import": 1.0, "ts": "x"}) == "None"
    assert _render(template, {"energy_export": 2.5}) == "2.5"


def test_mepd_configs_are_recognised_and_others_are_not() -> None:
    assert is_mepd_config(full_meter())
    assert is_mepd_config(gateway_config(GATEWAY, TOPICS))
    foreign = {"dev": {"identifiers": ["zigbee_1"]}, "o": {"name": "Zigbee2MQTT"}, "cmps": {}}
    assert not is_mepd_config(foreign)
    impostor = {"dev": {"identifiers": ["zigbee_1"]}, "o": {"name": "mepd"}, "cmps": {}}
    assert not is_mepd_config(impostor)
    assert not is_mepd_config(["not", "a", "document"])
