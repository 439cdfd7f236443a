"""`mepd simulate`'s work: a simulated meter on a pseudo-terminal, for development without hardware.

The options are parsed by `mepd.cli.simulate`; this module knows no argparse. The first line on
stdout is the tty path; point any serial client (mepd, socat, tio) at it. Runs until SIGINT or
SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Sequence

from mepd.drivers.simulator.driver import LinePort, PtyMeter
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.faults import FaultSettings, parse_faults
from mepd.drivers.simulator.optical import optical_meter
from mepd.drivers.simulator.profiles import PROFILES
from mepd.drivers.tls_engine import check_engine
from mepd.errors import ConfigError
from mepd.protocol.keys import parse_key
from mepd.protocol.timing import DEFAULT_BAUD


def check_options(
    *,
    faults: Sequence[str] = (),
    key: str = DEMO_MBK,
    mak: str | None = None,
    baud: int = DEFAULT_BAUD,
    tls: str | None = None,
) -> FaultSettings:
    """The parsed faults; a `ConfigError` or `KeyFormatError` (never echoing a key) if any
    option is wrong, before anything starts."""
    settings = parse_faults(list(faults))
    parse_key(key)
    if mak is not None:
        parse_key(mak)
    if baud <= 0:
        raise ConfigError(f"--baud must be positive, got {baud}")
    if tls is not None:
        check_engine(tls)
    return settings


def simulate(
    profile: str,
    *,
    faults: FaultSettings,
    key: str = DEMO_MBK,
    mak: str | None = None,
    baud: int = DEFAULT_BAUD,
    seed: int = 0,
    alerts: bool = False,
    tls: str | None = None,
    require_tls: bool = False,
    interface: str = "mep",
) -> None:
    """Serve the simulated meter until SIGINT or SIGTERM (options from `check_options`).

    `interface = "optical"` serves the optical port (C12.18) instead, with `key` as the optical
    password (all 20 bytes, OPG p.13)."""
    if interface == "optical":
        optical = optical_meter(
            PROFILES[profile],
            password=key,
            seed=seed,
            epoch=time.monotonic(),
            start_wall=time.time(),
            baud=baud,
            faults=faults,
        )
        asyncio.run(_serve(optical, f"simulated {profile} meter's optical port at {baud} baud", ""))
        return
    port = simulated_meter(
        PROFILES[profile],
        mbk=key,
        mak=mak,
        seed=seed,
        epoch=time.monotonic(),
        start_wall=time.time(),
        baud=baud,
        alerts=alerts,
        faults=faults,
        tls=tls,
        requires_tls=require_tls,
    )
    what = f"simulated {profile} meter ({PROFILES[profile].description}) at {baud} baud"
    asyncio.run(_serve(port, what, _security(tls, require_tls)))


def _security(tls: str | None, require_tls: bool) -> str:
    if require_tls:
        return f", TLS required ({tls or 'pure'} engine)"
    if tls:
        return f", RC4 and TLS ({tls} engine)"
    return ""


async def _serve(port: LinePort, what: str, security: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with PtyMeter(port) as meter:
            print(meter.path, flush=True)
            print(f"{what} on {meter.path}{security}", file=sys.stderr, flush=True)
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(signum)
