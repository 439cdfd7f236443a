"""Home Assistant MQTT discovery documents: one device-based config per device.

Device-based discovery (`<prefix>/device/<id>/config`, HA 2024.11+) carries the device, the
origin and all components (`cmps`) in one retained message, so a meter's entities appear and
change together. Two devices: the gateway (this Pi, mepd) and each meter, linked by
`via_device`.

Availability: measurement entities need both the gateway (its Last Will) and the meter
(`availability_mode: all`), so they go unavailable when either is gone; the link and other
diagnostic entities follow the gateway only, so they can say why the meter is silent.

Missing values: HA's MQTT sensor renders the template, then treats the literal "None" as
"no value" (state unknown), before any number parsing (homeassistant/components/mqtt/sensor.py
`_update_state`, `PAYLOAD_NONE = "None"` in mqtt/const.py). An empty rendering is worse: the
numeric path only logs "Ignore empty state" and keeps the old value, after the expire_after
timer was already restarted, so a frozen value would look live; and `value_json.x` on a
missing key logs a template warning per message. Hence the `in value_json` test and 'None'.

Entity ids: `default_entity_id` (HA 2025.10+), never the deprecated `object_id`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from mepd import __version__
from mepd.publish.catalog import (
    DIAGNOSTICS,
    ENERGY,
    ENERGY_HELD,
    GATEWAY,
    INTERVAL_ENERGY,
    LINK,
    MONTH_PEAK_DEMAND,
    PRESENT,
    EntitySpec,
)
from mepd.publish.gateway import GatewayInfo
from mepd.publish.history_entities import history_components
from mepd.publish.submeter_entities import SUB_METER_NAMES, SUB_METER_READ_AT, sub_meter_register
from mepd.publish.topics import (
    OFFLINE,
    ONLINE,
    Topics,
    entity_slug,
    gateway_device_id,
    meter_device_id,
    sub_meter_device_id,
)
from mepd.readings import MBusUnit, MeterIdentity, Quantity, SubMeterIdentity, ValueName

ORIGIN: dict[str, str] = {"name": "mepd", "sw_version": __version__}
# How the device says which port mepd reads it through; MEP, the usual one, adds nothing. The
# entities stay the same: only the device's model line tells the two apart.
INTERFACE_NOTE: dict[str, str] = {"optical": " (read through the optical port)"}

# A value older than a few read periods is not "now": HA blanks it (expire_after).
MIN_EXPIRE_S = 15
EXPIRE_PERIODS = 4

# p.197: BT01 manufacturer codes as the meters report them.
MANUFACTURERS = {"ELON": "Echelon", "NES": "Networked Energy Services"}

Config = dict[str, Any]


@dataclass(frozen=True)
class ReadPeriods:
    """Seconds between a meter's reads of present values and of energy: all the publisher
    needs of the poller's schedule, to tell Home Assistant when a value is stale."""

    present_s: float
    energy_s: float


def expire_after(period_s: float) -> int:
    """Seconds after which a value read every `period_s` is stale."""
    return max(MIN_EXPIRE_S, math.ceil(EXPIRE_PERIODS * period_s))


def meter_entity_prefix(serial: str) -> str:
    """The object-id prefix of a meter's entities: `mepd_<serial>`."""
    return f"mepd_{entity_slug(serial)}"


def unique_id(device_id: str, spec: EntitySpec) -> str:
    """The entity's unique id: how Home Assistant's entity registry knows it, whatever its
    entity id became (renamed, or made from the name by a release without default_entity_id)."""
    return f"{device_id}_{spec.key}"


def default_entity_id(spec: EntitySpec, entity_prefix: str) -> str:
    """The entity id Home Assistant gives an entity (and the statistic id of its history)."""
    return f"{spec.platform}.{entity_prefix}_{spec.key}"


def value_template(key: str) -> str:
    return f"{{{{ value_json['{key}'] if '{key}' in value_json else 'None' }}}}"


# The interval and peak payloads' keys (`publish/history.py` writes them).
DEMAND_W = "demand_w"


def interval_template(name: str) -> str:
    """A value of an interval payload's `values`; 'None' (unknown) if it has none."""
    values = "value_json['values']"
    return (
        f"{{{{ {values}['{name}'] if 'values' in value_json and '{name}' in {values} "
        f"else 'None' }}}}"
    )


def _component(
    spec: EntitySpec,
    *,
    device_id: str,
    entity_prefix: str,
    state_topic: str,
    availability: list[str] | None = None,
    expire_s: int | None = None,
    attributes_topic: str | None = None,
) -> Config:
    component: Config = {
        "p": spec.platform,
        "name": spec.name,
        "unique_id": unique_id(device_id, spec),
        "default_entity_id": default_entity_id(spec, entity_prefix),
        "state_topic": state_topic,
    }
    if spec.topic == "availability":
        component["payload_on"] = ONLINE
        component["payload_off"] = OFFLINE
    elif spec.platform == "binary_sensor":
        key = spec.key
        component["value_template"] = (
            f"{{{{ ('ON' if value_json['{key}'] else 'OFF') if '{key}' in value_json "
            f"else 'None' }}}}"
        )
    else:
        component["value_template"] = value_template(spec.key)
    for option, value in (
        ("device_class", spec.device_class),
        ("unit_of_measurement", spec.unit),
        ("state_class", spec.state_class),
        ("suggested_display_precision", spec.display_precision),
        ("icon", spec.icon),
        ("expire_after", expire_s),
        ("json_attributes_topic", attributes_topic),
    ):
        if value is not None:
            component[option] = value
    if spec.diagnostic:
        component["entity_category"] = "diagnostic"
    if not spec.enabled:
        component["enabled_by_default"] = False
    if availability is not None:
        component["availability"] = _availability(availability)
    return component


def _availability(topics: list[str]) -> list[dict[str, str]]:
    return [{"topic": topic} for topic in topics]


def meter_config(
    identity: MeterIdentity,
    names: Collection[str],
    *,
    topics: Topics,
    gateway: GatewayInfo,
    periods: ReadPeriods,
) -> Config:
    """The meter's device and the entities for `names` (what it has reported so far)."""
    serial = identity.serial
    device_id = meter_device_id(serial)
    prefix = meter_entity_prefix(serial)
    components: Config = {}

    def add(spec: EntitySpec, state_topic: str, **extra: Any) -> Config:
        component = _component(
            spec, device_id=device_id, entity_prefix=prefix, state_topic=state_topic, **extra
        )
        components[spec.key] = component
        return component

    # The device-level availability (gateway and meter, mode "all") applies to measurements;
    # diagnostic entities override it with the gateway alone.
    gateway_only = [topics.gateway_status]
    for spec in PRESENT:
        if spec.key in names:
            # "present", or a piece's own topic (the power piece of a noisy line), read as
            # often: the same freshness.
            topic = topics.meter(serial, spec.topic)
            add(spec, topic, expire_s=expire_after(periods.present_s))
    for spec in ENERGY:
        if spec.key in names:
            add(spec, topics.energy(serial), expire_s=expire_after(periods.energy_s))
    if ENERGY_HELD.key in names:
        held_topic = topics.energy_held(serial)
        add(ENERGY_HELD, held_topic, availability=gateway_only, attributes_topic=held_topic)
    for spec in LINK:
        on_link = spec.topic == "link"
        add(
            spec,
            topics.link(serial) if on_link else topics.availability(serial),
            availability=gateway_only,
            attributes_topic=None if on_link else topics.link(serial),
        )
    for spec in DIAGNOSTICS:
        if spec.key in names:
            add(spec, topics.diagnostics(serial), availability=gateway_only)
    if INTERVAL_ENERGY.key in names:
        add(INTERVAL_ENERGY, topics.interval(serial))
        components[INTERVAL_ENERGY.key]["value_template"] = interval_template(
            ValueName.ENERGY_IMPORT
        )
    if MONTH_PEAK_DEMAND.key in names:
        peak = topics.demand_peak(serial)
        add(MONTH_PEAK_DEMAND, peak, attributes_topic=peak)
        components[MONTH_PEAK_DEMAND.key]["value_template"] = value_template(DEMAND_W)
    history_components(serial, names, topics, add, gateway_only)  # billing, events, relay
    manufacturer = identity.manufacturer.strip()
    device: Config = {
        "identifiers": [device_id],
        "name": f"Electricity meter {serial}",
        "manufacturer": MANUFACTURERS.get(manufacturer, manufacturer or "unknown"),
        "model": (identity.model or "unknown") + INTERFACE_NOTE.get(identity.interface, ""),
        "sw_version": identity.firmware,
        "hw_version": identity.hardware,
        "serial_number": serial,
        "via_device": gateway_device_id(gateway.gateway_id),
    }
    return {
        "dev": device,
        "o": dict(ORIGIN),
        "availability": _availability([topics.gateway_status, topics.availability(serial)]),
        "availability_mode": "all",
        "cmps": components,
    }


def sub_meter_config(
    identity: SubMeterIdentity,
    registers: Mapping[Quantity, MBusUnit],
    *,
    topics: Topics,
) -> Config:
    """A sub-meter's device, via its electricity meter, with an entity per register it has
    reported (`registers`: each quantity's unit) and when it was read. Its values are reads
    of the past (hourly, say), so no `expire_after`, and they stay true while the meter's
    link is down: the gateway's availability alone."""
    device_id = sub_meter_device_id(identity.key)
    prefix = f"mepd_mbus_{entity_slug(identity.key)}"
    state_topic = topics.mbus(identity.meter, identity.key)
    specs = [sub_meter_register(identity.kind, q, unit) for q, unit in registers.items()]
    components: Config = {
        spec.key: _component(
            spec, device_id=device_id, entity_prefix=prefix, state_topic=state_topic
        )
        for spec in [*specs, SUB_METER_READ_AT]
    }
    name = SUB_METER_NAMES[identity.kind]
    device: Config = {
        "identifiers": [device_id],
        "name": f"{name} {identity.mbus_id}",
        "manufacturer": identity.manufacturer or "unknown",
        "model": f"{name} (M-Bus medium {identity.medium:#04x}), slot {identity.slot}",
        "sw_version": str(identity.version),
        "serial_number": identity.mbus_id,
        "via_device": meter_device_id(identity.meter),
    }
    return {
        "dev": device,
        "o": dict(ORIGIN),
        "availability": _availability([topics.gateway_status]),
        "cmps": components,
    }


def meter_problem_key(name: str) -> str:
    """The gateway-state key of a configured meter's problem (`[meters.<name>]`)."""
    return f"meter_{entity_slug(name)}_problem"


def gateway_config(gateway: GatewayInfo, topics: Topics, meters: Collection[str] = ()) -> Config:
    """The gateway device; `meters` (configured names) each get a problem entity, so a meter
    that never said who it is (a wrong key at first start) is still visible."""
    device_id = gateway_device_id(gateway.gateway_id)
    prefix = f"mepd_gateway_{entity_slug(gateway.gateway_id)}"
    components: dict[str, Config] = {
        spec.key: _component(
            spec,
            device_id=device_id,
            entity_prefix=prefix,
            state_topic=topics.gateway_state,
        )
        for spec in GATEWAY
    }
    for name in meters:
        key = meter_problem_key(name)
        components[key] = {
            "p": "sensor",
            "name": f"Meter {name} problem",
            "unique_id": f"{device_id}_{key}",
            "default_entity_id": f"sensor.{prefix}_{key}",
            "state_topic": topics.gateway_state,
            "value_template": value_template(key),
            "icon": "mdi:meter-electric-outline",
        }
    device: Config = {
        "identifiers": [device_id],
        # What a person recognises in a device list: the board, never a hostname or an IP
        # (the id stays in the identifiers and topics).
        "name": f"mepd on {gateway.model}",
        "manufacturer": "mepd",
        "model": gateway.model,
        "sw_version": gateway.version,
    }
    return {
        "dev": device,
        "o": dict(ORIGIN),
        "availability": _availability([topics.gateway_status]),
        "cmps": components,
    }


def is_mepd_config(document: object) -> bool:
    """Whether a retained discovery document is one mepd published (by origin and ids)."""
    if not isinstance(document, dict):
        return False
    origin = document.get("o", document.get("origin"))
    device = document.get("dev", document.get("device"))
    if not isinstance(origin, dict) or origin.get("name") != ORIGIN["name"]:
        return False
    if not isinstance(device, dict):
        return False
    identifiers = device.get("identifiers", device.get("ids"))
    if isinstance(identifiers, str):
        identifiers = [identifiers]
    return (
        isinstance(identifiers, list)
        and bool(identifiers)
        and all(isinstance(i, str) and i.startswith("mepd_") for i in identifiers)
    )
