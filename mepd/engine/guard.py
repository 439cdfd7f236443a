"""The plausibility guard: nothing implausible leaves the poller.

Home Assistant takes any drop of a `total_increasing` register for a meter reset and any jump
for real consumption, so one bad energy value damages a user's statistics for good. Every
value passes here first. A value that fails is quarantined (counted, logged with its frame)
and never published; the caller holds the last good value or declares the meter unavailable.
An energy register is held back rather than quarantined: it never falls and never rises
faster than physics allows since the last published value, however often the meter repeats
it, until the owner accepts the new value (`mepd accept-energy`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
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
    HELD = "held back"  # an energy register: not published, the last published value stands
    OWNER_ACCEPTED = "accepted by the owner"  # `mepd accept-energy` moved the baseline


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    reasons: tuple[str, ...] = ()


def check_present(
    values: Mapping[str, float],
    limits: PlausibilityLimits,
    answers: Collection[Collection[str]] | None = None,
) -> Finding:
    """Range and consistency checks on one BT28 read; any failure quarantines all of it.

    The values of one answer come from one verified frame at one moment: if they disagree
    with each other, none of them can be trusted more than the others. Values from different
    answers (a table read in parts, p.8) were measured at different moments, so a
    cross-check applies only when all its values came in one of `answers` (the names each
    answer carried; None: all in one). A piece without the phases has no phase-sum check.
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
    needed = (*_NET_TOTAL, *(name for pair in _NET_PHASES for name in pair))
    together = [values.keys()] if answers is None else answers
    if any(all(name in values and name in answer for name in needed) for answer in together):
        total = values[ValueName.POWER_IMPORT] - values[ValueName.POWER_EXPORT]
        phases = sum(values[imp] - values[exp] for imp, exp in _NET_PHASES)
        tolerance = max(limits.phase_sum_tolerance_w, limits.phase_sum_tolerance_ratio * abs(total))
        if abs(total - phases) > tolerance:
            reasons.append(
                f"phase powers sum to {phases:g} W but the total is {total:g} W "
                f"(tolerance {tolerance:g} W)"
            )
    return Finding(Verdict.QUARANTINED if reasons else Verdict.ACCEPTED, tuple(reasons))


# The highest register a house connection can have counted: its fuse at full load, with the
# margin, for a meter's whole life. 50 years is far beyond a meter's service life (a MID
# certification lasts 8-16 years depending on the country; utilities plan 15-20 years), so only a
# register no such meter could hold is refused as a first value. 3 x 63 A x 230 V x 1.5 for 50
# years is about 28.6 GWh; a 117,000 kWh glitch is 0.1 GWh, so this bound only catches the absurd
# (10^9 kWh, a negative or garbled number), and the physics bound since the last published value
# catches the rest.
METER_LIFETIME_S = 50 * 365.25 * 24 * 3600.0


def kwh(wh: float) -> str:
    """Wh as a person reads a meter: 120615730 -> "120,615.730 kWh"."""
    return f"{wh / 1000:,.3f} kWh"


def lifetime_energy_wh(limits: PlausibilityLimits) -> float:
    """The most a register of this connection can hold (see `METER_LIFETIME_S`)."""
    return limits.max_power_w * METER_LIFETIME_S / 3600.0


@dataclass(frozen=True)
class Held:
    """A value held back: what the meter said, and why it was not published."""

    value: float
    at_s: float
    reason: str
    since_s: float  # when this register was first held back in the current run of them


@dataclass
class EnergyRegisterGuard:
    """One energy register (Wh): never falling, never rising faster than the fuse allows.

    The bound is measured from the last *published* value, whatever the meter says and however
    often it says it: a run of consistent readings is no evidence (a stale layout or a glitch
    in the meter repeats itself perfectly). Only the owner can move the baseline
    (`accept_next`, from `mepd accept-energy`). Without a baseline (first start, or a state file
    that started fresh) the value must still be finite, non-negative and within what the
    connection could count in a meter's lifetime.
    """

    name: str
    limits: PlausibilityLimits
    last_value: float | None = None
    last_at_s: float | None = None  # wall-clock seconds of the last published value
    accept_next: bool = False  # the owner's word: the next sane value is the new baseline
    held: Held | None = None

    def check(self, value: float, at_s: float) -> Finding:
        # The owner's word is for one reading: an absurd one uses it up too.
        owner_accepts, self.accept_next = self.accept_next, False
        absurd = self._absurd(value)
        if absurd is not None:
            return self._hold(value, at_s, absurd)
        problem = None
        if self.last_value is not None and self.last_at_s is not None:
            problem = self._problem(self.last_value, self.last_at_s, value, at_s)
        if problem is not None and not owner_accepts:
            return self._hold(value, at_s, problem)
        previous = self.last_value
        self._accept(value, at_s)
        if problem is not None:  # only the owner's word let it through
            return Finding(
                Verdict.OWNER_ACCEPTED,
                (f"{self.name}: {kwh(previous or 0)} -> {kwh(value)}, the owner's new baseline",),
            )
        return Finding(Verdict.ACCEPTED)

    def _absurd(self, value: float) -> str | None:
        bound = lifetime_energy_wh(self.limits)
        if not math.isfinite(value) or value < 0 or value > bound:
            return (
                f"{self.name} = {value:g} Wh is no register this connection can have counted "
                f"(0..{bound:.3g} Wh: the fuse at full load for 50 years)"
            )
        return None

    def _problem(self, before: float, before_s: float, after: float, after_s: float) -> str | None:
        if after < before:
            return f"{self.name} went down from {kwh(before)} to {kwh(after)}"
        elapsed = after_s - before_s
        allowed = self.limits.max_energy_increase_wh(elapsed)
        if after - before > allowed:
            return (
                f"{self.name} rose {kwh(after - before)} in {elapsed:.1f} s since the last "
                f"published value; the fuse allows at most {kwh(allowed)}"
            )
        return None

    def _hold(self, value: float, at_s: float, reason: str) -> Finding:
        since = self.held.since_s if self.held is not None else at_s
        self.held = Held(value, at_s, reason, since)
        return Finding(Verdict.HELD, (reason,))

    def _accept(self, value: float, at_s: float) -> None:
        self.last_value = value
        self.last_at_s = at_s
        self.held = None
