"""What to do when the meter stops answering, and how long to wait: rules as data.

A silent link is usually a latched-up transceiver (hardware-notes.md), sometimes an adapter
that was unplugged, rarely a meter that is busy with its optical port (p.20). The ladder:
resend (done by the exchange), power-cycle the transceiver, reopen the port, then probe on a
steady cadence. mepd never exits over this and never reboots the host.

Why a steady probe rather than a growing backoff: a backoff that has grown to a minute keeps a
meter that answers again waiting up to a minute. One frame every `PROBE_EVERY_S` (a small read,
no identical resend: the next probe is the retry) costs a silent meter at most 6 frames a
minute, a tenth of its read budget (p.51), and finds a meter that answers again within 10 s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from mepd.backoff import Backoff


class Step(Enum):
    POWER_CYCLE = "power-cycle the transceiver"
    REOPEN = "reopen the serial port"
    BACKOFF = "wait for the next probe, power-cycle, reopen and probe"


LADDER: tuple[Step, ...] = (Step.POWER_CYCLE, Step.REOPEN, Step.BACKOFF)


# A silent link, once the first rungs failed: one single-frame probe this often. 60 s / 10 s
# = 6 frames a minute at most (p.51 allows 60; the p.21 identical resend is not spent on a
# probe), and a meter that answers again is found within 10 s.
PROBE_EVERY_S = 10.0
# The first probes of a silence come sooner: most silences are short (a gen3 optical session
# holds the UART a few seconds, p.20), and the first minute is a minute once.
FIRST_PROBE_GAPS_S = (2.0, 3.0, 5.0)


def probe_gap(probes_sent: int) -> float:
    """Seconds from one probe to the next, after `probes_sent` probes in this silence."""
    if probes_sent <= len(FIRST_PROBE_GAPS_S):
        return FIRST_PROBE_GAPS_S[probes_sent - 1] if probes_sent else 0.0
    return PROBE_EVERY_S


# The serial port itself failed (an adapter unplugged): reopening costs the meter nothing, so
# retry soon and often; capped so a replugged adapter is back within seconds.
PORT_RETRY_BACKOFF = Backoff(first_s=1.0, cap_s=5.0)
# 0x0B: a corrupted request heals at once (one retry after 1 s); a wrong key never does, so
# slow right down after three (WRONG_KEY_BACKOFF).
AUTH_RETRY_BACKOFF = Backoff(first_s=1.0, cap_s=8.0, jitter=0.0)
WRONG_KEY_BACKOFF = Backoff(first_s=30.0, cap_s=600.0)
# Consecutive 0x0B answers, with no verified answer since the link was reset, that mean the
# key is wrong rather than the line noisy.
WRONG_KEY_AFTER = 3


@dataclass
class RecoveryLadder:
    """Which step comes next after consecutive failures; counts every step taken."""

    can_power_cycle: bool
    failures: int = 0
    counts: dict[Step, int] = field(default_factory=lambda: dict.fromkeys(Step, 0))

    def next_step(self) -> Step:
        steps = [s for s in LADDER if s is not Step.POWER_CYCLE or self.can_power_cycle]
        step = steps[min(self.failures, len(steps) - 1)]
        self.failures += 1
        self.counts[step] += 1
        return step

    @property
    def backoff_attempt(self) -> int:
        """How many BACKOFF steps in a row so far (0 before the first)."""
        rungs = len([s for s in LADDER if s is not Step.POWER_CYCLE or self.can_power_cycle])
        return max(0, self.failures - rungs + 1)

    def succeeded(self) -> bool:
        """Reset after a good answer; True if the link had been failing."""
        was_failing = self.failures > 0
        self.failures = 0
        return was_failing
