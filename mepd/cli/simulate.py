"""`mepd simulate`: a simulated MEP meter on a pseudo-terminal (mepd.drivers.simulator.command).

The first line on stdout is the tty path. Runs until SIGINT or SIGTERM, then exits 0; a wrong
option ends it at once with one line and exit code 2.

A key on the command line is visible to every user in `ps`: `--key-file` and `--mak-file`
read them from a private file instead (the same checks as mepd's own key file: mode 600,
owned by the user running it or root). `--key` stays for the demo key and scripts; any other
key given that way gets a warning.
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
    parser.add_argument(
        "--interface",
        choices=("mep", "optical"),
        default="mep",
        help="serve the MEP port (default) or the optical port (ANSI C12.18; the key is then "
        "the optical password)",
    )
    parser.add_argument(
        "--profile",
        choices=SIMULATED_PROFILES,
        default="gen4",
        metavar="NAME",
        help=f"which meter to be (default gen4): {', '.join(SIMULATED_PROFILES)}",
    )
    parser.add_argument("--baud", type=int, default=DEFAULT_BAUD, help="line speed (8N1)")
    key = parser.add_mutually_exclusive_group()
    key.add_argument(
        "--key",
        default=None,
        help=f"the meter's MBK (default: the demo key {DEMO_KEY!r}, not a secret); "
        "visible in ps: prefer --key-file for any other key",
    )
    key.add_argument(
        "--key-file", default=None, metavar="PATH", help="read the MBK from a private file"
    )
    mak = parser.add_mutually_exclusive_group()
    mak.add_argument("--mak", default=None, help="the meter's MAK (default: none); visible in ps")
    mak.add_argument(
        "--mak-file", default=None, metavar="PATH", help="read the MAK from a private file"
    )
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
    from mepd.config.keysource import SecretUnavailable  # noqa: PLC0415
    from mepd.drivers.simulator.command import check_options, simulate  # noqa: PLC0415
    from mepd.protocol.errors import KeyFormatError  # noqa: PLC0415

    try:
        key = _secret(args.key, args.key_file, "meter key (MBK)")
        key = DEMO_KEY if key is None else key
        mak = _secret(args.mak, args.mak_file, "meter key (MAK)")
        faults = check_options(faults=args.fault, key=key, mak=mak, baud=args.baud, tls=args.tls)
    except (ConfigError, KeyFormatError, SecretUnavailable) as error:
        # One line; the key itself is never echoed (parse_key's messages describe its shape).
        print(f"mepd simulate: {error}", file=sys.stderr)
        return EXIT_USAGE
    if (args.key is not None and args.key != DEMO_KEY) or args.mak is not None:
        print(
            "mepd simulate: warning: a key given on the command line is visible to every "
            "user in ps; use --key-file / --mak-file",
            file=sys.stderr,
        )
    simulate(
        args.profile,
        faults=faults,
        key=key,
        mak=mak,
        baud=args.baud,
        seed=args.seed,
        alerts=args.alerts,
        tls=args.tls,
        require_tls=args.require_tls,
        interface=args.interface,
    )
    return EXIT_OK


def _secret(given: str | None, path: str | None, what: str) -> str | None:
    """The key given on the command line, or read from its private file."""
    if path is None:
        return given
    from pathlib import Path  # noqa: PLC0415

    from mepd.config.keysource import read_private_file  # noqa: PLC0415

    return read_private_file(Path(path), what)  # parse_key strips it, as for mepd's own
