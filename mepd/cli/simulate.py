"""`mepd simulate`: a simulated MEP meter on a pseudo-terminal (mepd.drivers.simulator.command).

The first line on stdout is the tty path. Runs until SIGINT or SIGTERM, then exits 0; a wrong
option ends it at once with one line and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mepd.cli.common import (
    DEFAULT_BAUD,
    DEMO_KEY,
    EXIT_OK,
    FAULT_NAMES,
    SIMULATED_PROFILES,
    TLS_ENGINES,
)
from mepd.errors import ConfigError

EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="run a simulated MEP meter on a pseudo-terminal",
        description=(
            "Run a simulated OSGP meter's MEP port on a pseudo-terminal. The first line "
            "printed is the tty path."
        ),
    )
    parser.add_argument("--profile", choices=SIMULATED_PROFILES, default="gen4")
    parser.add_argument(
        "--interface",
        choices=("mep", "optical"),
        default="mep",
        help="serve the MEP port (default) or the optical port (ANSI C12.18; --key is then "
        "the optical password)",
    )
    parser.add_argument("--baud", type=int, default=DEFAULT_BAUD, help="line speed (8N1)")
    parser.add_argument(
        "--key",
        default=DEMO_KEY,
        help=f"the meter's MBK (default: the demo key {DEMO_KEY!r}, not a secret)",
    )
    parser.add_argument("--mak", default=None, help="the meter's MAK (default: none)")
    parser.add_argument("--seed", type=int, default=0, help="seed for physics and faults")
    parser.add_argument("--alerts", action="store_true", help="send 00 00 once a second")
    parser.add_argument(
        "--tls",
        choices=TLS_ENGINES,
        default=None,
        help="also serve TLS mode (p.8-9) with this TLS engine",
    )
    parser.add_argument(
        "--require-tls",
        action="store_true",
        help="refuse RC4 requests (answer 0x0B) as a port set to require TLS does",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"inject a fault; names: {', '.join(FAULT_NAMES)}",
    )
    parser.set_defaults(handler=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    from mepd.drivers.simulator.command import check_options, simulate  # noqa: PLC0415
    from mepd.protocol.errors import KeyFormatError  # noqa: PLC0415

    try:
        faults = check_options(
            faults=args.fault, key=args.key, mak=args.mak, baud=args.baud, tls=args.tls
        )
    except (ConfigError, KeyFormatError) as error:
        # One line; the key itself is never echoed (parse_key's messages describe its shape).
        print(f"mepd simulate: {error}", file=sys.stderr)
        return EXIT_USAGE
    simulate(
        args.profile,
        faults=faults,
        key=args.key,
        mak=args.mak,
        baud=args.baud,
        seed=args.seed,
        alerts=args.alerts,
        tls=args.tls,
        require_tls=args.require_tls,
        interface=args.interface,
    )
    return EXIT_OK
