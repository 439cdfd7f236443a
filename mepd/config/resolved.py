"""The configuration as the daemon uses it: per-meter objects with every default applied and
every secret read, and the publisher's settings. Plain frozen values; no TOML, no pydantic.

Secrets stay out of `repr`: `MepKey` and `MqttSettings.password` redact themselves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from mepd.errors import ConfigError
from mepd.protocol.keys import MepKey
from mepd.protocol.tls.codes import DEFAULT_CLIENT_ID
from mepd.settings import (
    DiscoverySettings,
    GpioLines,
    HaStatisticsSettings,
    Interface,
    MeterSettings,
    MqttSettings,
    OpticalEcho,
    PlausibilityLimits,
    Schedule,
    Security,
)


@dataclass(frozen=True, kw_only=True)
class MeterConfig:
    """One meter: its port, its control lines, its key and how it is polled."""

    name: str  # unique; names the state file, e.g. "mep0"
    port: str  # device path or pyserial URL, for `SerialPort(port, baud)`
    baud: int
    gpio: GpioLines | None  # None: a plain USB adapter, use `NoLinkControl`
    gpio_auto: bool = False  # [gpio] enabled = "auto": use `gpio` only where the HAT is found
    key: MepKey | None = field(repr=False)  # None only if loaded with require_key=False
    key_origin: str  # where the key comes from, for messages: never the key itself
    encrypt: bool
    security: Security = "auto"
    tls_client_id: int = DEFAULT_CLIENT_ID
    tls_engine: str = "pure"
    interface: Interface = "mep"
    optical_echo: OpticalEcho = "auto"
    schedule: Schedule
    limits: PlausibilityLimits
    state_path: Path

    def settings(self, *, key: MepKey | None = None, keep_state: bool = True) -> MeterSettings:
        """The poller's settings; `key` replaces the configured one (the demo's simulator key).

        `keep_state=False`: no state file is read or written (`probe`, `doctor`: a look that
        leaves nothing behind, not even the state directory).
        """
        chosen = key or self.key
        if chosen is None:
            raise ConfigError(
                f"meter {self.name!r}: no key was read ({self.key_origin}); "
                f"load the configuration with its key"
            )
        return MeterSettings(
            key=chosen,
            encrypt=self.encrypt,
            security=self.security,
            tls_client_id=self.tls_client_id,
            tls_engine=self.tls_engine,
            interface=self.interface,
            optical_echo=self.optical_echo,
            schedule=self.schedule,
            limits=self.limits,
            state_path=self.state_path if keep_state else None,
        )


@dataclass(frozen=True, kw_only=True)
class Config:
    """Everything mepd was configured with, ready to use."""

    source: Path | None  # the file read; None: the built-in defaults
    meters: tuple[MeterConfig, ...]  # at least one; names and ports are unique
    state_directory: Path
    log_level_name: str  # "debug", "info", "warning" or "error"
    # Things that work but should not stay that way (a world-readable inline key, ...).
    warnings: tuple[str, ...] = ()
    mqtt: MqttSettings
    discovery: DiscoverySettings
    ha_statistics: HaStatisticsSettings | None = None  # [homeassistant.statistics]: opt-in

    @property
    def log_level(self) -> int:
        """The `logging` level number of `[logging] level`."""
        return logging.getLevelNamesMapping()[self.log_level_name.upper()]
