"""Security negotiation: facts in, decisions out; no pty, no clock, no session."""

from __future__ import annotations

import random

import pytest

from mepd.engine.recovery import AUTH_RETRY_BACKOFF, WRONG_KEY_AFTER, WRONG_KEY_BACKOFF
from mepd.engine.security import (
    AfterAnswer,
    AfterRefusal,
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


def test_before_any_answer_one_refusal_tries_the_other_mode() -> None:
    security = negotiation("auto")
    decision = security.on_refusal(ever_answered=False)
    assert decision.switch_to == "tls" == security.mode
    assert decision.pause_s == AUTH_RETRY_BACKOFF.first_s
    assert decision.notice == (
        'the meter refuses RC4 requests with this key: trying TLS (security = "auto")'
    )
    assert decision.rejected is None
    assert security.on_trial
    assert security.failures == 0  # the new mode gets its own tries


def test_once_the_meter_has_answered_a_refusal_is_first_taken_for_noise() -> None:
    security = negotiation("auto", "tls")
    first = security.on_refusal(ever_answered=True)
    second = security.on_refusal(ever_answered=True)
    assert first == AfterRefusal(AUTH_RETRY_BACKOFF.delay(0))
    assert second == AfterRefusal(AUTH_RETRY_BACKOFF.delay(1))
    assert (first.pause_s, second.pause_s) == (2.0, 4.0)
    assert security.mode == "tls"
    third = security.on_refusal(ever_answered=True)
    assert third.switch_to == "rc4"
    assert third.notice is not None
    assert "refuses TLS requests" in third.notice
    assert third.pause_s == AUTH_RETRY_BACKOFF.first_s
    assert security.on_trial


def test_auto_tries_each_mode_then_calls_the_key_wrong_once() -> None:
    """A meter without TLS and a wrong key: 0x0B in RC4, then silence (on trial) in TLS."""
    security = negotiation("auto")
    decisions = [security.on_refusal(ever_answered=False) for _ in range(1 + WRONG_KEY_AFTER)]
    switch, *on_trial = decisions
    assert switch.switch_to == "tls"
    assert [d.switch_to for d in on_trial] == [None] * WRONG_KEY_AFTER  # one try per mode
    assert [d.pause_s for d in on_trial[:-1]] == [2.0, 4.0]
    assert [d.rejected for d in on_trial[:-1]] == [None, None]
    rejected = on_trial[-1].rejected
    assert rejected == rejection_message("auto")
    assert "tried both RC4 and TLS" in rejected
    assert "after a clean resynchronisation" in rejected
    assert on_trial[-1].pause_s == wrong_key_pauses(1)[0]
    assert 27.0 <= on_trial[-1].pause_s <= 33.0
    assert security.key_rejected


def test_a_rejected_key_alternates_the_modes_quietly_at_the_wrong_keys_pace() -> None:
    security = negotiation("auto")
    for _ in range(1 + WRONG_KEY_AFTER):
        security.on_refusal(ever_answered=False)
    later = [security.on_refusal(ever_answered=False) for _ in range(4)]
    assert [d.switch_to for d in later] == ["rc4", "tls", "rc4", "tls"]
    assert all(d.notice is None and d.rejected is None for d in later)
    assert [d.pause_s for d in later] == wrong_key_pauses(5)[1:]
    assert security.failures == WRONG_KEY_AFTER + 4  # no fresh tries any more


@pytest.mark.parametrize("configured", ["rc4", "tls"])
def test_a_fixed_mode_never_switches(configured: Security) -> None:
    security = negotiation(configured)
    decisions = [security.on_refusal(ever_answered=False) for _ in range(6)]
    assert {d.switch_to for d in decisions} == {None}
    assert security.mode == configured
    assert not security.on_trial
    assert [d.pause_s for d in decisions[:2]] == [2.0, 4.0]
    assert [d.rejected for d in decisions] == [None, None, rejection_message(configured)] + [
        None
    ] * 3
    assert [d.pause_s for d in decisions[2:]] == wrong_key_pauses(4)
    assert decisions[-1].pause_s <= WRONG_KEY_BACKOFF.cap_s * 1.1


@pytest.mark.parametrize(
    ("configured", "hint"),
    [
        ("rc4", 'may require TLS: set security = "auto"'),
        ("tls", 'may not offer TLS: set security = "auto"'),
        ("auto", "tried both RC4 and TLS mode"),
    ],
)
def test_the_rejection_names_what_was_tried(configured: Security, hint: str) -> None:
    message = rejection_message(configured)
    assert message.startswith("the meter rejects the key: every request got 0x0B")
    assert message.endswith(hint)


def test_an_answer_in_auto_mode_is_remembered_once() -> None:
    security = negotiation("auto")
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
    assert security.key_rejected
    assert security.on_answer(remembered=None) == AfterAnswer(key_accepted_again=True)
    assert not security.key_rejected
    assert security.failures == 0
    # A fresh start: the next 0x0B is noise again, retried after 2 s.
    assert security.on_refusal(ever_answered=True) == AfterRefusal(2.0)
    assert security.on_answer(remembered=None) == AfterAnswer()  # nothing to take back


def test_an_answer_ends_the_trial_and_a_later_run_of_refusals_may_switch_again() -> None:
    security = negotiation("auto")
    security.on_refusal(ever_answered=False)
    assert security.mode == "tls"
    security.on_answer(remembered=None)
    decisions = [security.on_refusal(ever_answered=True) for _ in range(WRONG_KEY_AFTER)]
    assert [d.switch_to for d in decisions] == [None, None, "rc4"]
    assert security.on_trial


def test_a_refusal_on_trial_does_not_switch_back_before_its_three_tries() -> None:
    security = negotiation("auto")
    security.on_refusal(ever_answered=True)
    security.on_refusal(ever_answered=True)
    assert security.on_refusal(ever_answered=True).switch_to == "tls"
    trial = [security.on_refusal(ever_answered=True) for _ in range(WRONG_KEY_AFTER)]
    assert [d.switch_to for d in trial] == [None, None, None]
    assert trial[-1].rejected == rejection_message("auto")
