"""When the line counts as noisy, and what the present poll reads then: policy as data, pure.

On a line that damages a byte in a few hundred, a long answer rarely arrives whole: a gen4
BT28 answer (357 table bytes) with 0.2 % of bytes corrupted and 0.2 % lost is intact about a
quarter of the time, and every damaged answer still costs a frame of the meter's budget
(p.51). A short answer gets through far more often, so while the line is noisy the poller
reads a small piece of BT28 (total power, `readings.PIECES`), and still tries the whole table
now and then, so the other values come when they can and the line keeps being measured.

How noisy: the chance that one byte arrives intact, estimated by maximum likelihood from the
last answers (each intact, or damaged: digest or framing failed, or cut short), whatever
their sizes; from it, the chance that a whole BT28 answer would arrive intact. No clock, no
I/O: answers in, a decision out.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from mepd.protocol.frames import LENGTH_BYTES, MAX_MESSAGE_BYTES, MAX_READ_COUNT

# What an answer carries besides the table bytes: LEN, code, count, digest (p.10, p.12).
ANSWER_OVERHEAD_BYTES = LENGTH_BYTES + MAX_MESSAGE_BYTES - MAX_READ_COUNT


@dataclass(frozen=True)
class NoisyLinePolicy:
    """The numbers of the noisy-line policy, in one place."""

    window_answers: int = 40  # the estimate is over the last this many answers
    min_answers: int = 8  # no verdict on fewer (the line is taken as clean until then)
    # The line is noisy while a whole BT28 answer would arrive intact less often than this,
    # and clean again once it would more often than `clean_above` (hysteresis: no flapping).
    # At 40 polls and 48 frames a minute (p.51), whole tables give min(40, 48 q) power values
    # for an intact chance q, pieces and a whole table every other poll (one frame each)
    # about 20 x 0.97 + 20 q: pieces win below q = 0.7, and clearly below 0.5, where whole
    # tables (every value, not only power) are not yet worth giving up.
    noisy_below: float = 0.5
    clean_above: float = 0.65
    # While noisy, every this many present polls still try the whole table, in one frame.
    whole_every: int = 2


NOISY_LINE = NoisyLinePolicy()


class PresentRead(Enum):
    WHOLE = "the whole table"
    PIECE = "a piece"


def byte_survival(answers: list[tuple[int, bool]]) -> float:
    """The chance a byte arrives intact that makes `answers` (bytes, damaged) likeliest.

    An answer of n bytes is intact with chance q**n. The log-likelihood's slope in ln q,
    sum(n, intact) - sum(n q**n / (1 - q**n), damaged), falls as q rises: bisection finds
    its zero. No damage: 1.0; nothing intact: close to 0.
    """
    intact = sum(n for n, damaged in answers if not damaged)
    damaged = [n for n, bad in answers if bad]
    if not damaged:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(50):
        q = (low + high) / 2
        slope = intact - sum(n * q**n / max(1.0 - q**n, 1e-300) for n in damaged)
        low, high = (q, high) if slope > 0 else (low, q)
    return (low + high) / 2


class LineNoise:
    """The recent answers, whether the line is noisy, and what the next present poll reads."""

    def __init__(self, policy: NoisyLinePolicy = NOISY_LINE) -> None:
        self.policy = policy
        self._answers: deque[tuple[int, bool]] = deque(maxlen=policy.window_answers)
        self.noisy = False
        self._polls = 0  # present polls since the line turned noisy

    def answered(self, table_bytes: int, *, damaged: int = 0, intact: bool = True) -> None:
        """One exchange: `damaged` answers of `table_bytes` failed, then one came intact
        (unless the exchange gave up)."""
        size = table_bytes + ANSWER_OVERHEAD_BYTES
        self._answers.extend([(size, True)] * damaged)
        if intact:
            self._answers.append((size, False))

    def intact_chance(self, table_bytes: int) -> float:
        """The estimated chance that an answer of `table_bytes` arrives intact."""
        return byte_survival(list(self._answers)) ** (table_bytes + ANSWER_OVERHEAD_BYTES)

    def next_present(self, whole_bytes: int) -> PresentRead:
        """Decide for the next present poll, whose whole table is `whole_bytes` long."""
        policy = self.policy
        if len(self._answers) >= policy.min_answers:
            chance = self.intact_chance(whole_bytes)
            if not self.noisy and chance < policy.noisy_below:
                self.noisy, self._polls = True, 0
            elif self.noisy and chance > policy.clean_above:
                self.noisy = False
        if not self.noisy:
            return PresentRead.WHOLE
        self._polls += 1
        return PresentRead.WHOLE if self._polls % policy.whole_every == 0 else PresentRead.PIECE
