"""MQTT topic names and the identifiers derived from serials: one place, stable forever.

Everything is keyed on the meter's serial number and the gateway id (the Pi's serial number),
never on a hostname or an IP address, so a re-flashed or renamed Pi keeps its entities.

    <prefix>/gateway/<gateway>/status      online/offline, retained; the Last Will
    <prefix>/gateway/<gateway>/state       JSON: gateway entities
    <prefix>/meter/<serial>/availability   online/offline, retained: the meter answers
    <prefix>/meter/<serial>/link           JSON, retained: link state, reason, key problem
    <prefix>/meter/<serial>/present        JSON: power, voltage, current, ... (BT28)
    <prefix>/meter/<serial>/power          JSON: total power import/export (BT28, or its piece)
    <prefix>/meter/<serial>/energy         JSON: energy registers in kWh (BT23)
    <prefix>/meter/<serial>/energy_held    JSON, retained: energy registers held back, and why
    <prefix>/meter/<serial>/diagnostics    JSON: counters, clock offset, last good read
    <discovery>/device/mepd_<serial>/config           retained: the meter's HA device
    <discovery>/device/mepd_gateway_<gateway>/config  retained: the gateway's HA device
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ONLINE = "online"
OFFLINE = "offline"

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_UNSAFE_ENTITY = re.compile(r"[^a-z0-9_]")


def topic_id(text: str) -> str:
    """`text` made safe for a topic level and a discovery id: [A-Za-z0-9_-] only."""
    safe = _UNSAFE.sub("_", text.strip())
    return safe or "_"


def entity_slug(text: str) -> str:
    """`text` as the object part of a Home Assistant entity id: [a-z0-9_] only."""
    return _UNSAFE_ENTITY.sub("_", text.strip().lower()) or "_"


def meter_device_id(serial: str) -> str:
    """The meter's id in the device registry, in unique ids and in its discovery topic."""
    return f"mepd_{topic_id(serial)}"


def gateway_device_id(gateway_id: str) -> str:
    return f"mepd_gateway_{topic_id(gateway_id)}"


@dataclass(frozen=True)
class Topics:
    """The state topics under `prefix` for one gateway."""

    prefix: str
    gateway_id: str

    @property
    def gateway_status(self) -> str:
        return f"{self.prefix}/gateway/{topic_id(self.gateway_id)}/status"

    @property
    def gateway_state(self) -> str:
        return f"{self.prefix}/gateway/{topic_id(self.gateway_id)}/state"

    def meter(self, serial: str, leaf: str) -> str:
        return f"{self.prefix}/meter/{topic_id(serial)}/{leaf}"

    def availability(self, serial: str) -> str:
        return self.meter(serial, "availability")

    def link(self, serial: str) -> str:
        return self.meter(serial, "link")

    def present(self, serial: str) -> str:
        return self.meter(serial, "present")

    def energy(self, serial: str) -> str:
        return self.meter(serial, "energy")

    def energy_held(self, serial: str) -> str:
        return self.meter(serial, "energy_held")

    def diagnostics(self, serial: str) -> str:
        return self.meter(serial, "diagnostics")

    def interval(self, serial: str) -> str:
        return self.meter(serial, "interval")

    def demand_peak(self, serial: str) -> str:
        return self.meter(serial, "demand_peak")


def discovery_topic(discovery_prefix: str, device_id: str) -> str:
    """Device-based discovery: one retained config for all of a device's entities."""
    return f"{discovery_prefix}/device/{device_id}/config"
