"""The state file: last good energy registers and the meter's serial, across restarts.

The first reading after a restart is checked against these, so a glitch at start-up cannot
reach the energy dashboard either. Writes are atomic (temp file, fsync, rename) and rate
limited, because the Pi's SD card wears out.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass
class MeterState:
    serial: str | None = None
    # name -> [value in SI units, wall-clock seconds it was read]
    energy: dict[str, tuple[float, float]] = field(default_factory=dict)
    security: str | None = None  # "rc4" or "tls": what worked last, for security = "auto"

    def for_meter(self, serial: str) -> MeterState:
        """This state, now this meter's; a fresh baseline if the port has another meter."""
        if self.serial is not None and self.serial != serial:
            log.warning(
                "this port now has meter %s, the state file had %s: starting a new baseline",
                serial,
                self.serial,
            )
            return MeterState(serial=serial)
        self.serial = serial
        return self


class StateStore:
    """The state in memory and its file, if any: a failed write is logged, never raised."""

    def __init__(self, path: Path | None) -> None:
        self.file = StateFile(path) if path else None
        self.state = self.file.load() if self.file else MeterState()

    def adopt(self, serial: str) -> MeterState:
        """The state of the meter `serial` (see `MeterState.for_meter`)."""
        self.state = self.state.for_meter(serial)
        return self.state

    def save(self, now_s: float, *, force: bool = False) -> None:
        if self.file is None:
            return
        try:
            self.file.save(self.state, now_s, force=force)
        except OSError as error:
            log.error("cannot write the state file %s: %s", self.file.path, error)


class StateFile:
    def __init__(self, path: Path, *, min_interval_s: float = 300.0) -> None:
        self.path = path
        self._min_interval_s = min_interval_s
        self._last_write_s = float("-inf")

    def load(self) -> MeterState:
        """The saved state, or an empty one if there is none or it cannot be read."""
        try:
            raw: dict[str, Any] = json.loads(self.path.read_text())
        except FileNotFoundError:
            return MeterState()
        except (OSError, ValueError) as error:
            log.warning("ignoring unreadable state file %s (%s); starting fresh", self.path, error)
            return MeterState()
        try:
            if raw.get("version") != FORMAT_VERSION:
                raise ValueError(f"version {raw.get('version')!r}")
            energy = {
                str(name): (float(pair[0]), float(pair[1]))
                for name, pair in dict(raw.get("energy", {})).items()
            }
            serial = raw.get("serial")
            security = raw.get("security")
            return MeterState(
                serial=str(serial) if serial is not None else None,
                energy=energy,
                security=security if security in ("rc4", "tls") else None,
            )
        except (TypeError, ValueError, IndexError) as error:
            log.warning("ignoring malformed state file %s (%s); starting fresh", self.path, error)
            return MeterState()

    def save(self, state: MeterState, now_s: float, *, force: bool = False) -> bool:
        """Write if forced or the last write is old enough; True if written."""
        if not force and now_s - self._last_write_s < self._min_interval_s:
            return False
        payload = {
            "version": FORMAT_VERSION,
            "serial": state.serial,
            "energy": {name: list(pair) for name, pair in sorted(state.energy.items())},
            "security": state.security,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".state-")
        try:
            with os.fdopen(handle, "w") as stream:
                json.dump(payload, stream, indent=1)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
        except OSError:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._last_write_s = now_s
        return True
