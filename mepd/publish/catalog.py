"""Which values become Home Assistant entities, and how: unit, device class, precision.

Keys are the stable source names of `mepd.protocol.tables.sources`, as `ValueName` members (they
are the JSON keys of the state payloads and part of every unique id), so renaming one orphans an
entity; the few keys that are no meter value are the `Counter` and `Key` members below.
Units are fixed: W, var, VA, V, A, Hz, kWh, s; power factor is a ratio 0..1 without a unit,
which Home Assistant accepts for device class power_factor (unit `%` or None; core PR 85181).
Per-phase and reactive entities start disabled, as do the less common ones: the default
dashboard shows totals, the rest is one click away.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from mepd.readings import PIECES, Piece, Quantity, Unit, ValueName

Topic = Literal[
    "present",
    "power",
    "energy",
    "energy_held",
    "diagnostics",
    "link",
    "availability",
    "gateway",
    "interval",
    "demand_peak",
    "mbus",
]
# What the meter remembers (issue 20, `history_entities.py`): retained billing, the event
# stream, the conditions now and the relay.
HistoryTopic = Literal["billing", "event", "phase_missing", "relay"]
Platform = Literal["sensor", "binary_sensor", "event"]


class Counter(StrEnum):
    """The counters published as diagnostic entities, by the names `Diagnostics.counters`
    carries them under: `SessionStats` fields and `Poller.counters` keys in mepd/engine
    (tests/publish/test_catalog.py checks that the engine still counts each of them)."""

    CORRUPT_RESPONSES = "corrupt_responses"
    TIMEOUTS = "timeouts"
    SEQUENCE_RESYNCS = "sequence_resyncs"
    TRANSCEIVER_RESETS = "transceiver_resets"
    QUARANTINED = "quarantined"


class Key(StrEnum):
    """The other entities' keys, one spelling for the catalog (component and unique ids) and
    `payloads` (the JSON keys it writes; `link` reads the availability topic instead)."""

    LAST_SUCCESS = "last_success"
    CLOCK_OFFSET_S = "clock_offset_s"
    LINK = "link"
    AUTH_PROBLEM = "auth_problem"
    ENERGY_HELD = "energy_held"
    METERS_ONLINE = "meters_online"
    STARTED = "started"
    INTERVAL_ENERGY = "interval_energy_import"
    MONTH_PEAK_DEMAND = "month_peak_demand"


class HeldKey(StrEnum):
    """The attributes of the "Energy held back" problem entity (`payloads.held_payload`): the
    first register held back in catalog order, and all of them in `registers`."""

    REGISTER = "register"
    LAST_PUBLISHED_KWH = "last_published_kwh"
    HELD_KWH = "held_kwh"
    REASON = "reason"
    SINCE = "since"
    REGISTERS = "registers"


class HistoryKey(StrEnum):
    """The keys of the entities of what the meter remembers (`history_entities.py`)."""

    BILLING_ENERGY_IMPORT = "billing_energy_import"
    BILLING_ENERGY_EXPORT = "billing_energy_export"
    BILLING_REACTIVE_ENERGY_IMPORT = "billing_reactive_energy_import"
    BILLING_REACTIVE_ENERGY_EXPORT = "billing_reactive_energy_export"
    EVENTS_POWER_OUTAGE = "events_power_outage"
    EVENTS_PHASE_LOSS = "events_phase_loss"
    EVENTS_VOLTAGE_QUALITY = "events_voltage_quality"
    EVENTS_TAMPER = "events_tamper"
    EVENTS_OTHER = "events_other"
    PHASE_MISSING = "phase_missing"
    RELAY = "relay"


class SubMeterKey(StrEnum):
    """A sub-meter's entities' keys (JSON keys of its state payload): its registers by
    `Quantity`, and when the meter read it."""

    VOLUME = Quantity.VOLUME.value
    ENERGY = Quantity.ENERGY.value
    READ_AT = "read_at"


EntityKey = ValueName | Counter | Key | HistoryKey | SubMeterKey


@dataclass(frozen=True)
class EntitySpec:
    key: EntityKey  # JSON key in the state payload; component id in the discovery config
    name: str
    topic: Topic | HistoryTopic
    platform: Platform = "sensor"
    device_class: str | None = None
    unit: str | None = None  # what the payload carries and HA shows
    source_unit: Unit | None = None  # what the poller's Measurement must carry
    state_class: str | None = None
    decimals: int = 0  # digits in the payload: the meter's resolution
    display_precision: int | None = None
    enabled: bool = True
    diagnostic: bool = False
    icon: str | None = None  # an mdi: icon where the device class gives none


# The per-phase values, L1 to L3, as (phase, voltage, current, power factor) and, per way,
# (way, active, reactive): the order of the entities and of the payload's keys.
_PHASES = (
    ("L1", ValueName.VOLTAGE_L1, ValueName.CURRENT_L1, ValueName.POWER_FACTOR_L1),
    ("L2", ValueName.VOLTAGE_L2, ValueName.CURRENT_L2, ValueName.POWER_FACTOR_L2),
    ("L3", ValueName.VOLTAGE_L3, ValueName.CURRENT_L3, ValueName.POWER_FACTOR_L3),
)
_PHASE_POWERS = (
    (
        ("import", ValueName.POWER_IMPORT_L1, ValueName.REACTIVE_POWER_IMPORT_L1),
        ("export", ValueName.POWER_EXPORT_L1, ValueName.REACTIVE_POWER_EXPORT_L1),
    ),
    (
        ("import", ValueName.POWER_IMPORT_L2, ValueName.REACTIVE_POWER_IMPORT_L2),
        ("export", ValueName.POWER_EXPORT_L2, ValueName.REACTIVE_POWER_EXPORT_L2),
    ),
    (
        ("import", ValueName.POWER_IMPORT_L3, ValueName.REACTIVE_POWER_IMPORT_L3),
        ("export", ValueName.POWER_EXPORT_L3, ValueName.REACTIVE_POWER_EXPORT_L3),
    ),
)


def _measurement(
    key: ValueName,
    name: str,
    device_class: str | None,
    unit: Unit,
    *,
    decimals: int = 0,
    display: int = 0,
    enabled: bool = True,
) -> EntitySpec:
    symbol = unit.symbol or None
    return EntitySpec(
        key,
        name,
        # A piece's values have the piece's topic (fed by the piece and by the whole table),
        # so a piece read on a noisy line never blanks the entities it does not carry.
        "power" if key in PIECES[Piece.POWER] else "present",
        device_class=device_class,
        unit=symbol,
        source_unit=unit,
        state_class="measurement",
        decimals=decimals,
        display_precision=display,
        enabled=enabled,
    )


def _present() -> tuple[EntitySpec, ...]:
    watt, var = Unit.WATT, Unit.VAR
    specs = [
        _measurement(ValueName.POWER_IMPORT, "Power import", "power", watt),
        _measurement(ValueName.POWER_EXPORT, "Power export", "power", watt),
        _measurement(
            ValueName.APPARENT_POWER, "Apparent power", "apparent_power", Unit.VOLT_AMPERE
        ),
        _measurement(
            ValueName.FREQUENCY, "Frequency", "frequency", Unit.HERTZ, decimals=3, display=2
        ),
        _measurement(
            ValueName.REACTIVE_POWER_IMPORT,
            "Reactive power import",
            "reactive_power",
            var,
            enabled=False,
        ),
        _measurement(
            ValueName.REACTIVE_POWER_EXPORT,
            "Reactive power export",
            "reactive_power",
            var,
            enabled=False,
        ),
    ]
    for (phase, voltage, current, factor), ways in zip(_PHASES, _PHASE_POWERS, strict=True):
        off = {"enabled": False}
        specs += [
            _measurement(
                voltage, f"Voltage {phase}", "voltage", Unit.VOLT, decimals=3, display=1, **off
            ),
            _measurement(
                current,
                f"Current {phase}",
                "current",
                Unit.AMPERE,
                decimals=3,
                display=2,
                **off,
            ),
            _measurement(
                factor,
                f"Power factor {phase}",
                "power_factor",
                Unit.RATIO,
                decimals=3,
                display=2,
                **off,
            ),
        ]
        for way, active, reactive in ways:
            specs += [
                _measurement(active, f"Power {way} {phase}", "power", watt, **off),
                _measurement(
                    reactive, f"Reactive power {way} {phase}", "reactive_power", var, **off
                ),
            ]
    specs.append(
        _measurement(
            ValueName.CURRENT_NEUTRAL,
            "Current N",
            "current",
            Unit.AMPERE,
            decimals=3,
            display=2,
            enabled=False,
        )
    )
    return tuple(specs)


def _energy(key: ValueName, name: str) -> EntitySpec:
    # Energy-dashboard sensors: kWh with Wh resolution, never decreasing (the guard sees to it).
    return EntitySpec(
        key,
        name,
        "energy",
        device_class="energy",
        unit="kWh",
        source_unit=Unit.WATT_HOUR,
        state_class="total_increasing",
        decimals=3,
        display_precision=3,  # the meter counts Wh: all three decimals are real
    )


# Each counter's icon: HA gives a sensor without a device class a generic one.
_COUNTER_ICONS = {
    Counter.CORRUPT_RESPONSES: "mdi:shield-alert-outline",
    Counter.TIMEOUTS: "mdi:timer-sand-empty",
    Counter.SEQUENCE_RESYNCS: "mdi:sync-alert",
    Counter.TRANSCEIVER_RESETS: "mdi:restart-alert",
    Counter.QUARANTINED: "mdi:filter-remove-outline",
}


def _counter(key: Counter, name: str) -> EntitySpec:
    # Counts since mepd started, reset by a restart: a diagnostic to glance at, not a
    # quantity to keep long-term statistics of (which HA would keep without a unit).
    return EntitySpec(key, name, "diagnostics", diagnostic=True, icon=_COUNTER_ICONS[key])


PRESENT: tuple[EntitySpec, ...] = _present()

ENERGY: tuple[EntitySpec, ...] = (
    _energy(ValueName.ENERGY_IMPORT, "Energy import"),
    _energy(ValueName.ENERGY_EXPORT, "Energy export"),
)

DIAGNOSTICS: tuple[EntitySpec, ...] = (
    EntitySpec(
        Key.LAST_SUCCESS,
        "Last successful read",
        "diagnostics",
        "sensor",
        "timestamp",
        diagnostic=True,
    ),
    EntitySpec(
        Key.CLOCK_OFFSET_S,
        "Meter clock offset",
        "diagnostics",
        device_class="duration",
        unit="s",
        state_class="measurement",
        decimals=3,
        display_precision=0,
        diagnostic=True,
    ),
    _counter(Counter.CORRUPT_RESPONSES, "Digest failures"),
    _counter(Counter.TIMEOUTS, "Timeouts"),
    _counter(Counter.SEQUENCE_RESYNCS, "Sequence resyncs"),
    _counter(Counter.TRANSCEIVER_RESETS, "Transceiver resets"),
    _counter(Counter.QUARANTINED, "Quarantined values"),
)
# In the order of the entities: the payload writes them in this order.
COUNTERS: tuple[Counter, ...] = tuple(
    spec.key for spec in DIAGNOSTICS if isinstance(spec.key, Counter)
)

# Announced with the meter, whatever it reports: the link is always worth knowing about.
LINK: tuple[EntitySpec, ...] = (
    EntitySpec(Key.LINK, "Link", "availability", "binary_sensor", "connectivity", diagnostic=True),
    EntitySpec(
        Key.AUTH_PROBLEM, "Key rejected", "link", "binary_sensor", "problem", diagnostic=True
    ),
)

# Announced with the first BT23 read: on while the guard holds an energy register back (it fell,
# or rose faster than the fuse allows), so the owner learns why the dashboard stands still.
ENERGY_HELD = EntitySpec(
    Key.ENERGY_HELD, "Energy held back", "energy_held", "binary_sensor", "problem"
)

GATEWAY: tuple[EntitySpec, ...] = (
    EntitySpec(
        Key.METERS_ONLINE, "Meters online", "gateway", diagnostic=True, icon="mdi:meter-electric"
    ),
    EntitySpec(Key.STARTED, "Started", "gateway", device_class="timestamp", diagnostic=True),
)

# From the load profile (p.27-31), announced with the first interval / peak: the energy drawn
# in the last complete interval (Wh, read from the interval topic's `values`), and this
# month's highest demand over the demand window (retained, kept across restarts by the engine).
INTERVAL_ENERGY = EntitySpec(
    Key.INTERVAL_ENERGY,
    "Energy import last interval",
    "interval",
    device_class="energy",
    unit="Wh",
    source_unit=Unit.WATT_HOUR,
    display_precision=0,
    icon="mdi:chart-bar",
)
MONTH_PEAK_DEMAND = EntitySpec(
    Key.MONTH_PEAK_DEMAND,
    "Peak demand this month",
    "demand_peak",
    device_class="power",
    unit="W",
    state_class="measurement",
    display_precision=0,
)


# --- M-Bus sub-meters (p.25-33) -------------------------------------------------------------
