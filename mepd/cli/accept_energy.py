"""`mepd accept-energy`: the owner accepts a meter's held-back energy as the new baseline.

mepd never lets a published energy register fall or rise faster than the fuse allows, however
often the meter repeats it (`mepd.engine.guard`). When the meter was really replaced or reset
and kept its serial, only its owner can say so: this command leaves a request next to the
meter's state file, and the daemon accepts the next energy reading of that meter (if finite,
non-negative and within a lifetime of the connection), saves it and removes the request.
"""

from __future__ import annotations

import argparse
from typing import Any

from mepd.cli.common import EXIT_OK, add_meter_argument, apply_log_level, choose_meter
from mepd.config.overrides import add_override_arguments


def register(subparsers: Any) -> None:
    accept = subparsers.add_parser(
        "accept-energy",
        help="accept a meter's held-back energy registers as the new baseline",
        description=(
            "When the 'Energy held back' problem is on in Home Assistant and you know why (the "
            "meter was replaced or reset and kept its serial number), accept what the meter "
            "says now: the next energy reading of that meter is published as it is, even if it "
            "is lower or much higher than before, and becomes the new baseline. The running "
            "daemon picks the request up at its next energy read (a stopped one at its next "
            "start). A jump accepted this way stays in Home Assistant's energy statistics for "
            "good: if you do not know why the meter jumped, do not run this."
        ),
    )
    add_override_arguments(accept)
    add_meter_argument(accept)
    accept.set_defaults(handler=_accept_energy)


def _accept_energy(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime  # noqa: PLC0415

    from mepd.config.load import config_from_args  # noqa: PLC0415 - pydantic only when run
    from mepd.engine.state import StateFile, write_accept_request  # noqa: PLC0415

    config = config_from_args(args, require_key=False)
    apply_log_level(config, args)
    meter = choose_meter(config, args.meter)
    known = StateFile(meter.state_path).peek()
    requested = datetime.now(UTC).isoformat(timespec="seconds")
    path = write_accept_request(meter.state_path, known.serial if known else None, requested)
    serial = f" (serial {known.serial})" if known and known.serial else ""
    print(f"meter {meter.name}{serial}: the next energy reading will be the new baseline")
    for name, (value, _) in sorted(known.energy.items()) if known else ():
        print(f"  {name}: last published {value / 1000:.3f} kWh")
    print(
        f"request written to {path}; a running mepd takes it within "
        f"{meter.schedule.energy_s:g} s and logs 'carried out `mepd accept-energy`'"
    )
    return EXIT_OK
