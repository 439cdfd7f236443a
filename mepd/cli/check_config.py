"""`mepd check-config FILE`: load a file as `mepd run` would and say what it configures."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mepd.cli.common import EXIT_OK


def register(subparsers: Any) -> None:
    check = subparsers.add_parser(
        "check-config",
        help="validate a configuration file and say what it configures",
        description=(
            "Load FILE as `mepd run` would, read every key it names (the key is never printed) "
            "and print a summary. A key that is nowhere yet is a warning that says where "
            "`mepd run` will look for it. Exit 0 if the file is valid (warnings included), 78 "
            "with the file, line and key if it is not, 2 for a malformed command line."
        ),
    )
    check.add_argument("file", metavar="FILE", help="the configuration file to check")
    check.add_argument(
        "--key-file",
        metavar="FILE",
        type=Path,
        help="check with the meter key in FILE, as `mepd run --key-file FILE` would use it "
        "(only with a single meter)",
    )
    check.set_defaults(handler=_check_config)


def _check_config(args: argparse.Namespace) -> int:
    from mepd.config.load import load_config  # noqa: PLC0415 - pydantic only when run
    from mepd.config.overrides import Overrides  # noqa: PLC0415
    from mepd.service.daemon import describe_broker  # noqa: PLC0415

    config = load_config(
        Path(args.file), overrides=Overrides(key_file=args.key_file), missing_key_warns=True
    )
    print(f"{args.file}: valid")
    for meter in config.meters:
        lines = "no GPIO lines"
        if meter.gpio:
            lines = "HAT GPIO lines if the HAT is found" if meter.gpio_auto else "HAT GPIO lines"
        print(
            f"  meter {meter.name}: {meter.port} at {meter.baud} baud, {lines}, "
            f"key from {meter.key_origin}, power every {meter.schedule.present_s:g} s, "
            f"energy every {meter.schedule.energy_s:g} s"
        )
    discovery = config.discovery
    print(f"  MQTT: {describe_broker(config.mqtt)}, topics under {config.mqtt.topic_prefix}/")
    print(
        "  Home Assistant discovery: "
        + (f"on, prefix {discovery.prefix}/" if discovery.enabled else "off")
    )
    statistics = config.ha_statistics
    print(
        "  Home Assistant statistics backfill: "
        + (
            f"on, {statistics.url}, token from {statistics.token_origin}, "
            f"meters {', '.join(sorted(statistics.meters)) or 'all'}, "
            f"registers {', '.join(statistics.registers)}"
            if statistics
            else "off"
        )
    )
    print(f"  state directory: {config.state_directory}")
    for warning in config.warnings:
        print(f"  warning: {warning}")
    return EXIT_OK
