"""The configuration file's shape: one pydantic model per TOML table, strict and closed.

Closed (extra="forbid") so a misspelt key is an error with a line number, never a setting
silently ignored; strict so `baud = "9600"` is questioned rather than guessed at. A model checks
only its own values: checks that need a meter's tables merged over the top-level defaults
(duplicate pins, the read budget) and anything that reads a file run in `load.py`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    SecretStr,
    model_validator,
)

from mepd.config.defaults import DEFAULT_SERIAL_PORT, DEFAULT_STATE_DIRECTORY
from mepd.config.overrides import HOSTNAME
from mepd.drivers.hat import DEFAULT_PINS, HatPins
from mepd.protocol.timing import DEFAULT_BAUD
from mepd.protocol.tls.codes import DEFAULT_CLIENT_ID
from mepd.settings import BACKFILL_REGISTERS, PlausibilityLimits, Schedule

# Fields whose values are secrets: an error about them never shows what was written there.
SECRET_FIELDS = frozenset({"key", "password", "token"})

BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
# BCM lines on the 40-pin header that are never free for mepd's control lines.
RESERVED_GPIO = {
    HatPins.ID_SD: "ID EEPROM data line (ID_SD)",
    HatPins.ID_SC: "ID EEPROM clock line (ID_SC)",
    HatPins.UART_TXD: "UART TXD, the meter's serial line",
    HatPins.UART_RXD: "UART RXD, the meter's serial line",
}
HIGHEST_GPIO = 27

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# systemd credential names: a file name in $CREDENTIALS_DIRECTORY, never a path.
_CREDENTIAL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}")
_SERIAL_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+")
_CLIENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


class Section(BaseModel):
    """Common rules of every table: closed, strict, immutable, no input echoed by pydantic."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, hide_input_in_errors=True)


# --- value types -------------------------------------------------------------------------------


def _between(low: float, high: float, unit: str, why: str = "") -> AfterValidator:
    def check(value: float) -> float:
        if not low <= value <= high:
            raise ValueError(f"expected {low:g} to {high:g} {unit}{why}")
        return value

    return AfterValidator(check)


def _matching(pattern: re.Pattern[str], expected: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"expected {expected}")
        return value

    return AfterValidator(check)


def _path_text(value: str) -> str:
    if not value or value != value.strip() or "\0" in value:
        raise ValueError("expected a file path")
    return value


def _serial_port(value: str) -> str:
    if _SERIAL_URL.fullmatch(value):
        return value  # pyserial URL, e.g. socket://host:port for ser2net
    if value.startswith("/") and len(value) > 1 and value == value.strip() and "\0" not in value:
        return value
    raise ValueError(
        "expected a device path such as /dev/ttyUSB0 or /dev/serial/by-id/..., "
        "or a pyserial URL such as socket://host:port"
    )


def _baud(value: int) -> int:
    if value not in BAUD_RATES:
        rates = ", ".join(str(rate) for rate in BAUD_RATES)
        raise ValueError(f"expected one of {rates}; MEP ports run at 9600 (MEP guide p.20)")
    return value


def _gpio_line(value: object) -> object:
    """TOML has no null: `false` marks a line that is not wired."""
    if value is False or value is None:
        return None
    expected = f"expected a BCM GPIO number 2-{HIGHEST_GPIO}, or false if the line is not wired"
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= HIGHEST_GPIO:
        raise ValueError(expected)
    if value in RESERVED_GPIO:
        raise ValueError(f"GPIO {value} is the Pi's {RESERVED_GPIO[value]}; {expected}")
    return value


def _gpio_enabled(value: object) -> object:
    """true, false or "auto": the HAT's lines only where its EEPROM names it."""
    if value is True or value is False or value == "auto":
        return value
    raise ValueError('expected true, false or "auto" (use the lines where the HAT is found)')


def _topic(value: str) -> str:
    if not value or value != value.strip() or "\0" in value:
        raise ValueError("expected a non-empty MQTT topic without surrounding spaces")
    if "+" in value or "#" in value:
        raise ValueError("expected an MQTT topic without the wildcards + and #")
    if value.startswith("/") or value.endswith("/"):
        raise ValueError("expected an MQTT topic that neither starts nor ends with '/'")
    return value


def _host(value: str) -> str:
    if "://" in value:
        raise ValueError(
            "expected a host name or address, not a URL (on the command line, --mqtt takes a URL)"
        )
    bare = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    if ":" in value and value.count(":") == 1:
        raise ValueError("expected a host name or address without a port (set mqtt.port)")
    if not HOSTNAME.fullmatch(value) or len(value) > 253:
        raise ValueError("expected a host name or IP address")
    return value


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


MeterName = Annotated[
    str,
    _matching(
        _NAME,
        "1-64 letters, digits, '-' or '_', starting with a letter or digit "
        "(it names the meter's state file)",
    ),
]
CredentialName = Annotated[
    str, _matching(_CREDENTIAL, "a systemd credential name (letters, digits, '_', '-', '.')")
]
Identifier = Annotated[str, _matching(_NAME, "1-64 letters, digits, '-' or '_'")]
PathText = Annotated[str, AfterValidator(_path_text)]
SerialPortText = Annotated[str, AfterValidator(_serial_port)]
Baud = Annotated[int, AfterValidator(_baud)]
GpioLine = Annotated[int | None, BeforeValidator(_gpio_line)]
Topic = Annotated[str, AfterValidator(_topic)]
Host = Annotated[str, AfterValidator(_host)]
ClientId = Annotated[str, _matching(_CLIENT_ID, "1-128 letters, digits or '_.:-'")]
Username = Annotated[str, _matching(re.compile(r"[^\0]{1,256}"), "a non-empty user name")]
NetworkPort = Annotated[int, _between(1, 65535, "(a TCP port)")]
LogLevel = Annotated[Literal["debug", "info", "warning", "error"], BeforeValidator(_lower)]

_SCHEDULE = Schedule()
_LIMITS = PlausibilityLimits()
_AT_MOST_ONE_READ_PER_S = ": the meter takes at most one table read per second (MEP guide p.51)"


def _only_one(section: BaseModel, names: tuple[str, ...]) -> None:
    given = [name for name in names if getattr(section, name) is not None]
    if len(given) > 1:
        raise ValueError(f"expected only one of {', '.join(names)}; found {' and '.join(given)}")


# --- tables --------------------------------------------------------------------------------


class SerialSection(Section):
    port: SerialPortText = DEFAULT_SERIAL_PORT
    baud: Baud = DEFAULT_BAUD


class GpioSection(Section):
    # "auto": the HAT's lines only where its HAT+ EEPROM names it (mepd.drivers.gpio.hat_present)
    enabled: Annotated[bool | Literal["auto"], PlainValidator(_gpio_enabled)] = "auto"
    transceiver_power: GpioLine = DEFAULT_PINS.transceiver_power
    transceiver_power_active_high: bool = DEFAULT_PINS.transceiver_power_active_high
    mep_enable: GpioLine = DEFAULT_PINS.mep_enable
    mep_enable_active_high: bool = DEFAULT_PINS.mep_enable_active_high
    meter_sense: GpioLine = DEFAULT_PINS.meter_sense
    meter_sense_active_high: bool = DEFAULT_PINS.meter_sense_active_high
    link_led: GpioLine = DEFAULT_PINS.link_led
    power_led: GpioLine = DEFAULT_PINS.power_led


class ScheduleSection(Section):
    present_s: Annotated[float, _between(1, 3600, "seconds", _AT_MOST_ONE_READ_PER_S)] = (
        _SCHEDULE.present_s
    )
    energy_s: Annotated[float, _between(1, 86400, "seconds", _AT_MOST_ONE_READ_PER_S)] = (
        _SCHEDULE.energy_s
    )
    clock_s: Annotated[float, _between(1, 86400, "seconds", _AT_MOST_ONE_READ_PER_S)] = (
        _SCHEDULE.clock_s
    )


class LimitsSection(Section):
    main_fuse_a: Annotated[float, _between(1, 1000, "A (the main fuse per phase)")] = (
        _LIMITS.main_fuse_a
    )
    phases: Annotated[int, _between(1, 3, "phases")] = _LIMITS.phases
    nominal_voltage_v: Annotated[
        float, _between(100, 300, "V (phase to neutral: 230 in Europe)")
    ] = _LIMITS.nominal_voltage_v


class MeterSection(Section):
    """`[meter]`, or one `[[meters]]` entry; its sub-tables override the top-level ones."""

    name: MeterName | None = None
    key: SecretStr | None = None
    key_file: PathText | None = None
    key_credential: CredentialName | None = None
    encrypt: bool = False
    security: Literal["auto", "rc4", "tls"] = "auto"
    tls_client_id: Annotated[int, Field(ge=0, le=0xFFFF)] = DEFAULT_CLIENT_ID
    tls_engine: Literal["pure", "mbedtls"] = "pure"
    # Which port of the meter: MEP (default), or the optical port read with a USB IR head
    # (ANSI C12.18); for "optical" the key is the optical password (OPG p.13).
    interface: Literal["mep", "optical"] = "mep"
    # An optical IR head that echoes what it sends (c1218 notes §1.4): "auto" finds out.
    optical_echo: Literal["auto", "on", "off"] = "auto"
    serial: SerialSection | None = None
    gpio: GpioSection | None = None
    schedule: ScheduleSection | None = None
    limits: LimitsSection | None = None

    @model_validator(mode="after")
    def _one_key_source(self) -> MeterSection:
        _only_one(self, ("key", "key_file", "key_credential"))
        if self.interface == "optical" and (self.encrypt or self.security == "tls"):
            raise ValueError(
                'interface = "optical" has no RC4 encryption or TLS (c1218 notes §8.3): '
                "remove encrypt and security"
            )
        if self.optical_echo != "auto" and self.interface != "optical":
            raise ValueError(
                'optical_echo is for an optical IR head: set interface = "optical" or remove '
                "optical_echo"
            )
        if self.encrypt and self.security == "tls":
            raise ValueError(
                'encrypt = true is RC4 mode\'s encryption; with security = "tls" everything is '
                "encrypted by TLS already: remove encrypt"
            )
        return self


class TlsSection(Section):
    enabled: bool = False
    ca_file: PathText | None = None  # None: the system's CA store
    cert_file: PathText | None = None
    key_file: PathText | None = None
    verify_hostname: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> TlsSection:
        files = [name for name in ("ca_file", "cert_file", "key_file") if getattr(self, name)]
        if files and not self.enabled:
            # Never fall back to plain text because one line was forgotten.
            raise ValueError(f"{files[0]} is set but enabled = false; expected enabled = true")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("expected cert_file and key_file together (a client certificate)")
        return self


class MqttSection(Section):
    host: Host = "localhost"
    port: NetworkPort | None = None  # None: 1883, or 8883 with TLS
    client_id: ClientId | None = None
    username: Username | None = None
    password: SecretStr | None = None
    password_file: PathText | None = None
    password_credential: CredentialName | None = None
    keepalive_s: Annotated[int, _between(5, 3600, "seconds")] = 60
    topic_prefix: Topic = "mepd"
    tls: TlsSection = Field(default_factory=TlsSection)

    @model_validator(mode="after")
    def _credentials(self) -> MqttSection:
        sources = ("password", "password_file", "password_credential")
        _only_one(self, sources)
        if self.username is None and any(getattr(self, name) is not None for name in sources):
            raise ValueError('a password needs a username; expected username = "..."')
        return self


def _ha_url(value: str) -> str:
    if not re.fullmatch(r"(?:wss?|https?)://[^/\s?#]+(?:/[^\s?#]*)?", value):
        raise ValueError(
            "expected Home Assistant's address, e.g. http://homeassistant.local:8123 "
            "(or ws[s]://.../api/websocket)"
        )
    return value


HaUrl = Annotated[str, AfterValidator(_ha_url)]


class StatisticsSection(Section):
    """`[homeassistant.statistics]`: backfill HA's energy statistics from the load profile."""

    url: HaUrl
    token: SecretStr | None = None
    token_file: PathText | None = None
    token_credential: CredentialName | None = None
    meters: list[MeterName] = Field(default_factory=list)  # empty: every meter
    registers: list[Literal[BACKFILL_REGISTERS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(BACKFILL_REGISTERS)
    )

    @model_validator(mode="after")
    def _one_token(self) -> StatisticsSection:
        _only_one(self, ("token", "token_file", "token_credential"))
        if self.token is None and self.token_file is None and self.token_credential is None:
            raise ValueError(
                "expected token_file, token_credential or token: a long-lived access token "
                "from your Home Assistant profile page"
            )
        return self


class HomeAssistantSection(Section):
    discovery: bool = True
    discovery_prefix: Topic = "homeassistant"
    status_topic: Topic = "homeassistant/status"
    gateway_id: Identifier | None = None  # None: the publisher derives a stable one
    statistics: StatisticsSection | None = None  # None: no backfill (opt-in)


class LoggingSection(Section):
    level: LogLevel = "info"


class ConfigFile(Section):
    """The whole file. Either `[meter]` or `[[meters]]`; the top-level device tables are the
    settings of the one meter, or the defaults of several."""

    state_directory: PathText = DEFAULT_STATE_DIRECTORY
    meter: MeterSection | None = None
    meters: list[MeterSection] | None = None
    serial: SerialSection = Field(default_factory=SerialSection)
    gpio: GpioSection = Field(default_factory=GpioSection)
    schedule: ScheduleSection = Field(default_factory=ScheduleSection)
    limits: LimitsSection = Field(default_factory=LimitsSection)
    mqtt: MqttSection = Field(default_factory=MqttSection)
    homeassistant: HomeAssistantSection = Field(default_factory=HomeAssistantSection)
    logging: LoggingSection = Field(default_factory=LoggingSection)


GPIO_LINES = ("transceiver_power", "mep_enable", "meter_sense", "link_led", "power_led")
