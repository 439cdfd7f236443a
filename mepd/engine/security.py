"""Which security mode to speak, and when a refused key is wrong: decided on evidence, no I/O.

A meter answers a request it cannot authenticate with 0x0B (p.10), whether the key is wrong,
a byte was corrupted on the line, or the port requires TLS and was sent RC4 (p.8). One 0x0B
therefore proves nothing. The evidence that does:
- a second 0x0B in RC4 mode after a clean resynchronisation (a bit error does not repeat);
- a bare 0x0B in answer to a TLS frame: only an RC4-mode port answers so (a TLS port answers
  in TLS-mode codes, p.8-9), so the port speaks RC4 and the key failures were real;
- silence to the other mode while it is on trial: the port does not offer it (p.8);
- any verified answer: the mode works.
With `security = "auto"` mepd starts in the mode that worked last (the state file) or RC4, tries
the other mode only on that evidence, and once a mode is proven stays in it. Like
`RecoveryLadder`, this class only counts and decides; the poller carries out what it returns.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from mepd.engine.recovery import AUTH_RETRY_BACKOFF, WRONG_KEY_AFTER, WRONG_KEY_BACKOFF
from mepd.settings import Security

Mode = Literal["rc4", "tls"]

OTHER_MODE: dict[Mode, Mode] = {"rc4": "tls", "tls": "rc4"}
# Before the meter has ever answered, refusals in RC4 mode before TLS is tried: the first may be
# a bit error (the request is resent with a fresh sequence number after a resync, p.11).
SWITCH_AFTER_BEFORE_ANY_ANSWER = 2
# Back to the proven mode "at once": just the pause that lets the line go quiet.
BACK_TO_PROVEN_S = 0.5

_HINT: dict[Security, str] = {
    "auto": "",
    "rc4": '; if it is, the meter\'s MEP port may require TLS: set security = "auto"',
    "tls": '; if it is, the meter\'s MEP port may not offer TLS: set security = "auto"',
}


def rejection_message(configured: Security, mode: Mode, proven: Mode | None) -> str:
    """The one error line a wrong key earns; it names what was tried, never the key."""
    if configured == "auto" and proven == mode:
        other = "did not offer TLS" if mode == "rc4" else "refuses RC4 mode"
        what = f"the meter rejected the key (0x0B) in {mode.upper()} mode and {other}"
    elif configured == "auto":
        what = "the meter rejected the key (0x0B) in RC4 and in TLS mode"
    else:
        what = f"the meter rejected the key (0x0B) in {mode.upper()} mode"
    return (
        f"{what}, after a clean resynchronisation each time. Check that the key is the MEP "
        "Basic Key (MBK) your utility gave for this meter, written as they wrote it "
        "(20 characters, or 32/40 hex digits)" + _HINT[configured]
    )


@dataclass(frozen=True)
class AfterRefusal:
    """What to do after a refusal or a mode found not offered: the poller carries it out."""

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
    """The mode in use, the consecutive refusals in it, and whether the key is called wrong."""

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
        self.failures = 0  # consecutive refusals in `mode` with nothing verified since
        self.failures_before_trial = 0
        self.key_rejected = False
        self.proven: Mode | None = None  # the mode this port is known to speak
        self._trial_from: tuple[Mode, int] | None = None  # mode and refusals before the trial
        self._rng = rng or random.Random()  # noqa: S311 - backoff jitter

    @property
    def on_trial(self) -> bool:
        """The other mode is on trial: a port that does not offer it stays silent (p.8)."""
        return self._trial_from is not None

    def on_answer(self, remembered: str | None) -> AfterAnswer:
        """A verified answer; `remembered` is the mode the state file holds now."""
        self._trial_from = None
        # No `proven` here: a port that answered in one mode may be switched to the other by
        # its utility; a later run of refusals may try the other mode again (after three).
        remember = self.mode if self.configured == "auto" and remembered != self.mode else None
        again = bool(self.failures and self.key_rejected)
        self.failures = 0
        self.key_rejected = False
        return AfterAnswer(remember, again)

    def on_refusal(self, *, ever_answered: bool) -> AfterRefusal:
        """A verified refusal of the key in the current mode (0x0B; 0x03 in TLS, p.9)."""
        self.failures += 1
        if self.configured == "auto" and self.mode == "tls":
            self.proven = "tls"  # only a TLS-mode port answers a TLS frame with 0x03
            self._trial_from = None
        switch_after = WRONG_KEY_AFTER if ever_answered else SWITCH_AFTER_BEFORE_ANY_ANSWER
        if (
            self.configured == "auto"
            and self.proven is None
            and not self.on_trial
            and self.failures >= switch_after
        ):
            # A port that requires TLS answers RC4 with 0x0B (p.8), like a wrong key does.
            return self._start_trial()
        if self.failures < WRONG_KEY_AFTER:
            return AfterRefusal(AUTH_RETRY_BACKOFF.delay(self.failures - 1))
        rejected = None
        if not self.key_rejected:
            self.key_rejected = True
            rejected = rejection_message(self.configured, self.mode, self.proven)
        delay = WRONG_KEY_BACKOFF.delay(self.failures - WRONG_KEY_AFTER, self._rng)
        return AfterRefusal(delay, rejected=rejected)

    def on_not_offered(self, *, ever_answered: bool) -> AfterRefusal:
        """The port does not speak the current mode: 0x0B to a TLS frame, or trial silence."""
        if self.configured != "auto":
            return self.on_refusal(ever_answered=ever_answered)  # the hint names the setting
        previous, refusals = self._trial_from or (OTHER_MODE[self.mode], 0)
        self._trial_from = None
        self.mode = self.proven = previous
        # The refusals before the trial were real: the port speaks this mode.
        self.failures = refusals
        if self.failures >= WRONG_KEY_AFTER and not self.key_rejected:
            self.key_rejected = True
            return AfterRefusal(
                BACK_TO_PROVEN_S,
                previous,
                rejected=rejection_message(self.configured, self.mode, self.proven),
            )
        return AfterRefusal(BACK_TO_PROVEN_S, previous)

    def _start_trial(self) -> AfterRefusal:
        previous = self.mode
        self._trial_from = (previous, self.failures)
        self.failures_before_trial = self.failures
        self.mode = OTHER_MODE[previous]
        self.failures = 0  # the trial mode gets its own tries
        # Not yet a verdict on the key: say what is being tried and why, no more.
        notice = (
            f"the meter refused {previous.upper()} requests {self.failures_before_trial} times "
            f"in a row: trying {self.mode.upper()} mode, in case its port requires it "
            f'(security = "auto")'
        )
        return AfterRefusal(AUTH_RETRY_BACKOFF.first_s, self.mode, notice)
