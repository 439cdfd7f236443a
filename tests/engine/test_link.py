"""Link state: every change said once, with the loop time passed in; no pty, no clock."""

from __future__ import annotations

from mepd.engine.link import LinkState
from mepd.readings import LinkStatus

STALE_S = 30.0


def test_the_first_answer_brings_the_link_up_once() -> None:
    link = LinkState(STALE_S)
    before = link.up  # a local: mypy would keep `link.up` narrowed to None below
    assert before is None
    assert link.answered(now=1.0) == LinkStatus(None, True, "meter answers")
    assert link.answered(now=2.0) is None
    assert link.up is True
    assert link.last_answer_at == 2.0


def test_events_carry_the_serial_once_it_is_known() -> None:
    link = LinkState(STALE_S)
    link.serial = "SIM-GEN4-0001"
    up = link.answered(now=0.0)
    assert up is not None
    assert up.meter == "SIM-GEN4-0001"


def test_down_before_any_answer_is_said_but_is_not_a_loss() -> None:
    link = LinkState(STALE_S)
    assert link.down("meter does not answer") == LinkStatus(None, False, "meter does not answer")
    assert link.losses == 0


def test_a_reason_is_said_once_and_a_new_reason_again() -> None:
    link = LinkState(STALE_S)
    link.answered(now=0.0)
    first = link.down("meter does not answer")
    assert first == LinkStatus(None, False, "meter does not answer", False)
    assert link.down("meter does not answer") is None
    assert link.down("serial port gone") == LinkStatus(None, False, "serial port gone")
    assert link.losses == 1  # one loss, however many reasons it had


def test_every_loss_of_an_up_link_is_counted() -> None:
    link = LinkState(STALE_S)
    for now in (0.0, 10.0, 20.0):
        link.answered(now)
        link.down("meter does not answer")
    assert link.losses == 3


def test_an_answer_after_down_brings_it_up_and_forgets_the_reason() -> None:
    link = LinkState(STALE_S)
    link.down("meter does not answer")
    assert link.answered(now=5.0) == LinkStatus(None, True, "meter answers")
    assert link.reason == ""
    # The same reason after a recovery is news again.
    assert link.down("meter does not answer") is not None


def test_an_authentication_problem_is_flagged() -> None:
    link = LinkState(STALE_S)
    change = link.down("the meter rejects the key", authentication_problem=True)
    assert change is not None
    assert change.authentication_problem
    assert not change.up


def test_a_link_without_answers_for_too_long_goes_down_once() -> None:
    link = LinkState(STALE_S)
    link.answered(now=100.0)
    assert link.check_stale(now=100.0 + STALE_S) is None  # exactly the limit: still fresh
    stale = link.check_stale(now=100.0 + STALE_S + 1.4)
    assert stale == LinkStatus(None, False, "no good reading for 31 s")
    assert link.losses == 1
    assert link.check_stale(now=200.0) is None  # already down: no second event
    assert link.answered(now=201.0) is not None


def test_staleness_needs_an_up_link() -> None:
    never = LinkState(STALE_S)
    assert never.check_stale(now=1e6) is None
    down = LinkState(STALE_S)
    down.answered(now=0.0)
    down.down("meter does not answer")
    assert down.check_stale(now=1e6) is None
    assert down.reason == "meter does not answer"
