"""The `mepd` command line. Every user mistake ends in one clear line and an exit code."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from mepd import __version__
from mepd.errors import ConfigError, KeyFormatError, MepdError

# Exit codes (documented in the README).
EXIT_OK = 0
EXIT_FAILURE = 1  # a MepdError: the message says what and how to fix it
EXIT_USAGE = 2  # argparse's own code for a malformed command line
EXIT_CONFIG = 78  # sysexits' EX_CONFIG: the configuration or key; restarting will not help
EXIT_INTERRUPTED = 130

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mepd",
        description="Read OSGP smart meters through their MEP port and publish to MQTT.",
    )
    parser.add_argument("--version", action="version", version=f"mepd {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log detail")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="less log detail")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    from mepd import commands as daemon_commands
    from mepd import demo, doctor
    from mepd.drivers.simulator import command as simulate

    daemon_commands.register(commands)
    doctor.register(commands)
    demo.register(commands)
    simulate.register(commands)
    return parser


def _configure_logging(verbose: int, quiet: int) -> None:
    level = logging.INFO + 10 * (quiet - verbose)
    logging.basicConfig(
        level=max(logging.DEBUG, min(logging.CRITICAL, level)),
        stream=sys.stderr,
        # journald adds its own timestamps; keep lines short and greppable.
        format="%(levelname)s %(name)s: %(message)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, args.quiet)
    handler: Command = args.handler
    try:
        return handler(args)
    except (ConfigError, KeyFormatError) as error:
        print(f"mepd: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except MepdError as error:
        print(f"mepd: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
