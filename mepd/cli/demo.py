"""`mepd demo`: the whole path, serial bytes to MQTT, on a machine with no meter and no broker.

Parses the options and loads the configuration; the demo itself is `mepd.cli.live_demo`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mepd.cli.common import EXIT_OK, SIMULATED_PROFILES
from mepd.config.overrides import add_override_arguments


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="simulated meter + broker + daemon, printing readings as they are published",
        description=(
            "Start a simulated meter on a pseudo-terminal and run the daemon against it, "
            "publishing to the configured MQTT broker, or to an embedded one if none answers, "
            "and print every reading as it arrives from the broker. Needs no meter, no broker "
            "and no hardware. With --serial it reads a real meter instead (give its key)."
        ),
    )
    parser.add_argument("--profile", choices=SIMULATED_PROFILES, default="gen4")
    parser.add_argument(
        "--seconds", type=float, default=None, help="stop after this long (default: Ctrl-C)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the simulated physics")
    parser.add_argument(
        "--require-tls",
        action="store_true",
        help="simulate a meter whose MEP port requires TLS (mepd finds that out by itself)",
    )
    parser.add_argument(
        "--keep-discovery",
        action="store_true",
        help="leave the simulated devices in Home Assistant when the demo stops (by default "
        "a demo on a real broker removes them again)",
    )
    add_override_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415 - what the demo runs is imported only when it runs

    from mepd.cli.live_demo import demo  # noqa: PLC0415
    from mepd.config.load import config_from_args  # noqa: PLC0415

    real_meter = args.serial is not None
    config = config_from_args(args, require_key=real_meter)
    asyncio.run(
        demo(
            config,
            sys.stdout,
            real_meter=real_meter,
            profile=args.profile,
            seed=args.seed,
            require_tls=args.require_tls,
            seconds=args.seconds,
            keep_discovery=args.keep_discovery,
        )
    )
    return EXIT_OK
