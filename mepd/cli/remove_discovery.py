"""`mepd remove-discovery`: clear mepd's retained Home Assistant discovery configs."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mepd.cli.common import EXIT_OK, apply_log_level
from mepd.config.overrides import BROKER_OPTIONS, add_override_arguments
from mepd.text import printable


def register(subparsers: Any) -> None:
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
    add_override_arguments(remove, BROKER_OPTIONS)
    remove.set_defaults(handler=_remove_discovery)


def _remove_discovery(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415 - the event loop only when the command runs

    from mepd.config.load import config_from_args  # noqa: PLC0415
    from mepd.publish.removal import remove_discovery  # noqa: PLC0415

    config = config_from_args(args, require_key=False)
    apply_log_level(config, args)
    removed = asyncio.run(remove_discovery(config.mqtt, config.discovery))
    for topic in removed:
        print(f"cleared {printable(topic)}")  # a topic name the broker gave
    print(f"removed {len(removed)} retained topic(s)", file=sys.stderr)
    return EXIT_OK
