"""`mepd run`: the daemon. Polls every configured meter and publishes to MQTT until SIGTERM."""

from __future__ import annotations

import argparse
from typing import Any

from mepd.cli.common import EXIT_INTERRUPTED, EXIT_OK, apply_log_level
from mepd.config.overrides import add_interface_argument, add_override_arguments


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
    add_interface_argument(run)
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415 - the event loop only when the command runs
    import signal  # noqa: PLC0415

    from mepd.config.isolated import config_in_child  # noqa: PLC0415

    # Loaded in a child that takes pydantic with it: the daemon never holds its memory.
    config = config_in_child(args)
    from mepd.service.daemon import serve  # noqa: PLC0415 - the daemon's imports only for `run`

    apply_log_level(config, args)
    stopped_by = asyncio.run(serve(config))
    # Ctrl-C is an interruption (130, README's table); SIGTERM is systemd's ordinary stop.
    return EXIT_INTERRUPTED if stopped_by == signal.SIGINT else EXIT_OK
