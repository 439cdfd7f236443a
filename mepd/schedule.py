"""How often each table is read, checked against the meter's rate budget.

The OSGP Alliance asks clients for at most one table read per second on average (p.51,
Appendix C p.259). The default spends most of that on BT28, so power is as fresh as the
budget allows, and leaves headroom for retries.
"""

from __future__ import annotations

from dataclasses import dataclass

from mepd.errors import ConfigError
from mepd.protocol.timing import MAX_AVERAGE_READS_PER_S, MIN_REQUEST_SPACING_S

# Retries, IDT checks and the occasional alert-flag read come out of the same budget.
BUDGET_HEADROOM = 0.8


@dataclass(frozen=True)
class Schedule:
    """Seconds between reads of each kind."""

    present_s: float = 1.5  # BT28: power, voltage, current, PF, frequency
    energy_s: float = 15.0  # BT23: the energy registers
    clock_s: float = 300.0  # BT52: the meter's clock, for its offset
    # Never below the guide's request spacing, whatever the configuration says.
    minimum_s: float = MIN_REQUEST_SPACING_S

    def reads_per_second(self, present_reads: int = 1, energy_reads: int = 1) -> float:
        """Average table reads per second; BT23/BT28 may take more than one read each."""
        return present_reads / self.present_s + energy_reads / self.energy_s + 1 / self.clock_s

    def validate(self, present_reads: int = 1, energy_reads: int = 1) -> None:
        for name in ("present_s", "energy_s", "clock_s"):
            if getattr(self, name) < 1.0:
                raise ConfigError(f"schedule.{name} must be at least 1 second")
        rate = self.reads_per_second(present_reads, energy_reads)
        allowed = MAX_AVERAGE_READS_PER_S * BUDGET_HEADROOM
        if rate > allowed:
            raise ConfigError(
                f"the schedule reads {rate:.2f} tables per second on average; the meter's "
                f"vendor asks for at most {MAX_AVERAGE_READS_PER_S:g} per second (MEP guide "
                f"p.51) and mepd keeps {1 - BUDGET_HEADROOM:.0%} of that for retries, so at most "
                f"{allowed:.2f}. Raise schedule.present_s or schedule.energy_s "
                f"(the default is present_s = 1.5, energy_s = 15)"
            )
