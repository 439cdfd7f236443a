"""The `mepd` command line. Every user mistake ends in one clear line and an exit code."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from mepd import __version__
from mepd.errors import ConfigError, MepdError

# Exit codes (documented in the README).
EXIT_OK = 0
EXIT_FAILURE = 1  # a MepdError: the message says what and how to fix it
EXIT_USAGE = 2  # argparse's own code for a malformed command line
EXIT_CONFIG = 78  # sysexits' EX_CONFIG: the configuration or key; restarting will not help
EXIT_INTERRUPTED = 130

Command = Callable[[argparse.Namespace], int]


# Where each subcommand lives: one module per command, each importing only the standard library
# and argparse-level mepd code until its handler runs. `main` imports only the module of the
# command given, so `mepd run` starts without the demo's, the doctor's or the simulator's
# parsers. With no command, --help or an unknown name, every module registers (the full help).
_COMMAND_MODULES: tuple[tuple[str, str], ...] = (
    ("mepd.cli.run", "run"),
    ("mepd.cli.check_config", "check-config"),
    ("mepd.cli.probe", "probe"),
    ("mepd.cli.dump", "dump"),
    ("mepd.cli.remove_discovery", "remove-discovery"),
    ("mepd.cli.accept_energy", "accept-energy"),
    ("mepd.cli.doctor", "doctor"),
    ("mepd.cli.demo", "demo"),
    ("mepd.cli.simulate", "simulate"),
)


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the global options take no values)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; given `command`, only the module that defines it is imported."""
    parser = argparse.ArgumentParser(
        prog="mepd",
        description="Read OSGP smart meters through their MEP port and publish to MQTT.",
    )
    parser.add_argument("--version", action="version", version=f"mepd {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log detail")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="less log detail")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    known = any(command == name for _, name in _COMMAND_MODULES)
    for module, name in _COMMAND_MODULES:
        if not known or command == name:
            importlib.import_module(module).register(commands)
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
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_in(arguments))
    args = parser.parse_args(arguments)
    _configure_logging(args.verbose, args.quiet)
    handler: Command = args.handler
    try:
        return handler(args)
    except MepdError as error:
        print(f"mepd: {error}", file=sys.stderr)
        return EXIT_CONFIG if _is_config_problem(error) else EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _is_config_problem(error: MepdError) -> bool:
    """The configuration or the key: restarting will not help."""
    # Imported here: the protocol package is no part of building the parser (`mepd --help`).
    from mepd.protocol.errors import KeyFormatError

    return isinstance(error, ConfigError | KeyFormatError)


if __name__ == "__main__":
    sys.exit(main())
