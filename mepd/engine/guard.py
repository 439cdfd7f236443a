"""The plausibility guard: nothing implausible leaves the poller.

Home Assistant takes any drop of a `total_increasing` register for a meter reset and any jump
for real consumption, so one bad energy value damages a user's statistics for good. Every
value passes here first. A value that fails is quarantined (counted, logged with its frame)
and never published; the caller holds the last good value or declares the meter unavailable.
Only a run of readings that agree with each other, but not with the past, is taken as a
genuine jump (a replaced meter), and that is reported in so many words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from mepd.protocol.tables.names import (
    CURRENTS,
    POWER_FACTORS,
    POWERS_EXPORT,
    POWERS_IMPORT,
    VOLTAGES,
    ValueName,
)
from mepd.settings import PlausibilityLimits

# The present values the cross-checks use (p.209-220), by their names in `names.py`.
_NET_TOTAL = (ValueName.POWER_IMPORT, ValueName.POWER_EXPORT)
_NET_PHASES = tuple(zip(POWERS_IMPORT, POWERS_EXPORT, strict=True))
_POWERS = (*_NET_TOTAL, ValueName.APPARENT_POWER, *(n for pair in _NET_PHASES for n in pair))


class Verdict(Enum):
    ACCEPTED = "accepted"
    QUARANTINED = "quarantined"
    JUMP_ACCEPTED = "jump accepted"  # a run of consistent readings overrode the past


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    reasons: tuple[str, ...] = ()


def check_present(values: Mapping[str, float], limits: PlausibilityLimits) -> Finding:
    """Range and consistency checks on one BT28 read; any failure quarantines all of it.

    The values of one read come from one verified frame: if they disagree with each other,
    none of them can be trusted more than the others.
    """
    reasons: list[str] = []

    def in_range(names: tuple[str, ...], low: float, high: float, unit: str) -> None:
        for name in names:
            value = values.get(name)
            if value is not None and not low <= value <= high:
                reasons.append(f"{name} = {value:g} {unit} outside {low:g}..{high:g} {unit}")

    in_range(VOLTAGES, *limits.voltage_v, "V")
    in_range(CURRENTS, 0.0, limits.max_current_a, "A")
    in_range((ValueName.FREQUENCY,), *limits.frequency_hz, "Hz")
    in_range(POWER_FACTORS, -1.0, 1.0, "")
    in_range(_POWERS, 0.0, limits.max_power_w, "W")

    # Net power: total import - export equals the sum of the phases' (p.216-219), whether the
    # meter totals phases arithmetically or by vector.
    if all(name in values for name in _NET_TOTAL) and all(
        name in values for pair in _NET_PHASES for name in pair
    ):
        total = values[ValueName.POWER_IMPORT] - values[ValueName.POWER_EXPORT]
        phases = sum(values[imp] - values[exp] for imp, exp in _NET_PHASES)
        tolerance = max(limits.phase_sum_tolerance_w, limits.phase_sum_tolerance_ratio * abs(total))
        if abs(total - phases) > tolerance:
            reasons.append(
                f"phase powers sum to {phases:g} W but the total is {total:g} W "
                f"(tolerance {tolerance:g} W)"
            )
    return Finding(Verdict.QUARANTINED if reasons else Verdict.ACCEPTED, tuple(reasons))


@dataclass
class _Candidate:
    value: float
    at_s: float


@dataclass
class EnergyRegisterGuard:
    """One energy register (Wh): never decreasing, never faster than the fuse allows."""

    name: str
    limits: PlausibilityLimits
    last_value: float | None = None
    last_at_s: float | None = None  # wall-clock seconds of the last good value
    _candidates: list[_Candidate] = field(default_factory=list)

    def check(self, value: float, at_s: float) -> Finding:
        if self.last_value is None or self.last_at_s is None:
            self._accept(value, at_s)
            return Finding(Verdict.ACCEPTED)
        problem = self._problem(self.last_value, self.last_at_s, value, at_s)
        if problem is None:
            self._candidates.clear()
            self._accept(value, at_s)
            return Finding(Verdict.ACCEPTED)
        return self._quarantine(value, at_s, problem)

    def _quarantine(self, value: float, at_s: float, problem: str) -> Finding:
        chain = self._candidates
        if chain and self._problem(chain[-1].value, chain[-1].at_s, value, at_s) is not None:
            chain.clear()  # this one does not even agree with the last suspect
        chain.append(_Candidate(value, at_s))
        if len(chain) >= self.limits.readings_to_accept_jump:
            previous = self.last_value
            chain.clear()
            self._accept(value, at_s)
            return Finding(
                Verdict.JUMP_ACCEPTED,
                (
                    f"{self.name} moved from {previous:g} to {value:g} Wh and stayed there for "
                    f"{self.limits.readings_to_accept_jump} consistent readings: accepted as a "
                    f"new baseline (meter replaced or reset?)",
                ),
            )
        return Finding(Verdict.QUARANTINED, (problem,))

    def _problem(self, before: float, before_s: float, after: float, after_s: float) -> str | None:
        if after < before:
            return f"{self.name} went down from {before:g} to {after:g} Wh"
        elapsed = after_s - before_s
        allowed = self.limits.max_energy_increase_wh(elapsed)
        if after - before > allowed:
            return (
                f"{self.name} rose {after - before:g} Wh in {elapsed:.1f} s; "
                f"the fuse allows at most {allowed:.0f} Wh"
            )
        return None

    def _accept(self, value: float, at_s: float) -> None:
        self.last_value = value
        self.last_at_s = at_s
