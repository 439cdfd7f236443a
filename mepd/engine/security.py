"""Which security mode to speak, and when a refused key is wrong: rules as data, no I/O.

A meter answers a request it cannot authenticate with 0x0B (p.10), whether the key is wrong,
a byte was corrupted on the line, or the port requires TLS and was sent RC4 (p.8). With
`security = "auto"` the other mode gets its own tries before the key is called wrong, and the
mode that worked is remembered across restarts. Like `RecoveryLadder`, this class only counts
and decides: the poller feeds it facts (a 0x0B came, a verified answer came) and carries out
what it returns (build a session in mode X, pause N s, report the key as rejected).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from mepd.engine.recovery import AUTH_RETRY_BACKOFF, WRONG_KEY_AFTER, WRONG_KEY_BACKOFF
from mepd.settings import Security

Mode = Literal["rc4", "tls"]

OTHER_MODE: dict[Mode, Mode] = {"rc4": "tls", "tls": "rc4"}
_HINT: dict[Security, str] = {
    "auto": "; mepd tried both RC4 and TLS mode",
    "rc4": '; if it is, the meter\'s MEP port may require TLS: set security = "auto"',
    "tls": '; if it is, the meter\'s MEP port may not offer TLS: set security = "auto"',
}


def rejection_message(configured: Security) -> str:
    """The one error line a wrong key earns; it names what was tried, never the key."""
    return (
        "the meter rejects the key: every request got 0x0B (authentication failure) after a "
        "clean resynchronisation. Check that the key is the MEP Basic Key (MBK) your utility "
        "gave for this meter, written as they wrote it (20 characters, or 32/40 hex digits)"
        + _HINT[configured]
    )


@dataclass(frozen=True)
class AfterRefusal:
    """What to do after a 0x0B (or, on trial, silence): carried out by the poller in order."""

    pause_s: float
    switch_to: Mode | None = None  # build a new session in this mode
    notice: str | None = None  # a warning to log (throttled per mode) about the switch
    rejected: str | None = None  # the key has just been found wrong: log it, take the link down


@dataclass(frozen=True)
class AfterAnswer:
    """What a verified answer changes."""

    remember: Mode | None = None  # write this mode to the state file now ("auto" only)
    key_accepted_again: bool = False  # the key had been called wrong: say it works after all


class SecurityNegotiation:
    """The mode in use, the consecutive refusals, and whether the key is called wrong."""

    def __init__(
        self,
        configured: Security,
        remembered: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.configured = configured
        # "auto" starts with what worked last (the state file), else with RC4.
        self.mode: Mode = (
            configured if configured != "auto" else ("tls" if remembered == "tls" else "rc4")
        )
        self.failures = 0  # consecutive 0x0B with nothing verified since
        self.key_rejected = False
        self._switched = False  # "auto" switched after 0x0B and nothing has answered since
        self._rng = rng or random.Random()  # noqa: S311 - backoff jitter

    @property
    def on_trial(self) -> bool:
        """The other mode is on trial: a port that does not offer it stays silent (p.8)."""
        return self.configured == "auto" and self._switched

    def on_answer(self, remembered: str | None) -> AfterAnswer:
        """A verified answer; `remembered` is the mode the state file holds now."""
        self._switched = False
        remember = self.mode if self.configured == "auto" and remembered != self.mode else None
        again = bool(self.failures and self.key_rejected)
        self.failures = 0
        self.key_rejected = False
        return AfterAnswer(remember, again)

    def on_refusal(self, *, ever_answered: bool) -> AfterRefusal:
        """0x0B: never retried hot. Three in a row with nothing verified: the key is wrong."""
        self.failures += 1
        # Before the meter has ever answered, one 0x0B is enough to try the other mode: a
        # TLS-only port is then found in seconds. Once it has, 0x0B is more likely noise.
        switch_after = WRONG_KEY_AFTER if ever_answered else 1
        switch_to: Mode | None = None
        if self.configured == "auto" and (
            self.key_rejected or (self.failures >= switch_after and not self._switched)
        ):
            # A port that requires TLS answers RC4 with 0x0B (p.8), like a wrong key does.
            previous, self.mode = self.mode, OTHER_MODE[self.mode]
            switch_to = self.mode
            self._switched = True
            if not self.key_rejected:
                # The other mode gets its own three tries (0x0B is ambiguous).
                self.failures = 0
                notice = (
                    f"the meter refuses {previous.upper()} requests with this key: trying "
                    f'{self.mode.upper()} (security = "auto")'
                )
                return AfterRefusal(AUTH_RETRY_BACKOFF.first_s, switch_to, notice)
            # A rejected key alternates the modes quietly, at the wrong key's pace.
        if self.failures < WRONG_KEY_AFTER:
            return AfterRefusal(AUTH_RETRY_BACKOFF.delay(self.failures - 1), switch_to)
        rejected = None
        if not self.key_rejected:
            self.key_rejected = True
            rejected = rejection_message(self.configured)
        delay = WRONG_KEY_BACKOFF.delay(self.failures - WRONG_KEY_AFTER, self._rng)
        return AfterRefusal(delay, switch_to, rejected=rejected)
