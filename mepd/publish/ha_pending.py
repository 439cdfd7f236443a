"""The hours waiting for Home Assistant, kept across restarts of mepd (`PENDING_FILE_NAME`).

Why a file: the engine's load-profile cursor moves when the broker confirms an interval,
whether or not Home Assistant has it yet, so after a restart the engine does not send it
again. Hours kept only in memory would then be lost, and their energy would stay in the
return hour. So the backfill keeps every interval it holds, with each statistic's newest
finished hour (`HourlyEnergy.finished`: what was done with is not taken again), in a small
JSON file in the state directory, next to the meters' state files.

Like the state file (`engine/state.py`, which this layer may not import): written atomically
(temp file, fsync, rename), at most every `SAVE_EVERY_S` while intervals come in (SD card
wear) and at a clean stop; a file that cannot be parsed is moved aside with one warning and
the backfill starts empty, never a traceback; an entry that is not a valid interval is
skipped alone. Loading keeps the bound the backfill keeps in memory (`limit` hours).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from mepd.files import keep_aside, write_atomically
from mepd.publish.ha_backfill import HourlyEnergy

log = logging.getLogger(__name__)

# In the state directory; the dot keeps it apart from every `<serial>.json` state file, whose
# names have only letters, digits, '_' and '-' before `.json`.
PENDING_FILE_NAME = "ha-statistics.pending.json"
FORMAT_VERSION = 1
SAVE_EVERY_S = 10.0

Statistic = tuple[str, str]  # (meter serial, register key)
Pending = dict[Statistic, HourlyEnergy]


class PendingFormatError(ValueError):
    """JSON, but not a file of pending hours mepd wrote (or one damaged since)."""


def encode(pending: Mapping[Statistic, HourlyEnergy]) -> dict[str, object]:
    """The JSON document for `pending`: intervals as [start, end, Wh], times in UTC seconds."""
    return {
        "version": FORMAT_VERSION,
        "statistics": [
            {
                "meter": serial,
                "register": key,
                "finished": None if hours.finished is None else hours.finished.timestamp(),
                "intervals": [[s.timestamp(), e.timestamp(), wh] for s, e, wh in hours.intervals()],
            }
            for (serial, key), hours in sorted(pending.items())
            if len(hours) or hours.finished is not None
        ],
    }


def decode(raw: object, *, registers: tuple[str, ...], limit: int) -> Pending:
    """The pending hours in `raw`, for the `registers` configured now, at most `limit` hours
    (the newest) per statistic; `PendingFormatError` if `raw` is not such a document."""
    if not isinstance(raw, dict) or raw.get("version") != FORMAT_VERSION:
        raise PendingFormatError(f"not version {FORMAT_VERSION} of the pending hours")
    entries = raw.get("statistics")
    if not isinstance(entries, list):
        raise PendingFormatError("statistics is not a list")
    pending: Pending = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        serial, key = entry.get("meter"), entry.get("register")
        if not isinstance(serial, str) or key not in registers:
            continue
        assert isinstance(key, str)
        hours = HourlyEnergy()
        for item in entry.get("intervals") or []:
            interval = _interval(item)
            if interval is not None:
                hours.add(*interval)
        finished = _moment(entry.get("finished"))
        if finished is not None:
            hours.finish([finished])
        hours.finish(hours.hours()[: max(0, len(hours) - limit)])
        pending[(serial, key)] = hours
    return pending


def _interval(item: object) -> tuple[datetime, datetime, float] | None:
    if not isinstance(item, list) or len(item) != 3:
        return None
    start, end, wh = _moment(item[0]), _moment(item[1]), _finite(item[2])
    if start is None or end is None or wh is None or wh < 0:
        return None
    return start, end, wh


def _finite(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _moment(value: object) -> datetime | None:
    seconds = _finite(value)
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


class PendingFile:
    """The file of pending hours; `load` never raises, `save` raises `OSError`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, *, registers: tuple[str, ...], limit: int) -> Pending:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as error:
            log.warning(
                "cannot read %s (%s); Home Assistant statistics: no hours carried over",
                self.path,
                error,
            )
            return {}
        try:
            return decode(json.loads(data), registers=registers, limit=limit)
        except (ValueError, RecursionError) as error:  # JSON, UTF-8 and format errors
            log.warning(
                "%s is not a file of pending Home Assistant statistics (%s): kept as %s; "
                "no hours carried over",
                self.path,
                str(error)[:80],
                self._keep_aside(),
            )
            return {}

    def _keep_aside(self) -> Path:
        return keep_aside(self.path)

    def save(self, pending: Mapping[Statistic, HourlyEnergy]) -> None:
        """Atomically: the file is the old one or the new one, never half of either."""
        text = json.dumps(encode(pending), separators=(",", ":"))
        write_atomically(self.path, text, prefix=".ha-statistics-")
