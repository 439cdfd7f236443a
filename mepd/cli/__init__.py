"""The `mepd` commands: argparse, one module per command, each calling code that knows no argparse.

Only `main` is imported here; a command's module loads when that command runs, so `mepd --help`
stays fast on a Pi Zero.
"""

from mepd.cli.main import main

__all__ = ["main"]
