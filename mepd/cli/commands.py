"""The command line's thin layer over the daemon: run, check-config, probe, dump, remove-discovery.

Each handler loads the configuration (with the shared overrides), calls one function that
knows nothing of argparse, and prints what a person needs. Errors are `MepdError`s, which
`mepd.cli` turns into one line and exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import TYPE_CHECKING, Any

from mepd.config import add_override_arguments, config_from_args
from mepd.errors import ConfigError

if TYPE_CHECKING:
    from mepd.config import Config, MeterConfig
    from mepd.drivers.gpio import LinkControl

EXIT_OK = 0

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    run = subparsers.add_parser(
        "run",
        help="the daemon: poll the configured meters and publish to MQTT",
        description=(
            "Poll every configured meter and publish its readings over MQTT, with Home "
            "Assistant discovery. Runs until SIGTERM or Ctrl-C; under systemd it reports "
            "readiness and feeds the watchdog."
        ),
    )
    add_override_arguments(run)
    run.set_defaults(handler=_run)

    check = subparsers.add_parser(
        "check-config",
        help="validate a configuration file and say what it configures",
        description=(
            "Load FILE as `mepd run` would, read every key it names (the key is never printed) "
            "and print a summary. Exit 0 if it is valid, 1 with the file, line and key if not."
        ),
    )
    check.add_argument("file", metavar="FILE", help="the configuration file to check")
    check.set_defaults(handler=_check_config)

    probe = subparsers.add_parser(
        "probe",
        help="connect, authenticate and print the meter's identity and one reading",
        description=(
            "Read one meter once, with the same start-up and checks `mepd run` uses. Exit 0 "
            "with the identity and a decoded reading, or 1 with the precise reason."
        ),
    )
    add_override_arguments(probe)
    _add_meter_argument(probe)
    probe.add_argument(
        "--timeout", type=float, default=45.0, metavar="S", help="give up after S seconds"
    )
    probe.set_defaults(handler=_probe)

    dump = subparsers.add_parser(
        "dump",
        help="print one table of the meter in hex and decoded",
        description=(
            "Read TABLE (BT28, ET03, or a number such as 2051) and print its verified bytes "
            "and, where mepd has a decoder, its fields with units."
        ),
    )
    dump.add_argument("table", metavar="TABLE", help="BTnn, ETnn or a table number")
    dump.add_argument("--offset", type=int, default=0, help="first byte to read (default 0)")
    dump.add_argument("--count", type=int, default=None, help="bytes to read (default: all)")
    add_override_arguments(dump)
    _add_meter_argument(dump)
    dump.set_defaults(handler=_dump)

    remove = subparsers.add_parser(
        "remove-discovery",
        help="delete mepd's devices from Home Assistant (retained discovery configs)",
        description=(
            "Clear every retained Home Assistant discovery config and availability topic mepd "
            "published on the configured broker. mepd never does this on its own: a restart "
            "must not drop your entities' history. Stop mepd first (sudo systemctl stop mepd): "
            "a running mepd announces its devices again."
        ),
    )
    add_override_arguments(remove)
    remove.set_defaults(handler=_remove_discovery)


def _add_meter_argument(parser: argparse.ArgumentParser) -> None:
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
    from mepd.drivers.gpio import GpioLinkControl, NoLinkControl  # noqa: PLC0415

    return GpioLinkControl(meter.gpio) if meter.gpio else NoLinkControl()


def _run(args: argparse.Namespace) -> int:
    from mepd.service.daemon import serve  # noqa: PLC0415 - the daemon's imports only for `run`

    config = config_from_args(args)
    apply_log_level(config, args)
    asyncio.run(serve(config))
    return EXIT_OK


def _check_config(args: argparse.Namespace) -> int:
    from pathlib import Path  # noqa: PLC0415

    from mepd.config import load_config  # noqa: PLC0415
    from mepd.service.daemon import describe_broker  # noqa: PLC0415

    config = load_config(Path(args.file))
    print(f"{args.file}: valid")
    for meter in config.meters:
        lines = "HAT GPIO lines" if meter.gpio else "no GPIO lines"
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
    print(f"  state directory: {config.state_directory}")
    for warning in config.warnings:
        print(f"  warning: {warning}")
    return EXIT_OK


def _probe(args: argparse.Namespace) -> int:
    from mepd.cli.probe import probe, report  # noqa: PLC0415
    from mepd.drivers.serial import SerialPort  # noqa: PLC0415

    config = config_from_args(args)
    apply_log_level(config, args)
    meter = choose_meter(config, args.meter)
    result = asyncio.run(
        probe(
            meter.settings(),
            SerialPort(meter.port, meter.baud),
            make_control(meter),
            timeout_s=args.timeout,
        )
    )
    print("\n".join(report(result)))
    return EXIT_OK


def _dump(args: argparse.Namespace) -> int:
    from mepd.cli.dump import describe, dump_table, hex_lines, parse_table, table_name  # noqa: PLC0415
    from mepd.drivers.serial import SerialPort  # noqa: PLC0415

    table = parse_table(args.table)
    config = config_from_args(args)
    apply_log_level(config, args)
    meter = choose_meter(config, args.meter)
    key = meter.settings().key
    dump = asyncio.run(
        dump_table(
            SerialPort(meter.port, meter.baud),
            make_control(meter),
            key,
            table,
            offset=args.offset,
            count=args.count,
            encrypt=meter.encrypt,
        )
    )
    print(f"{table_name(table)} (table {table}), {len(dump.data)} bytes from offset {dump.offset}:")
    print("\n".join(hex_lines(dump.data, dump.offset)) or "(no bytes)")
    if dump.decoded is not None:
        print("decoded:")
        print("\n".join(describe(dump.decoded, "  ")))
    elif dump.note:
        print(f"not decoded: {dump.note}")
    return EXIT_OK


def _remove_discovery(args: argparse.Namespace) -> int:
    from mepd.publish.removal import remove_discovery  # noqa: PLC0415

    config = config_from_args(args, require_key=False)
    apply_log_level(config, args)
    removed = asyncio.run(remove_discovery(config.mqtt, config.discovery))
    for topic in removed:
        print(f"cleared {topic}")
    print(f"removed {len(removed)} retained topic(s)", file=sys.stderr)
    return EXIT_OK
