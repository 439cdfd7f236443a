"""What Home Assistant accepts in a discovery component, as a table we check every config with.

Source: home-assistant/core, homeassistant/components/sensor/const.py, `DEVICE_CLASS_UNITS`
and `DEVICE_CLASS_STATE_CLASSES` (the units are the `UnitOf...` enums of
homeassistant/const.py); power_factor accepts None since core PR #85181 ("Allow
SensorDeviceClass.POWER_FACTOR unit None"). Timestamp is a non-numeric class: no unit and no
state class. Binary sensor classes from homeassistant/components/binary_sensor/__init__.py.
Entity ids: `default_entity_id` replaced `object_id` in HA 2025.10 (object_id stops working in
2026.4). Only the classes mepd uses are listed; a class missing here fails the check.
"""

from __future__ import annotations

import re
from typing import Any

SENSOR_UNITS: dict[str, set[str | None]] = {
    "power": {"mW", "W", "kW", "MW", "GW", "TW", "BTU/h"},
    "energy": {
        *("J", "kJ", "MJ", "GJ"),
        *("mWh", "Wh", "kWh", "MWh", "GWh", "TWh"),
        *("cal", "kcal", "Mcal", "Gcal"),
    },
    "voltage": {"µV", "mV", "V", "kV", "MV"},
    "current": {"mA", "A"},
    "frequency": {"Hz", "kHz", "MHz", "GHz"},
    "power_factor": {"%", None},
    "reactive_power": {"var"},
    "apparent_power": {"VA"},
    "duration": {"d", "h", "min", "s", "ms"},
    "timestamp": {None},
    "gas": {"CCF", "ft³", "m³"},
    "water": {"CCF", "ft³", "m³", "gal", "L"},
    "volume": {"L", "mL", "gal", "fl. oz.", "m³", "ft³", "CCF"},
    "enum": {None},  # options instead of a unit (homeassistant/components/sensor/__init__.py)
}
SENSOR_STATE_CLASSES: dict[str, set[str | None]] = {
    "power": {"measurement", None},
    "energy": {"total", "total_increasing", None},
    "voltage": {"measurement", None},
    "current": {"measurement", None},
    "frequency": {"measurement", None},
    "power_factor": {"measurement", None},
    "reactive_power": {"measurement", None},
    "apparent_power": {"measurement", None},
    "duration": {"measurement", "total", "total_increasing", None},
    "timestamp": {None},
    "gas": {"total", "total_increasing"},
    "water": {"total", "total_increasing"},
    "volume": {"total", "total_increasing"},
    "enum": {None},
}
BINARY_SENSOR_CLASSES = {"connectivity", "problem"}
STATE_CLASSES = {"measurement", "total", "total_increasing"}
ENTITY_CATEGORIES = {"diagnostic"}  # "config" is for settings, which a sensor never is
_ENTITY_ID = re.compile(r"^(sensor|binary_sensor|event)\.[a-z0-9_]+$")


def contains_key(document: Any, key: str) -> bool:
    if isinstance(document, dict):
        return key in document or any(contains_key(v, key) for v in document.values())
    if isinstance(document, list):
        return any(contains_key(v, key) for v in document)
    return False


def component_problems(key: str, component: dict[str, Any]) -> list[str]:
    """Why Home Assistant would reject (or mis-handle) this component; [] if it would not."""
    problems: list[str] = []
    platform = component.get("p")
    device_class = component.get("device_class")
    unit = component.get("unit_of_measurement")
    state_class = component.get("state_class")
    if platform not in ("sensor", "binary_sensor", "event"):
        problems.append(f"{key}: platform {platform!r}")
    if not component.get("unique_id"):
        problems.append(f"{key}: no unique_id (required in device discovery)")
    entity_id = component.get("default_entity_id", "")
    if not _ENTITY_ID.match(entity_id) or not entity_id.startswith(f"{platform}."):
        problems.append(f"{key}: default_entity_id {entity_id!r}")
    if "object_id" in component:
        problems.append(f"{key}: deprecated object_id")
    if not component.get("state_topic"):
        problems.append(f"{key}: no state_topic")
    category = component.get("entity_category")
    if category is not None and category not in ENTITY_CATEGORIES:
        problems.append(f"{key}: entity_category {category!r}")
    if platform == "event":
        # homeassistant/components/mqtt/event.py: event_types required; no unit or state.
        types = component.get("event_types")
        if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
            problems.append(f"{key}: event without event_types")
        if unit is not None or state_class is not None or device_class is not None:
            problems.append(f"{key}: an event has no unit, state_class or device_class")
        return problems
    if device_class == "enum" and not component.get("options"):
        problems.append(f"{key}: an enum sensor needs options")
    if platform == "binary_sensor":
        if device_class not in BINARY_SENSOR_CLASSES:
            problems.append(f"{key}: binary_sensor device_class {device_class!r}")
        if unit is not None or state_class is not None:
            problems.append(f"{key}: a binary_sensor has no unit or state_class")
        return problems
    if state_class is not None and state_class not in STATE_CLASSES:
        problems.append(f"{key}: state_class {state_class!r}")
    if device_class is not None:
        if device_class not in SENSOR_UNITS:
            problems.append(f"{key}: device_class {device_class!r} not in the table")
        else:
            if unit not in SENSOR_UNITS[device_class]:
                problems.append(f"{key}: unit {unit!r} not accepted for {device_class}")
            if state_class not in SENSOR_STATE_CLASSES[device_class]:
                problems.append(f"{key}: state_class {state_class!r} not for {device_class}")
    precision = component.get("suggested_display_precision")
    if precision is not None and (not isinstance(precision, int) or precision < 0):
        problems.append(f"{key}: suggested_display_precision {precision!r}")
    expire = component.get("expire_after")
    if expire is not None and (not isinstance(expire, int) or expire <= 0):
        problems.append(f"{key}: expire_after {expire!r}")
    return problems


def config_problems(config: dict[str, Any]) -> list[str]:
    """Every problem of one device-based discovery document."""
    problems: list[str] = []
    if contains_key(config, "object_id"):
        problems.append("object_id somewhere in the document")
    device = config.get("dev")
    if not isinstance(device, dict) or not device.get("identifiers"):
        problems.append("no device with identifiers")
    origin = config.get("o")
    if not isinstance(origin, dict) or not origin.get("name"):
        problems.append("no origin")
    components = config.get("cmps")
    if not isinstance(components, dict) or not components:
        problems.append("no components")
        return problems
    unique_ids = [c.get("unique_id") for c in components.values()]
    if len(set(unique_ids)) != len(unique_ids):
        problems.append("duplicate unique_id")
    for key, component in components.items():
        problems += component_problems(key, component)
    return problems


def effective_availability(config: dict[str, Any], key: str) -> tuple[list[str], str]:
    """The availability topics and mode of one component, device-level options applied."""
    component = config["cmps"][key]
    source = component if "availability" in component else config
    topics = [entry["topic"] for entry in source.get("availability", [])]
    mode = component.get("availability_mode", config.get("availability_mode", "latest"))
    return topics, mode
