"""Who this gateway is: a stable id and the host model, read from the host once at start.

The id keys the gateway's topics and its Home Assistant device, so it must survive a reboot,
a new hostname, a new IP address and a reinstall of mepd: the Raspberry Pi's serial number
first, else a hash of /etc/machine-id, unless the configuration names one.
"""

from __future__ import annotations

import hashlib
import hmac
import platform
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mepd import __version__
from mepd.errors import ConfigError
from mepd.publish.topics import topic_id

# Where the Pi firmware puts its serial number and model (relative to the filesystem root).
SERIAL_NUMBER = Path("sys/firmware/devicetree/base/serial-number")
CPUINFO = Path("proc/cpuinfo")
MODEL = Path("proc/device-tree/model")
MACHINE_IDS = (Path("etc/machine-id"), Path("var/lib/dbus/machine-id"))

# machine-id(5): the id is confidential and should not leave the host as is; applications
# that need a stable id derive one from it with a keyed hash of their own.
_MACHINE_ID_KEY = b"mepd gateway id"
_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True)
class GatewayInfo:
    """What the gateway's Home Assistant device says about it."""

    gateway_id: str  # [A-Za-z0-9_-]: used in topics and ids as is
    model: str  # e.g. "Raspberry Pi Zero 2 W Rev 1.0"
    version: str = __version__


def detect_gateway(
    gateway_id: str | None = None,
    *,
    root: Path = Path("/"),
    machine: Callable[[], str] = platform.machine,
) -> GatewayInfo:
    """The gateway's id (`gateway_id` if given) and model, from the files under `root`."""
    if gateway_id is not None:
        chosen = topic_id(gateway_id)
        if chosen != gateway_id.strip() or not gateway_id.strip():
            raise ConfigError(
                f"gateway_id {gateway_id!r} may only contain letters, digits, '_' and '-'"
            )
    else:
        chosen = _pi_serial(root) or _machine_id_hash(root) or ""
        if not chosen:
            raise ConfigError(
                "cannot derive a stable gateway id: no Raspberry Pi serial number and no "
                "/etc/machine-id on this host; set [homeassistant] gateway_id in the configuration"
            )
    return GatewayInfo(gateway_id=chosen, model=_model(root) or machine() or "unknown")


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return None


def _clean_serial(text: str) -> str | None:
    serial = text.strip().strip("\x00").strip().lower()
    if not serial or not _HEX.match(serial) or not serial.strip("0"):
        return None  # absent, odd, or all zeros (what some non-Pi boards report)
    return serial


def _pi_serial(root: Path) -> str | None:
    text = _read(root / SERIAL_NUMBER)
    if text is not None and (serial := _clean_serial(text)):
        return serial
    for line in (_read(root / CPUINFO) or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Serial" and (serial := _clean_serial(value)):
            return serial
    return None


def _machine_id_hash(root: Path) -> str | None:
    for path in MACHINE_IDS:
        text = (_read(root / path) or "").strip()
        if text:
            digest = hmac.new(_MACHINE_ID_KEY, text.encode(), hashlib.sha256).hexdigest()
            return f"m{digest[:12]}"
    return None


def _model(root: Path) -> str | None:
    text = _read(root / MODEL)
    if text is None:
        return None
    return text.strip().strip("\x00").strip() or None
