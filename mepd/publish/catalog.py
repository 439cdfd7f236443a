"""Which values become Home Assistant entities, and how: unit, device class, precision.

Keys are the stable source names of `mepd.protocol.tables.sources` (they are the JSON keys of
the state payloads and part of every unique id), so renaming one here orphans an entity.
Units are fixed: W, var, VA, V, A, Hz, kWh, s; power factor is a ratio 0..1 without a unit,
which Home Assistant accepts for device class power_factor (unit `%` or None; core PR 85181).
Per-phase and reactive entities start disabled, as do the less common ones: the default
dashboard shows totals, the rest is one click away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mepd.readings import Unit

Topic = Literal["present", "energy", "diagnostics", "link", "availability", "gateway"]
Platform = Literal["sensor", "binary_sensor"]


@dataclass(frozen=True)
class EntitySpec:
    key: str  # JSON key in the state payload; component id in the discovery config
    name: str
    topic: Topic
    platform: Platform = "sensor"
    device_class: str | None = None
    unit: str | None = None  # what the payload carries and HA shows
    source_unit: Unit | None = None  # what the poller's Measurement must carry
    state_class: str | None = None
    decimals: int = 0  # digits in the payload: the meter's resolution
    display_precision: int | None = None
    enabled: bool = True
    diagnostic: bool = False


_PHASES = (1, 2, 3)


def _measurement(
    key: str,
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
        "present",
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
        _measurement("power_import", "Power import", "power", watt),
        _measurement("power_export", "Power export", "power", watt),
        _measurement("apparent_power", "Apparent power", "apparent_power", Unit.VOLT_AMPERE),
        _measurement("frequency", "Frequency", "frequency", Unit.HERTZ, decimals=3, display=2),
    ]
    for way in ("import", "export"):
        name = f"Reactive power {way}"
        specs.append(
            _measurement(f"reactive_power_{way}", name, "reactive_power", var, enabled=False)
        )
    for p in _PHASES:
        off = {"enabled": False}
        specs += [
            _measurement(
                f"voltage_l{p}", f"Voltage L{p}", "voltage", Unit.VOLT, decimals=3, display=1, **off
            ),
            _measurement(
                f"current_l{p}",
                f"Current L{p}",
                "current",
                Unit.AMPERE,
                decimals=3,
                display=2,
                **off,
            ),
            _measurement(
                f"power_factor_l{p}",
                f"Power factor L{p}",
                "power_factor",
                Unit.RATIO,
                decimals=3,
                display=2,
                **off,
            ),
        ]
        for way in ("import", "export"):
            specs += [
                _measurement(f"power_{way}_l{p}", f"Power {way} L{p}", "power", watt, **off),
                _measurement(
                    f"reactive_power_{way}_l{p}",
                    f"Reactive power {way} L{p}",
                    "reactive_power",
                    var,
                    **off,
                ),
            ]
    specs.append(
        _measurement(
            "current_neutral",
            "Current N",
            "current",
            Unit.AMPERE,
            decimals=3,
            display=2,
            enabled=False,
        )
    )
    return tuple(specs)


def _energy(key: str, name: str) -> EntitySpec:
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
        display_precision=2,
    )


def _counter(key: str, name: str) -> EntitySpec:
    # Counts since mepd started: a restart resets them, which total_increasing allows.
    return EntitySpec(key, name, "diagnostics", state_class="total_increasing", diagnostic=True)


PRESENT: tuple[EntitySpec, ...] = _present()

ENERGY: tuple[EntitySpec, ...] = (
    _energy("energy_import", "Energy import"),
    _energy("energy_export", "Energy export"),
)

DIAGNOSTICS: tuple[EntitySpec, ...] = (
    EntitySpec(
        "last_success",
        "Last successful read",
        "diagnostics",
        "sensor",
        "timestamp",
        diagnostic=True,
    ),
    EntitySpec(
        "clock_offset_s",
        "Meter clock offset",
        "diagnostics",
        device_class="duration",
        unit="s",
        state_class="measurement",
        decimals=3,
        display_precision=0,
        diagnostic=True,
    ),
    _counter("corrupt_responses", "Digest failures"),
    _counter("timeouts", "Timeouts"),
    _counter("sequence_resyncs", "Sequence resyncs"),
    _counter("transceiver_resets", "Transceiver resets"),
    _counter("quarantined", "Quarantined values"),
)
# Counters the Diagnostics event carries under these names (SessionStats and Poller.counters).
COUNTERS = tuple(spec.key for spec in DIAGNOSTICS if spec.state_class == "total_increasing")

# Announced with the meter, whatever it reports: the link is always worth knowing about.
LINK: tuple[EntitySpec, ...] = (
    EntitySpec("link", "Link", "availability", "binary_sensor", "connectivity", diagnostic=True),
    EntitySpec("auth_problem", "Key rejected", "link", "binary_sensor", "problem", diagnostic=True),
)

GATEWAY: tuple[EntitySpec, ...] = (
    EntitySpec("meters_online", "Meters online", "gateway", state_class="measurement"),
    EntitySpec("started", "Started", "gateway", device_class="timestamp", diagnostic=True),
)
