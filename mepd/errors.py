"""The root of mepd's one exception tree, and the errors that belong to no single layer.

Every error mepd raises on purpose derives from `MepdError`, so the CLI can turn any of them
into a one-line message and an exit code instead of a traceback. The protocol layer's errors
live in `mepd.protocol.errors` (they derive from `MepdError` too): this module imports nothing
from mepd, so every layer can import it without a cycle.
"""

from __future__ import annotations


class MepdError(Exception):
    """Root of everything mepd raises deliberately."""


class LinkError(MepdError):
    """The serial port or GPIO line cannot be used (missing device, permissions, unplugged)."""


class ConfigError(MepdError):
    """The configuration is invalid; the message names the file, key path and expectation."""
