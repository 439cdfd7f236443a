"""Security negotiation: facts in, decisions out; no pty, no clock, no session."""

from __future__ import annotations

import random

import pytest

from mepd.engine.recovery import AUTH_RETRY_BACKOFF, WRONG_KEY_AFTER, WRONG_KEY_BACKOFF
from mepd.engine.security import (
    BACK_TO_PROVEN_S,
    AfterAnswer,
    AfterRefusal,
    Mode,
    SecurityNegotiation,
    rejection_message,
)
from mepd.settings import Security

SEED = 7


def negotiation(configured: Security, remembered: str | None = None) -> SecurityNegotiation:
    return SecurityNegotiation(configured, remembered, random.Random(SEED))


def wrong_key_pauses(count: int) -> list[float]:
    """The wrong key's backoff for attempts 0.., drawn from the same seed as `negotiation`."""
    rng = random.Random(SEED)
    return [WRONG_KEY_BACKOFF.delay(attempt, rng) for attempt in range(count)]


@pytest.mark.parametrize(
    ("configured", "remembered", "mode"),
    [
        ("rc4", None, "rc4"),
        ("rc4", "tls", "rc4"),  # a fixed mode ignores the memory
        ("tls", None, "tls"),
        ("tls", "rc4", "tls"),
        ("auto", None, "rc4"),
        ("auto", "rc4", "rc4"),
        ("auto", "tls", "tls"),
        ("auto", "garbage", "rc4"),
    ],
)
def test_the_first_mode(configured: Security, remembered: str | None, mode: str) -> None:
    security = negotiation(configured, remembered)
    assert security.mode == mode
    assert not security.on_trial  # even a remembered TLS is not on trial: it worked before


def test_before_any_answer_a_second_refusal_tries_the_other_mode() -> None:
    security = negotiation("auto")
    first = security.on_refusal(ever_answered=False)
    assert first == AfterRefusal(AUTH_RETRY_BACKOFF.first_s)  # a bit error heals: RC4 again
    mode_before = security.mode  # a local: mypy would keep the attribute narrowed to "rc4"
    assert mode_before == "rc4"
    decision = security.on_refusal(ever_answered=False)
    assert decision.switch_to == "tls" == security.mode
    assert decision.pause_s == AUTH_RETRY_BACKOFF.first_s
    assert decision.notice == (
        "the meter refused RC4 requests 2 times in a row: trying TLS mode, in case its port "
        'requires it (security = "auto")'
    )
    assert decision.rejected is None
    assert security.on_trial
    assert security.failures == 0  # the new mode gets its own tries


def test_once_the_meter_has_answered_a_refusal_is_first_taken_for_noise() -> None:
    security = negotiation("auto", "rc4")
    first = security.on_refusal(ever_answered=True)
    second = security.on_refusal(ever_answered=True)
    assert first == AfterRefusal(AUTH_RETRY_BACKOFF.delay(0))
    assert second == AfterRefusal(AUTH_RETRY_BACKOFF.delay(1))
    assert (first.pause_s, second.pause_s) == (1.0, 2.0)
    assert security.mode == "rc4"
    third = security.on_refusal(ever_answered=True)
    assert third.switch_to == "tls"
    assert third.notice is not None
    assert "refused RC4 requests 3 times" in third.notice
    assert third.pause_s == AUTH_RETRY_BACKOFF.first_s
    assert security.on_trial


def test_in_tls_mode_a_refused_key_proves_the_port_and_never_switches() -> None:
    # 0x03 is a TLS-mode answer (p.9): only a port in TLS mode gives it.
    security = negotiation("auto", "tls")
    decisions = [security.on_refusal(ever_answered=True) for _ in range(WRONG_KEY_AFTER)]
    assert {d.switch_to for d in decisions} == {None}
    assert security.proven == "tls"
    assert decisions[-1].rejected == rejection_message("auto", "tls", "tls")


def _rc4_meter_with_a_wrong_key(security: SecurityNegotiation) -> list[AfterRefusal]:
    """0x0B twice in RC4, then the TLS trial's frame answered with a bare 0x0B (or silence)."""
    return [
        security.on_refusal(ever_answered=False),
        security.on_refusal(ever_answered=False),
        security.on_not_offered(ever_answered=False),
    ]


def test_an_rc4_port_that_refuses_tls_is_proven_and_the_key_called_wrong_in_rc4() -> None:
    security = negotiation("auto")
    retry, switch, back = _rc4_meter_with_a_wrong_key(security)
    assert (retry.switch_to, switch.switch_to, back.switch_to) == (None, "tls", "rc4")
    assert back.pause_s == BACK_TO_PROVEN_S  # at once
    assert back.rejected is None
    assert security.proven == "rc4"
    assert not security.on_trial
    assert security.failures == 2  # the RC4 refusals were real
    third = security.on_refusal(ever_answered=False)
    assert third.switch_to is None
    assert third.rejected == rejection_message("auto", "rc4", "rc4")
    assert third.rejected.startswith(
        "the meter rejected the key (0x0B) in RC4 mode and did not offer TLS"
    )
    assert "after a clean resynchronisation" in third.rejected
    assert third.pause_s == wrong_key_pauses(1)[0]
    assert 27.0 <= third.pause_s <= 33.0
    assert security.key_rejected


def test_a_rejected_key_on_a_proven_port_stays_in_its_mode_at_the_wrong_keys_pace() -> None:
    security = negotiation("auto")
    _rc4_meter_with_a_wrong_key(security)
    security.on_refusal(ever_answered=False)  # rejected
    later = [security.on_refusal(ever_answered=False) for _ in range(4)]
    assert {d.switch_to for d in later} == {None}
    assert all(d.notice is None and d.rejected is None for d in later)
    assert [d.pause_s for d in later] == wrong_key_pauses(5)[1:]
    assert security.mode == "rc4"


def test_a_remembered_tls_on_an_rc4_meter_goes_back_to_rc4_at_once() -> None:
    security = negotiation("auto", "tls")
    back = security.on_not_offered(ever_answered=False)
    assert back == AfterRefusal(BACK_TO_PROVEN_S, "rc4")
    assert security.mode == security.proven == "rc4"
    assert security.failures == 0  # no key failure was counted


def test_a_tls_refusal_of_the_key_proves_the_tls_port() -> None:
    security = negotiation("auto")
    security.on_refusal(ever_answered=False)
    security.on_refusal(ever_answered=False)  # TLS on trial
    decisions = [security.on_refusal(ever_answered=False) for _ in range(WRONG_KEY_AFTER)]
    assert security.proven == "tls"
    assert not security.on_trial
    assert {d.switch_to for d in decisions} == {None}
    assert decisions[-1].rejected == rejection_message("auto", "tls", "tls")
    assert "in TLS mode and refuses RC4 mode" in decisions[-1].rejected


@pytest.mark.parametrize("configured", ["rc4", "tls"])
def test_a_fixed_mode_never_switches(configured: Security) -> None:
    security = negotiation(configured)
    decisions = [security.on_refusal(ever_answered=False) for _ in range(5)]
    decisions.append(security.on_not_offered(ever_answered=False))  # counts as a refusal
    assert {d.switch_to for d in decisions} == {None}
    assert security.mode == configured
    assert not security.on_trial
    assert [d.pause_s for d in decisions[:2]] == [1.0, 2.0]
    message = rejection_message(configured, configured, None)
    assert [d.rejected for d in decisions] == [None, None, message] + [None] * 3
    assert [d.pause_s for d in decisions[2:]] == wrong_key_pauses(4)
    assert decisions[-1].pause_s <= WRONG_KEY_BACKOFF.cap_s * 1.1


@pytest.mark.parametrize(
    ("configured", "mode", "proven", "start", "hint"),
    [
        ("rc4", "rc4", None, "in RC4 mode,", 'may require TLS: set security = "auto"'),
        ("tls", "tls", None, "in TLS mode,", 'may not offer TLS: set security = "auto"'),
        (
            "auto",
            "rc4",
            "rc4",
            "in RC4 mode and did not offer TLS,",
            "(20 characters, or 32/40 hex digits)",
        ),
        ("auto", "tls", None, "in RC4 and in TLS mode,", "(20 characters, or 32/40 hex digits)"),
    ],
)
def test_the_rejection_names_what_was_tried(
    configured: Security, mode: Mode, proven: Mode | None, start: str, hint: str
) -> None:
    message = rejection_message(configured, mode, proven)
    assert message.startswith(f"the meter rejected the key (0x0B) {start}")
    assert message.endswith(hint)


def test_an_answer_in_auto_mode_is_remembered_once() -> None:
    security = negotiation("auto")
    security.on_refusal(ever_answered=False)
    security.on_refusal(ever_answered=False)  # now TLS, on trial
    assert security.on_answer(remembered=None) == AfterAnswer(remember="tls")
    assert not security.on_trial
    assert security.on_answer(remembered="tls") == AfterAnswer()
    assert security.on_answer(remembered="rc4") == AfterAnswer(remember="tls")


@pytest.mark.parametrize("configured", ["rc4", "tls"])
def test_a_fixed_mode_is_not_remembered(configured: Security) -> None:
    assert negotiation(configured).on_answer(remembered=None) == AfterAnswer()


def test_an_answer_after_a_rejection_takes_the_verdict_back() -> None:
    security = negotiation("rc4")
    for _ in range(WRONG_KEY_AFTER):
        security.on_refusal(ever_answered=True)
    rejected = security.key_rejected  # a local: mypy would keep the attribute narrowed
    assert rejected
    assert security.on_answer(remembered=None) == AfterAnswer(key_accepted_again=True)
    assert not security.key_rejected
    assert security.failures == 0
    # A fresh start: the next 0x0B is noise again, retried after 1 s.
    assert security.on_refusal(ever_answered=True) == AfterRefusal(1.0)
    assert security.on_answer(remembered=None) == AfterAnswer()  # nothing to take back


def test_an_answer_ends_the_trial_and_a_later_run_of_refusals_may_switch_again() -> None:
    # A utility may switch a port to TLS-only while mepd runs: RC4 answered before, now 0x0B.
    security = negotiation("auto")
    security.on_answer(remembered=None)
    decisions = [security.on_refusal(ever_answered=True) for _ in range(WRONG_KEY_AFTER)]
    assert [d.switch_to for d in decisions] == [None, None, "tls"]
    on_trial = security.on_trial  # a local: mypy would keep the attribute narrowed
    assert on_trial
    security.on_answer(remembered="rc4")
    assert not security.on_trial
    assert security.mode == "tls"
