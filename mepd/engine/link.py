"""Is the meter link up? One answer for the LED and the publisher, no I/O.

The link is up from the first verified answer; it goes down when the recovery ladder gives
up for now, the port is gone, the key is rejected, or no answer has come for
`stale_after_s` (a loop that keeps failing quietly must not leave readings looking live).
Each change is a `LinkStatus` event, said once: the poller shows it on the LED and emits it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mepd.readings import LinkStatus

ANSWERS = "meter answers"

# The poller's own diagnostics; the session's come from `SessionStats`.
COUNTERS = (
    "transceiver_resets",
    "port_reopens",
    "link_losses",
    "quarantined",
    "energy_held",
    "readings",
)


@dataclass
class LinkState:
    """The link's state and the loop time (`now`, seconds) of the last verified answer."""

    stale_after_s: float
    serial: str | None = None  # the meter's, once known: the events carry it
    up: bool | None = None  # None until the first answer or failure
    reason: str = ""
    losses: int = 0  # times an up link went down
    last_answer_at: float | None = None

    def answered(self, now: float) -> LinkStatus | None:
        """A verified answer: the link is up (an event if it was not)."""
        self.last_answer_at = now
        if self.up is True:
            return None
        self.up = True
        self.reason = ""
        return LinkStatus(self.serial, True, ANSWERS)

    def down(self, reason: str, *, authentication_problem: bool = False) -> LinkStatus | None:
        """The link is down for `reason`: an event unless that was already said."""
        if self.up is False and reason == self.reason:
            return None
        if self.up:
            self.losses += 1
        self.up = False
        self.reason = reason
        return LinkStatus(self.serial, False, reason, authentication_problem)

    def check_stale(self, now: float) -> LinkStatus | None:
        """Down if an up link has had no verified answer for longer than `stale_after_s`."""
        if not self.up or self.last_answer_at is None:
            return None
        silent_for = now - self.last_answer_at
        if silent_for <= self.stale_after_s:
            return None
        return self.down(f"no good reading for {silent_for:.0f} s")
