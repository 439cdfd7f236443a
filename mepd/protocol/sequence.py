"""Request sequence numbers (p.11, p.16, p.55; notes §1.4)."""

from __future__ import annotations

from mepd.protocol.frames import SEQUENCE_MODULUS

# p.11: the meter accepts a number up to 8 increments past the previous one.
SEQUENCE_WINDOW = 8
# p.55: when the IDT version changes, the meter adds 25 to its sequence number.
IDT_CHANGE_JUMP = 25


class SequenceCounter:
    """The client's sequence number: +1 for every request sent, retries included (p.11).

    After a verified 0x0C carrying N, the next request uses N+1. The guide's text says N is
    "the number to use", its example (p.15-16) uses N+1; N+1 lies inside the meter's window
    under either reading, so it is always accepted.
    """

    __slots__ = ("_next",)

    def __init__(self, start: int = 0) -> None:
        self._next = start % SEQUENCE_MODULUS

    @property
    def next(self) -> int:
        return self._next

    def take(self) -> int:
        number = self._next
        self._next = (number + 1) % SEQUENCE_MODULUS
        return number

    def give_back(self, number: int) -> None:
        """`number`, the last one taken, met only silence: the next request uses it again.

        p.21 resends the identical packet after a timeout; across requests the same holds,
        since the meter may never have parsed it. A silent meter then never sees numbers
        walk past its window of 8 (p.11), so its first answer is data, not 0x0C. Had it
        parsed the request after all (only its answer lost), the reuse earns one 0x0C.
        """
        if (number + 1) % SEQUENCE_MODULUS == self._next:
            self._next = number

    def adopt(self, reported: int) -> None:
        """Follow a *verified* 0x0C; an unverified one must never move the counter."""
        self._next = (reported + 1) % SEQUENCE_MODULUS


def in_window(previous: int, candidate: int, window: int = SEQUENCE_WINDOW) -> bool:
    """The meter's rule (p.11): accept 1..window increments past the previous number."""
    return 1 <= (candidate - previous) % SEQUENCE_MODULUS <= window
