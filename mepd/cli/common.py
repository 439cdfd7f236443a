"""What several commands share: the --meter option, the log level, the chosen meter, its lines.

Standard library only at import time, like every command module: `mepd --help` imports them all.
"""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from mepd.errors import ConfigError

if TYPE_CHECKING:
    from mepd.config.resolved import Config, MeterConfig
    from mepd.drivers.gpio import LinkControl

EXIT_OK = 0
EXIT_INTERRUPTED = 130  # README's exit codes: Ctrl-C

# What the simulator offers (`mepd.drivers.simulator`: PROFILES, DEMO_MBK, FAULT_NAMES, and
# `mepd.drivers.tls_engine.ENGINES`), named here so that `--help` needs no simulator import.
# tests/cli/test_commands.py checks that they agree.
SIMULATED_PROFILES = (
    "ct-10",
    "ct-100",
    "demands",
    "dk-83331",
    "fw-350",
    "gen3",
    "gen4",
    "gen4-mbus",
    "single-phase",
)
DEMO_KEY = "MEPD-DEMO-KEY-000001"  # documented, not a secret
FAULT_NAMES = (
    "tx_corrupt_rate",
    "tx_drop_rate",
    "rx_corrupt_rate",
    "rx_drop_rate",
    "lose_response_rate",
    "delay_response_rate",
    "delay_seconds",
    "latchup_rate",
    "optical_takeover_rate",
    "optical_seconds",
    "idt_bump_rate",
    "tls_session_loss_rate",
    "key_mismatch",
    "reject_bt23_full_read",
    "corrupt_first_requests",
    "energy_offset_wh",
    "nak_rate",
    "busy_rate",
    "event_rate",
    "event_log_capacity",
    "lp_interval_min",
    "lp_blocks",
    "lp_block_intervals",
)
TLS_ENGINES = ("pure", "mbedtls")
DEFAULT_BAUD = 9600  # p.20

log = logging.getLogger(__name__)


def add_meter_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--meter", metavar="NAME", help="which configured meter (needed when there are several)"
    )


def apply_log_level(config: Config, args: argparse.Namespace) -> None:
    """The config's [logging] level, unless -v or -q said otherwise on the command line."""
    if not (getattr(args, "verbose", 0) or getattr(args, "quiet", 0)):
        logging.getLogger().setLevel(config.log_level)
    for warning in config.warnings:
        log.warning("%s", warning)


def choose_meter(config: Config, name: str | None) -> MeterConfig:
    if name is None:
        if len(config.meters) > 1:
            names = ", ".join(meter.name for meter in config.meters)
            raise ConfigError(f"several meters are configured ({names}): choose one with --meter")
        return config.meters[0]
    for meter in config.meters:
        if meter.name == name:
            return meter
    names = ", ".join(meter.name for meter in config.meters)
    raise ConfigError(f"no meter named {name!r} in the configuration (there is: {names})")


def make_control(meter: MeterConfig) -> LinkControl:
    """The HAT's lines when the meter has them (`auto`: the HAT is found), else a stand-in."""
    from mepd.drivers.gpio import link_control_for  # noqa: PLC0415 - gpiozero

    return link_control_for(meter.gpio, auto=meter.gpio_auto)
