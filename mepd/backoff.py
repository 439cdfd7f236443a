"""Exponential backoff with a cap and jitter, for every layer that retries something.

Neutral on purpose: the engine's recovery ladder and the publisher's reconnects both use it,
and neither should import the other to get it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Exponential delay with a cap and jitter: first, first*factor, ... cap."""

    first_s: float
    cap_s: float
    factor: float = 2.0
    jitter: float = 0.1

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        base = min(self.cap_s, self.first_s * self.factor ** max(attempt, 0))
        spread = (rng or random).uniform(-self.jitter, self.jitter) if self.jitter else 0.0
        return max(0.0, base * (1.0 + spread))
