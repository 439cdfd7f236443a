"""The state file: last good energy registers and the meter's serial, across restarts.

The first reading after a restart is checked against these, so a glitch at start-up cannot
reach the energy dashboard either. Writes are atomic (temp file, fsync, rename) and rate
limited, because the Pi's SD card wears out.

Files are named by the meter's serial (`<serial>.json`): a baseline belongs to a meter, not to
the tty it happened to be on (`6.json` for /dev/pts/6). The configured name (`<meter>.json`,
the port's) becomes a symlink to its meter's file, because one thing is needed before the meter
has said who it is: the security mode that worked last. A file from before (a regular
`<meter>.json`) is read once and renamed to its serial's name.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from mepd.files import keep_aside, write_atomically

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass
class MeterState:
    serial: str | None = None
    # name -> [value in SI units, wall-clock seconds it was read]
    energy: dict[str, tuple[float, float]] = field(default_factory=dict)
    security: str | None = None  # "rc4" or "tls": what worked last, for security = "auto"
    # history source name -> its cursor (opaque to all but the source): what was delivered
    cursors: dict[str, str] = field(default_factory=dict)

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


_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9_-]")


def state_file_name(serial: str) -> str:
    """`<serial>.json`, with anything but letters, digits, '_' and '-' as '_'."""
    return f"{_UNSAFE_IN_NAME.sub('_', serial.strip()) or '_'}.json"


class StateStore:
    """The state in memory and its file, if any: a failed write is logged, never raised."""

    def __init__(self, path: Path | None) -> None:
        self.file = StateFile(path) if path else None
        self._pointer = path  # the configured name: a symlink to the meter's file, once known
        self.state = self.file.load() if self.file else MeterState()

    def adopt(self, serial: str) -> MeterState:
        """The state of the meter `serial` (see `MeterState.for_meter`), from its own file."""
        found = self.state.serial
        self.state = self.state.for_meter(serial)
        if self.file is not None and self._pointer is not None:
            self._name_by_serial(self._pointer, serial, found)
        return self.state

    def _name_by_serial(self, pointer: Path, serial: str, found: str | None) -> None:
        target = pointer.with_name(state_file_name(serial))
        if target == pointer or self.file is None:
            return
        try:
            if pointer.is_file() and not pointer.is_symlink():  # a file from before: migrate
                owner = found if found is not None else serial
                renamed = pointer.with_name(state_file_name(owner))
                if renamed.exists():
                    renamed = pointer.with_name(pointer.name + ".old")
                os.replace(pointer, renamed)
                log.info(
                    "state file %s renamed to %s (named by the meter's serial)", pointer, renamed
                )
                if renamed != target and target.exists():
                    self.state = StateFile(target).load().for_meter(serial)
            elif target.exists() and not _points_to(pointer, target):
                # This meter's own file, written while it was on another port: its baseline.
                self.state = StateFile(target).load().for_meter(serial)
        except OSError as error:
            log.warning("cannot rename the state file %s: %s; keeping its name", pointer, error)
            return
        self.file = StateFile(target, min_interval_s=self.file.min_interval_s)

    def save(self, now_s: float, *, force: bool = False) -> None:
        if self.file is None:
            return
        try:
            if self.file.save(self.state, now_s, force=force):
                self._link_pointer()
        except OSError as error:
            # Said once per run of failures: an unwritable folder stays unwritable for a while,
            # and the next try waits for the write interval like any write (SD card wear).
            if self.file.failed_writes == 1:
                log.error(
                    "cannot write the state file %s: %s; the energy baseline is kept in memory "
                    "(next try in %.0f s, then at that interval; fix the folder's permissions)",
                    self.file.path,
                    error,
                    self.file.min_interval_s,
                )

    def _link_pointer(self) -> None:
        """The configured name points at the meter's file (replaced atomically)."""
        pointer, target = self._pointer, self.file.path if self.file else None
        if pointer is None or target is None or pointer == target or _points_to(pointer, target):
            return
        link = pointer.with_name(f".{pointer.name}.link")
        try:
            link.unlink(missing_ok=True)
            link.symlink_to(target.name)
            os.replace(link, pointer)
        except OSError as error:
            log.debug("cannot link %s to %s: %s", pointer, target, error)

    def accept_request(self) -> AcceptRequest | None:
        """The owner's pending `mepd accept-energy`, if any (see `AcceptRequest`)."""
        # Next to the configured name, where `mepd accept-energy` (which knows only the
        # configuration) writes it, even once the state file is named by the meter's serial.
        where = self._pointer or (self.file.path if self.file else None)
        return read_accept_request(where) if where else None

    def accept_done(self, request: AcceptRequest) -> None:
        """The acceptance is carried out and the new baseline saved: remove the request."""
        log.warning(
            "carried out `mepd accept-energy` (asked %s, state file serial %s)",
            request.requested,
            request.serial or "none",
        )
        try:
            request.path.unlink(missing_ok=True)
        except OSError as error:
            log.error(
                "cannot remove %s (%s): the next energy reading would be accepted again; "
                "remove it by hand",
                request.path,
                error,
            )


def _points_to(pointer: Path, target: Path) -> bool:
    return pointer.is_symlink() and pointer.resolve() == target.resolve()


# --- the owner's acceptance of held-back energy ------------------------------------------------

ACCEPT_SUFFIX = ".accept-energy"


@dataclass(frozen=True)
class AcceptRequest:
    """`mepd accept-energy`: the next energy reading of this meter is the new baseline.

    A small file next to the state file, written atomically by the command and removed by the
    daemon once it has carried it out and saved the new baseline. A file of its own, because the
    daemon rewrites the state file whole (a write from the command could be lost between the
    daemon's read and its next write); the daemon looks for it at every energy read, so it works
    whether mepd runs or not, and a restart before it is carried out loses nothing.
    """

    path: Path
    requested: str  # when, as the command wrote it: for the log only
    serial: str | None  # the serial the state file had then: for the log only


def accept_request_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ACCEPT_SUFFIX)


def read_accept_request(state_path: Path) -> AcceptRequest | None:
    """The pending request: any file there is one; its content only informs the log (and a
    file root wrote with `sudo mepd accept-energy` counts even if the daemon cannot read it)."""
    path = accept_request_path(state_path)
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        raw = {}
    raw = raw if isinstance(raw, dict) else {}
    serial, requested = raw.get("serial"), raw.get("requested")
    return AcceptRequest(
        path,
        requested[:40] if isinstance(requested, str) else "at an unknown time",
        serial[:40] if isinstance(serial, str) else None,
    )


def write_accept_request(state_path: Path, serial: str | None, requested: str) -> Path:
    """Ask the daemon to accept the next energy reading (atomically: it reads it any time)."""
    path = accept_request_path(state_path)
    request = {"version": FORMAT_VERSION, "requested": requested, "serial": serial}
    # No secret in it: the daemon's user reads it.
    write_atomically(path, json.dumps(request), prefix=".accept-", mode=0o644)
    return path


class StateFormatError(ValueError):
    """The file is JSON but not a state file mepd wrote (or one damaged since)."""


class StateFile:
    def __init__(self, path: Path, *, min_interval_s: float = 300.0) -> None:
        self.path = path
        self.min_interval_s = min_interval_s
        self._last_write_s = float("-inf")
        self.failed_writes = 0  # in a row; 0 after a good write

    def load(self) -> MeterState:
        """The saved state, or an empty one if there is none or it is not a state file.

        A file that cannot be parsed is moved aside (never overwritten: it may be the only copy
        of a baseline someone wants back) and mepd starts fresh with one warning. A file that
        cannot be read at all (permissions) is left where it is.
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return MeterState()
        except OSError as error:
            log.warning("cannot read the state file %s (%s); starting fresh", self.path, error)
            return MeterState()
        try:
            return parse_state(json.loads(data))
        except (ValueError, RecursionError) as error:  # JSON, UTF-8 and format errors
            kept = self._keep_aside()
            log.warning(
                "the state file %s is not a mepd state file (%s): kept as %s; starting fresh",
                self.path,
                _short(error),
                kept,
            )
            return MeterState()

    def peek(self) -> MeterState | None:
        """The saved state for a look only (`mepd accept-energy`): None if there is none or it
        is not a state file; never moved aside, never written (the daemon owns the file)."""
        try:
            return parse_state(json.loads(self.path.read_bytes()))
        except (OSError, ValueError, RecursionError):
            return None

    def _keep_aside(self) -> Path:
        return keep_aside(self.path)

    def save(self, state: MeterState, now_s: float, *, force: bool = False) -> bool:
        """Write if forced or the last write (or failed try) is old enough; True if written."""
        if not force and now_s - self._last_write_s < self.min_interval_s:
            return False
        self._last_write_s = now_s
        payload = {
            "version": FORMAT_VERSION,
            "serial": state.serial,
            "energy": {name: list(pair) for name, pair in sorted(state.energy.items())},
            "security": state.security,
            "cursors": dict(sorted(state.cursors.items())),
        }
        try:
            write_atomically(self.path, json.dumps(payload, indent=1), prefix=".state-")
        except OSError:
            self.failed_writes += 1
            raise
        self.failed_writes = 0
        return True


def parse_state(raw: object) -> MeterState:
    """A `MeterState` from decoded JSON, checked field by field; `StateFormatError` if not one.

    Every number must be finite (a baseline of infinity would hold every later reading back for
    ever), energy non-negative, and a pair exactly [value, seconds].
    """
    if not isinstance(raw, dict):
        raise StateFormatError(f"a {type(raw).__name__} at the top level, not an object")
    if raw.get("version") != FORMAT_VERSION:
        raise StateFormatError(f"format version {_short(raw.get('version'))}")
    serial = raw.get("serial")
    if serial is not None and not isinstance(serial, str):
        raise StateFormatError("the serial is not a string")
    energy_raw = raw.get("energy", {})
    if not isinstance(energy_raw, dict):
        raise StateFormatError("energy is not an object")
    energy = {name: _energy_pair(name, pair) for name, pair in energy_raw.items()}
    security = raw.get("security")
    return MeterState(
        serial=serial,
        energy=energy,
        security=security if security in ("rc4", "tls") else None,
        cursors=_cursors(raw.get("cursors")),
    )


MAX_CURSOR_CHARS = 1000


def _cursors(raw: object) -> dict[str, str]:
    """History cursors: a damaged entry is dropped (that source starts as on a first run),
    never the file: the energy baseline matters more than where a history stood."""
    if not isinstance(raw, dict):
        return {}
    return {
        name: value
        for name, value in raw.items()
        if isinstance(name, str) and isinstance(value, str) and len(value) <= MAX_CURSOR_CHARS
    }


def _energy_pair(name: str, pair: object) -> tuple[float, float]:
    if not isinstance(pair, list) or len(pair) != 2:
        raise StateFormatError(f"energy {_short(name)} is not a [value, time] pair")
    value, stamp = (_finite(name, item) for item in pair)
    if value < 0:
        raise StateFormatError(f"energy {_short(name)} is negative")
    return value, stamp


def _finite(name: str, item: object) -> float:
    if isinstance(item, bool) or not isinstance(item, int | float):
        raise StateFormatError(f"energy {_short(name)} holds a non-number")
    try:
        number = float(item)
    except OverflowError:
        raise StateFormatError(f"energy {_short(name)} holds a number out of range") from None
    if not math.isfinite(number):
        raise StateFormatError(f"energy {_short(name)} holds {number}")
    return number


def _short(value: object) -> str:
    """A bounded, printable rendering for a log line (the file may hold anything)."""
    text = repr(value) if not isinstance(value, BaseException) else str(value)
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return text if len(text) <= 60 else text[:57] + "..."
