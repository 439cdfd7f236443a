"""`mepd probe`: read one meter once and print its identity and a reading (meter_probe.py)."""

from __future__ import annotations

import argparse
from typing import Any

from mepd.cli.common import EXIT_OK, add_meter_argument, apply_log_level, choose_meter, make_control
from mepd.config.overrides import METER_OPTIONS, add_interface_argument, add_override_arguments


def register(subparsers: Any) -> None:
    probe = subparsers.add_parser(
        "probe",
        help="connect, authenticate and print the meter's identity and one reading",
        description=(
            "Read one meter once, with the same start-up and checks `mepd run` uses. Exit 0 "
            "with the identity and a decoded reading, or 1 with the precise reason."
        ),
    )
    add_override_arguments(probe, METER_OPTIONS)
    add_interface_argument(probe)
    add_meter_argument(probe)
    probe.add_argument(
        "--timeout", type=float, default=45.0, metavar="S", help="give up after S seconds"
    )
    probe.set_defaults(handler=_probe)


def _probe(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415 - the event loop only when the command runs

    from mepd.cli.meter_probe import probe, report  # noqa: PLC0415
    from mepd.config.load import config_from_args  # noqa: PLC0415
    from mepd.drivers.serial import SerialPort  # noqa: PLC0415

    config = config_from_args(args)
    apply_log_level(config, args)
    meter = choose_meter(config, args.meter)
    result = asyncio.run(
        probe(
            meter.settings(keep_state=False),
            SerialPort(meter.port, meter.baud, ir_head=meter.interface == "optical"),
            make_control(meter),
            timeout_s=args.timeout,
        )
    )
    print("\n".join(report(result)))
    return EXIT_OK
