"""Home Assistant entities for what the meter remembers: billing, events, conditions, relay.

- "Energy ... at last billing read": one sensor per energy register a billing snapshot carried,
  kWh, device class energy, state class `total` (a snapshot can move either way between two
  billing reads, say after a meter exchange: `total_increasing` would read a fall as a reset).
  The snapshot's time and kind are the attributes (the retained billing topic).
- Events: one `event` entity per category (power outage, phase loss, voltage quality, tamper,
  other), all on the one event topic. HA's MQTT event platform takes the rendered payload as
  JSON with an `event_type` among the entity's `event_types`, the rest as attributes, and
  ignores an empty rendering (homeassistant/components/mqtt/event.py `_event_received`); so each
  entity's template passes on its own category's messages and renders '' for the others, and
  a code nobody knows goes out as `unknown` (an "other" type), never a type HA would refuse.
  Event messages are never retained: HA ignores a replayed retained event.
- "Phase missing": a problem binary sensor from ET09's "phase loss now" (p.72).
- "Relay": an enum sensor, closed/closing/opened/opening (ET23.94, p.99), only on a meter with
  a disconnect relay.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from types import MappingProxyType
from typing import Any, Final

from mepd.publish.catalog import EntitySpec, HistoryKey, HistoryTopic
from mepd.publish.topics import Topics
from mepd.readings import (
    EVENT_CODES,
    DisconnectState,
    EventCategory,
    Unit,
    ValueName,
)

UNKNOWN_EVENT = "unknown"  # the event_type of a code `event_codes` has no meaning for
EVENTS_LOST = "events_lost"  # the event_type of a lost range (`EventsLost`)
OUTAGE = "outage"  # the event_type of an ET81 outage record (start and end)
EVENT_TYPE = "event_type"  # HA's key (homeassistant/components/event ATTR_EVENT_TYPE)
CATEGORY = "category"
# The topic leaves the entities read and `history_feed` writes (the phase and the relay are
# their specs' own topics).
BILLING_TOPIC: Final[HistoryTopic] = "billing"
EVENT_TOPIC: Final[HistoryTopic] = "event"


def _billing(key: HistoryKey, name: str) -> EntitySpec:
    return EntitySpec(
        key,
        f"{name} at last billing read",
        BILLING_TOPIC,
        device_class="energy",
        unit="kWh",
        source_unit=Unit.WATT_HOUR,
        state_class="total",
        decimals=3,
        display_precision=3,
        icon="mdi:file-document-outline",
    )


# The billing sensors by the register they show (the billing payload's keys).
BILLING: Mapping[ValueName, EntitySpec] = MappingProxyType(
    {
        ValueName.ENERGY_IMPORT: _billing(HistoryKey.BILLING_ENERGY_IMPORT, "Energy import"),
        ValueName.ENERGY_EXPORT: _billing(HistoryKey.BILLING_ENERGY_EXPORT, "Energy export"),
        ValueName.REACTIVE_ENERGY_IMPORT: _billing(
            HistoryKey.BILLING_REACTIVE_ENERGY_IMPORT, "Reactive energy import"
        ),
        ValueName.REACTIVE_ENERGY_EXPORT: _billing(
            HistoryKey.BILLING_REACTIVE_ENERGY_EXPORT, "Reactive energy export"
        ),
    }
)

# One event entity per category, in the order HA lists them.
EVENT_ENTITIES: Mapping[EventCategory, EntitySpec] = MappingProxyType(
    {
        EventCategory.POWER_OUTAGE: EntitySpec(
            HistoryKey.EVENTS_POWER_OUTAGE,
            "Power outage",
            EVENT_TOPIC,
            "event",
            icon="mdi:flash-off",
        ),
        EventCategory.PHASE_LOSS: EntitySpec(
            HistoryKey.EVENTS_PHASE_LOSS, "Phase loss", EVENT_TOPIC, "event", icon="mdi:sine-wave"
        ),
        EventCategory.VOLTAGE_QUALITY: EntitySpec(
            HistoryKey.EVENTS_VOLTAGE_QUALITY,
            "Voltage quality",
            EVENT_TOPIC,
            "event",
            icon="mdi:flash-alert",
        ),
        EventCategory.TAMPER: EntitySpec(
            HistoryKey.EVENTS_TAMPER, "Tamper", EVENT_TOPIC, "event", icon="mdi:shield-alert"
        ),
        EventCategory.OTHER: EntitySpec(
            HistoryKey.EVENTS_OTHER, "Other meter event", EVENT_TOPIC, "event", icon="mdi:history"
        ),
    }
)

PHASE_MISSING = EntitySpec(
    HistoryKey.PHASE_MISSING, "Phase missing", "phase_missing", "binary_sensor", "problem"
)
RELAY = EntitySpec(
    HistoryKey.RELAY, "Relay", "relay", device_class="enum", icon="mdi:electric-switch"
)
RELAY_OPTIONS = tuple(state.name.lower() for state in DisconnectState)


def event_types(category: EventCategory) -> tuple[str, ...]:
    """Every event_type an entity of `category` can get: the known codes' names, plus the
    ET81 outage (power outage) and the unknown code and lost range (other)."""
    names = [m.name for m in EVENT_CODES.values() if m.category is category]
    if category is EventCategory.POWER_OUTAGE:
        names.append(OUTAGE)
    if category is EventCategory.OTHER:
        names += [UNKNOWN_EVENT, EVENTS_LOST]
    return tuple(names)


def event_template(category: EventCategory) -> str:
    """The message as it is if it is of `category`, else '' (HA then ignores it)."""
    return f"{{{{ value if value_json['{CATEGORY}'] == '{category.value}' else '' }}}}"


Add = Callable[..., dict[str, Any]]


def history_components(
    serial: str, names: Collection[str], topics: Topics, add: Add, gateway_only: list[str]
) -> None:
    """The entities of what the meter remembers, for the `names` announced so far; `add`
    makes a component as `discovery.meter_config` does (spec, state topic, options).

    Billing and events are history: they follow the gateway alone (`gateway_only`), as a
    snapshot or an event stays true while the meter is silent; the phase and the relay are
    "now", so they follow the meter too (the device's availability)."""
    for register, spec in BILLING.items():
        if spec.key in names:
            billing = topics.meter(serial, BILLING_TOPIC)
            component = add(spec, billing, availability=gateway_only, attributes_topic=billing)
            component["value_template"] = (
                f"{{{{ value_json['{register}'] if '{register}' in value_json else 'None' }}}}"
            )
    for category, spec in EVENT_ENTITIES.items():
        if spec.key in names:
            component = add(spec, topics.meter(serial, EVENT_TOPIC), availability=gateway_only)
            component["event_types"] = list(event_types(category))
            component["value_template"] = event_template(category)
    if PHASE_MISSING.key in names:
        condition = topics.meter(serial, PHASE_MISSING.topic)
        add(PHASE_MISSING, condition, attributes_topic=condition)
    if RELAY.key in names:
        relay = topics.meter(serial, RELAY.topic)
        component = add(RELAY, relay, attributes_topic=relay)
        component["options"] = list(RELAY_OPTIONS)
