"""`mepd simulate`: a simulated meter on a pseudo-terminal, for development without hardware.

The first line on stdout is the tty path; point any serial client (mepd, socat, tio) at it.
Runs until SIGINT or SIGTERM, then exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from typing import Any

from mepd.drivers.simulator.driver import PtyMeter
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.faults import FAULT_NAMES, parse_faults
from mepd.drivers.simulator.profiles import PROFILES
from mepd.drivers.tls_engine import ENGINES, check_engine
from mepd.errors import ConfigError
from mepd.protocol.errors import KeyFormatError
from mepd.protocol.keys import parse_key
from mepd.protocol.timing import DEFAULT_BAUD

EXIT_OK = 0
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
    parser.add_argument("--profile", choices=sorted(PROFILES), default="gen4")
    parser.add_argument("--baud", type=int, default=DEFAULT_BAUD, help="line speed (8N1)")
    parser.add_argument(
        "--key",
        default=DEMO_MBK,
        help=f"the meter's MBK (default: the demo key {DEMO_MBK!r}, not a secret)",
    )
    parser.add_argument("--mak", default=None, help="the meter's MAK (default: none)")
    parser.add_argument("--seed", type=int, default=0, help="seed for physics and faults")
    parser.add_argument("--alerts", action="store_true", help="send 00 00 once a second")
    parser.add_argument(
        "--tls",
        choices=ENGINES,
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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        faults = parse_faults(args.fault)
        parse_key(args.key)
        if args.mak is not None:
            parse_key(args.mak)
        if args.baud <= 0:
            raise ConfigError(f"--baud must be positive, got {args.baud}")
        if args.tls is not None:
            check_engine(args.tls)
    except (ConfigError, KeyFormatError) as error:
        # One line; the key itself is never echoed (parse_key's messages describe its shape).
        print(f"mepd simulate: {error}", file=sys.stderr)
        return EXIT_USAGE
    port = simulated_meter(
        PROFILES[args.profile],
        mbk=args.key,
        mak=args.mak,
        seed=args.seed,
        epoch=time.monotonic(),
        start_wall=time.time(),
        baud=args.baud,
        alerts=args.alerts,
        faults=faults,
        tls=args.tls,
        requires_tls=args.require_tls,
    )
    asyncio.run(_serve(port, args))
    return EXIT_OK


def _security(args: argparse.Namespace) -> str:
    if args.require_tls:
        return f", TLS required ({args.tls or 'pure'} engine)"
    if args.tls:
        return f", RC4 and TLS ({args.tls} engine)"
    return ""


async def _serve(port: Any, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with PtyMeter(port) as meter:
            print(meter.path, flush=True)
            print(
                f"simulated {args.profile} meter at {args.baud} baud on {meter.path}"
                + _security(args),
                file=sys.stderr,
                flush=True,
            )
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(signum)
