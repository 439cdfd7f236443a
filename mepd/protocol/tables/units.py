"""Units of decoded values, all SI (or dimensionless).

Every member has a distinct value so a `Unit` round-trips through its string. RATIO (power
factor, sin of the phase angle) and COUNT (outages, errors, pulses) have no symbol; use
`Unit.symbol` when rendering, which is "" for those two.
"""

from __future__ import annotations

from enum import StrEnum


class Unit(StrEnum):
    WATT = "W"
    VAR = "var"
    VOLT_AMPERE = "VA"
    VOLT = "V"
    AMPERE = "A"
    HERTZ = "Hz"
    WATT_HOUR = "Wh"
    VAR_HOUR = "varh"
    VOLT_AMPERE_HOUR = "VAh"
    SECOND = "s"
    DEGREE = "°"
    RATIO = "ratio"
    COUNT = "count"

    @property
    def symbol(self) -> str:
        """What to print after a number: "" for the dimensionless RATIO and COUNT."""
        return "" if self in (Unit.RATIO, Unit.COUNT) else self.value


ENERGY_UNITS = frozenset({Unit.WATT_HOUR, Unit.VAR_HOUR, Unit.VOLT_AMPERE_HOUR})
