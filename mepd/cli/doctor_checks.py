"""What a `mepd doctor` check is, and what the host checks share.

The host checks (doctor_pi.py: UART, consoles, Bluetooth; doctor_access.py: device access;
doctor_key.py: the key) look at files only (no MQTT, no meter, no systemd D-Bus) below an
injectable `root` ("/" on a real Pi), so the tests build a fake Pi in a temporary directory.
Each returns one `Check`: a level, one line saying what was found, and for anything not OK the
exact command or edit that fixes it. Paths in those lines are the real ones
(/boot/firmware/config.txt), never the fake root's.

Standard library only: `mepd doctor --help` imports this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

SERVICE_USER = "mepd"
SERVICE_GROUPS = ("dialout", "gpio")  # the unit's SupplementaryGroups=
KEY_FILE = "/etc/mepd/mbk"
METER_UART = "ttyAMA0"


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    """One finding. `fix` is the exact command or edit that cures it (None when OK)."""

    name: str
    level: Level
    detail: str
    fix: str | None = None

    @property
    def ok(self) -> bool:
        """Not a failure (warnings pass)."""
        return self.level is not Level.FAIL


# --- where things are -------------------------------------------------------------------------


def host_path(root: str | os.PathLike[str]) -> Path:
    return Path(root)


def shown_path(root: Path, path: Path) -> str:
    """`path` as it is called on the real system."""
    try:
        return "/" + path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def link_target(path: Path) -> str | None:
    """The name a /dev symlink points at ("ttyAMA0"), None if it is missing or not a link."""
    try:
        return Path(os.readlink(path)).name
    except OSError:
        return None
