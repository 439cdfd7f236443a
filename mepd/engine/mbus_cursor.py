"""Where the M-Bus source stands, as the state file keeps it (`MeterState.cursors["mbus"]`).

The last published ET45 sequence (never reset, p.120) and each register's last published value
with its read time: a restart then publishes no read twice, and the never-falls guard keeps its
baseline. Compact JSON, since the state file keeps cursors of up to 1000 characters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from mepd.protocol.mbus.units import MBusUnit, Quantity


@dataclass
class MBusCursor:
    """What the state file keeps: the last published ET45 sequence (never reset, p.120) and
    each register's last published value with its read time (UTC seconds), by register id."""

    sequence: int | None = None
    baselines: dict[str, tuple[Decimal, float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "sequence": self.sequence,
            "baselines": {k: [str(v), at] for k, (v, at) in self.baselines.items()},
        }

    def to_text(self) -> str:
        """The state file's form: compact (the state file keeps cursors of up to 1000
        characters; four devices with two registers each need about 500)."""
        return json.dumps(self.to_json(), separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str | None) -> MBusCursor:
        try:
            return cls.from_json(json.loads(text)) if text else cls()
        except ValueError:
            return cls()

    @classmethod
    def from_json(cls, raw: object) -> MBusCursor:
        """A cursor from the state file; anything malformed starts that part afresh."""
        if not isinstance(raw, Mapping):
            return cls()
        sequence = raw.get("sequence")
        cursor = cls(sequence if isinstance(sequence, int) and 0 <= sequence < 1 << 16 else None)
        baselines = raw.get("baselines")
        for key, pair in baselines.items() if isinstance(baselines, Mapping) else ():
            try:
                value, at = pair
                cursor.baselines[str(key)] = (Decimal(str(value)), float(at))
            except (TypeError, ValueError, InvalidOperation):
                continue
        return cursor


def register_id(key: str, quantity: Quantity, unit: MBusUnit) -> str:
    """A register's name in the cursor: the device, what it counts and in which unit (a
    baseline in GJ says nothing of a value in kWh)."""
    return f"{key}/{quantity.value}/{unit.name}"
