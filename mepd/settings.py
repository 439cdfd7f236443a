"""The settings each layer is built with, as plain frozen values: the contract between layers.

`mepd.config` reads TOML into these; the engine, the drivers and the publisher take them. They
live below all of those, so the configuration builds them without importing the engine or the
publisher, and none of them sees TOML or pydantic. Secrets stay out of `repr` and
`dataclasses.asdict`: `MepKey` redacts itself and `MqttSettings.password` is a `Secret`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from mepd.drivers.hat import DEFAULT_PINS
from mepd.errors import ConfigError
from mepd.protocol.keys import MepKey
from mepd.protocol.tables.names import ValueName
from mepd.protocol.timing import MAX_AVERAGE_READS_PER_S, MIN_REQUEST_SPACING_S
from mepd.protocol.tls.codes import DEFAULT_CLIENT_ID
from mepd.secret import Secret as Secret  # noqa: PLC0414 - re-exported with the settings

# --- how often each table is read (p.51, Appendix C p.259) ----------------------------------

# Retries, IDT checks and the occasional alert-flag read come out of the same budget.
BUDGET_HEADROOM = 0.8


@dataclass(frozen=True)
class Schedule:
    """Seconds between reads of each kind."""

    present_s: float = 1.5  # BT28: power, voltage, current, PF, frequency
    energy_s: float = 15.0  # BT23: the energy registers
    clock_s: float = 300.0  # BT52: the meter's clock, for its offset
    # Never below the guide's request spacing, whatever the configuration says.
    minimum_s: float = MIN_REQUEST_SPACING_S

    def reads_per_second(self, present_reads: int = 1, energy_reads: int = 1) -> float:
        """Average table reads per second; BT23/BT28 may take more than one read each."""
        return present_reads / self.present_s + energy_reads / self.energy_s + 1 / self.clock_s

    def fitted(self, present_reads: int, energy_reads: int) -> Schedule:
        """This schedule, slowed just enough for a layout that needs several reads per table.

        The configuration is checked at load time with one read per table (`validate`); only
        the meter says how many partial reads BT28 and BT23 take (p.8: at most 465 bytes each).
        A meter whose tables need more must not stop the daemon (the unit would not restart
        from a configuration error): its present and energy periods stretch by one factor until
        the average is back within the budget (p.51), and the caller says so once.
        """
        allowed = MAX_AVERAGE_READS_PER_S * BUDGET_HEADROOM - 1 / self.clock_s
        demand = present_reads / self.present_s + energy_reads / self.energy_s
        if demand <= allowed:
            return self
        factor = demand / allowed

        def stretched(period_s: float) -> float:  # to the next 10 ms: never a hair too fast
            return math.ceil(period_s * factor * 100) / 100

        return replace(self, present_s=stretched(self.present_s), energy_s=stretched(self.energy_s))

    def validate(self, present_reads: int = 1, energy_reads: int = 1) -> None:
        for name in ("present_s", "energy_s", "clock_s"):
            if getattr(self, name) < 1.0:
                raise ConfigError(f"schedule.{name} must be at least 1 second")
        rate = self.reads_per_second(present_reads, energy_reads)
        allowed = MAX_AVERAGE_READS_PER_S * BUDGET_HEADROOM
        if rate > allowed:
            raise ConfigError(
                f"the schedule reads {rate:.2f} tables per second on average; the meter's "
                f"vendor asks for at most {MAX_AVERAGE_READS_PER_S:g} per second (MEP guide "
                f"p.51) and mepd keeps {1 - BUDGET_HEADROOM:.0%} of that for retries, so at most "
                f"{allowed:.2f}. Raise schedule.present_s or schedule.energy_s "
                f"(the default is present_s = 1.5, energy_s = 15)"
            )


# --- what is plausible ----------------------------------------------------------------------


@dataclass(frozen=True)
class PlausibilityLimits:
    """Physics with margins. Defaults suit a European 3 x 63 A house connection."""

    main_fuse_a: float = 63.0
    phases: int = 3
    nominal_voltage_v: float = 230.0
    margin: float = 1.5
    voltage_v: tuple[float, float] = (150.0, 300.0)
    frequency_hz: tuple[float, float] = (45.0, 55.0)
    # Per-phase sums: the meter rounds each phase to 1 W; allow that and a little skew.
    phase_sum_tolerance_w: float = 25.0
    phase_sum_tolerance_ratio: float = 0.03

    @property
    def max_power_w(self) -> float:
        return self.main_fuse_a * self.phases * self.nominal_voltage_v * self.margin

    @property
    def max_current_a(self) -> float:
        return self.main_fuse_a * self.margin

    def max_energy_increase_wh(self, elapsed_s: float) -> float:
        """What the fuse lets through in `elapsed_s`, with margin, plus one register step."""
        return self.max_power_w * max(elapsed_s, 0.0) / 3600.0 + 1.0


# --- one meter ------------------------------------------------------------------------------

Security = Literal["auto", "rc4", "tls"]
# Which port of the meter is read: MEP, or the optical port (ANSI C12.18, a USB IR head).
Interface = Literal["mep", "optical"]
# An IR head that echoes what it sends (c1218 notes §1.4): "auto" drops exact copies of what
# mepd just wrote and so finds out; "on" drops as many bytes as were written; "off" nothing.
OpticalEcho = Literal["auto", "on", "off"]
"""p.8: a port takes RC4-mode requests or requires TLS; "auto" finds out and remembers."""


@dataclass(frozen=True)
class MeterSettings:
    """Everything the poller needs to know about one meter."""

    key: MepKey
    encrypt: bool = False  # RC4 mode only: encrypt the exchanges (p.11)
    security: Security = "auto"
    tls_client_id: int = DEFAULT_CLIENT_ID  # p.18: only logged by the meter
    tls_engine: str = "pure"
    # "optical": the optical port (ANSI C12.18) with `key.supplied` as its password.
    interface: Interface = "mep"
    optical_echo: OpticalEcho = "auto"
    schedule: Schedule = field(default_factory=Schedule)
    limits: PlausibilityLimits = field(default_factory=PlausibilityLimits)
    state_path: Path | None = None
    # No good read for this long: the meter's entities go unavailable.
    stale_after_s: float = 10.0
    diagnostics_every_s: float = 60.0
    alert_check_every_s: float = 600.0


@dataclass(frozen=True)
class GpioLines:
    """BCM numbers and polarities; None where the line is not wired. Defaults: the mepd HAT."""

    transceiver_power: int | None = DEFAULT_PINS.transceiver_power
    transceiver_power_active_high: bool = DEFAULT_PINS.transceiver_power_active_high
    mep_enable: int | None = DEFAULT_PINS.mep_enable
    mep_enable_active_high: bool = DEFAULT_PINS.mep_enable_active_high
    meter_sense: int | None = DEFAULT_PINS.meter_sense
    meter_sense_active_high: bool = DEFAULT_PINS.meter_sense_active_high
    link_led: int | None = DEFAULT_PINS.link_led
    power_led: int | None = DEFAULT_PINS.power_led


# --- the broker and Home Assistant ------------------------------------------------------------


@dataclass(frozen=True)
class TlsSettings:
    """TLS to the broker. No `ca_file`: the system's CA store."""

    ca_file: Path | None = None
    cert_file: Path | None = None  # client certificate, optional
    key_file: Path | None = None  # its private key
    verify_hostname: bool = True


@dataclass(frozen=True)
class MqttSettings:
    host: str = "localhost"
    port: int | None = None  # None: 1883, or 8883 with TLS
    client_id: str | None = None  # None: "mepd-<gateway id>", stable across restarts
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)
    tls: TlsSettings | None = None
    keepalive_s: int = 60
    topic_prefix: str = "mepd"
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 120.0
    # The broker's own bound on every packet, when known (mepd's embedded demo broker): at or
    # under mepd's, MQTT 3.1.1 lets no larger message through either, and nothing is warned.
    broker_max_packet_bytes: int | None = None

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 8883 if self.tls is not None else 1883


@dataclass(frozen=True)
class DiscoverySettings:
    enabled: bool = True
    prefix: str = "homeassistant"
    # Home Assistant's birth/last-will topic; "online" there means: send the configs again.
    status_topic: str = "homeassistant/status"
    # Names this gateway in unique ids and topics; None: the publisher derives a stable one.
    gateway_id: str | None = None


# The energy registers whose Home Assistant statistics can be backfilled (the Energy dashboard's).
BACKFILL_REGISTERS = (ValueName.ENERGY_IMPORT.value, ValueName.ENERGY_EXPORT.value)


@dataclass(frozen=True)
class HaStatisticsSettings:
    """`[homeassistant.statistics]`: backfill Home Assistant's energy statistics (opt-in).

    `url` is the websocket endpoint (`ws[s]://host:port/api/websocket`); `meters` the configured
    meter names whose intervals are imported (empty: all); `registers` the energy `ValueName`s.
    """

    url: str
    token: Secret = field(repr=False)
    token_origin: str  # where the token comes from, for messages: never the token itself
    meters: frozenset[str] = frozenset()
    registers: tuple[str, ...] = BACKFILL_REGISTERS
