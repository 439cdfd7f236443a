"""Every way a poll cycle can fail, what it means, and what the poller does about it: one table.

Like the exchange's `RETRY_POLICY`, this is policy as data. The poller looks an error up here
and carries out the remedy; it has no `except` clause of its own per error. Each row says what
the failure means (the words in the log and in the link's reason), how loud it is, whether the
meter's entities go unavailable, and when to try again. A row's log line is throttled per row,
so a failure that repeats every second is said once, then summarised.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

from mepd.errors import LinkError, MepdError
from mepd.protocol.c1218.errors import SecurityRejectedError
from mepd.protocol.errors import (
    AuthenticationError,
    DecodeError,
    MepTimeoutError,
    ProtocolError,
    ResponseError,
    SequenceError,
)
from mepd.protocol.tls.errors import TlsError, TlsNotOfferedError


class Remedy(Enum):
    """What the poller does next."""

    LADDER = "the recovery ladder: power-cycle the transceiver, reopen the port, back off"
    REFUSAL = "the security negotiation: never retried hot, the key called wrong after three"
    NOT_OFFERED = "the security negotiation: this port does not speak the mode, go back at once"
    REOPEN = "close the port and open it again after a backoff"
    PAUSE = "try again after the row's pause"


@dataclass(frozen=True)
class FailurePolicy:
    name: str  # the throttle key and the row's identity in tests
    meaning: str  # what happened, in a user's words: logged, and the link's reason when down
    remedy: Remedy
    level: int = logging.WARNING
    pause_s: float = 0.0  # Remedy.PAUSE only
    # Consecutive occurrences (no reading in between) before the entities go unavailable with
    # `meaning` as the reason; 0: this row never takes the link down itself.
    down_after: int = 0
    # With security = "auto" and the other mode on trial (after 0x0B twice), this failure is
    # evidence that the port does not offer that mode (p.8): Remedy.NOT_OFFERED instead.
    not_offered_on_trial: bool = False


FAILURES: tuple[tuple[type[MepdError], FailurePolicy], ...] = (
    # Most specific first: the first row whose type matches the error applies.
    (
        SecurityRejectedError,
        # c1218 notes §7.9, §7.4: never retry a rejected optical password in a loop; failures
        # raise BT03's Invalid Password alarm and can lock the port (MEP p.142). Once an hour.
        FailurePolicy(
            "optical-password",
            "the meter's optical port rejected the password (Security): check that the key is "
            "the optical read-only key (RK) your utility gave for this meter, 20 characters",
            Remedy.PAUSE,
            logging.ERROR,
            pause_s=3600.0,
            down_after=1,
        ),
    ),
    (
        AuthenticationError,
        FailurePolicy("refused", "the meter refused the request's digest (0x0B)", Remedy.REFUSAL),
    ),
    (
        MepTimeoutError,
        FailurePolicy(
            "silent",
            "no response within 500 ms, twice (p.21)",
            Remedy.LADDER,
            not_offered_on_trial=True,
        ),
    ),
    (
        LinkError,
        FailurePolicy("port", "the serial port cannot be used", Remedy.REOPEN, logging.ERROR),
    ),
    (
        SequenceError,
        # The exchange's resync budget ran out (a 0x0C storm): start afresh shortly (p.11).
        FailurePolicy(
            "sequence",
            "the meter keeps asking for another sequence number (0x0C)",
            Remedy.PAUSE,
            pause_s=1.0,
            down_after=5,
        ),
    ),
    (
        ResponseError,
        # A verified refusal (0x01-0x05) of a read every meter answers: odd, not fatal.
        FailurePolicy(
            "read-refused", "the meter refused a read", Remedy.PAUSE, pause_s=5.0, down_after=3
        ),
    ),
    (
        DecodeError,
        # Verified answers that do not make sense with the dimension tables: a layout mepd
        # does not understand. Nothing can be published; say so instead of retrying quietly.
        FailurePolicy(
            "undecodable",
            "the meter's answers cannot be decoded",
            Remedy.PAUSE,
            pause_s=5.0,
            down_after=1,
            not_offered_on_trial=True,
        ),
    ),
    (
        TlsNotOfferedError,
        FailurePolicy(
            "tls-not-offered",
            "the meter's MEP port does not offer TLS (it answered a TLS frame with 0x0B)",
            Remedy.NOT_OFFERED,
        ),
    ),
    (
        TlsError,
        FailurePolicy(
            "tls",
            "the TLS session with the meter keeps failing",
            Remedy.PAUSE,
            pause_s=2.0,
            down_after=3,
            not_offered_on_trial=True,
        ),
    ),
    (
        ProtocolError,
        # The exchange gave up on answers that fail their digest or framing: line noise, or
        # another device on the line speaking with another key (p.11: never data).
        FailurePolicy(
            "corrupt",
            "the meter's answers keep failing their digest or framing (a noisy line?)",
            Remedy.PAUSE,
            pause_s=1.0,
            down_after=3,
            not_offered_on_trial=True,
        ),
    ),
    (
        MepdError,
        # Anything else mepd raises on purpose: logged loud, retried slowly, never fatal.
        FailurePolicy(
            "unexpected", "an unexpected failure", Remedy.PAUSE, logging.ERROR, 5.0, down_after=1
        ),
    ),
)


def policy_for(error: MepdError) -> FailurePolicy:
    """The first row of `FAILURES` that `error` is an instance of."""
    for kind, policy in FAILURES:
        if isinstance(error, kind):
            return policy
    raise LookupError(f"no failure policy for {type(error).__name__}")  # unreachable: MepdError


@dataclass
class FailureRun:
    """Consecutive failures of one row, for `down_after`; a reading ends the run."""

    policy: FailurePolicy | None = None
    count: int = 0

    def add(self, policy: FailurePolicy) -> bool:
        """Count `policy`; True when the link should now go down for it."""
        self.count = self.count + 1 if policy is self.policy else 1
        self.policy = policy
        return policy.down_after > 0 and self.count >= policy.down_after

    def clear(self) -> None:
        self.policy, self.count = None, 0
