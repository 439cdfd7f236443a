"""Waiting for an answer (p.21) without a clock: times are plain numbers the test chooses."""

from __future__ import annotations

import pytest

from mepd.protocol.frames import LENGTH_BYTES, MAX_MESSAGE_BYTES
from mepd.protocol.stream import Alert, Discarded, Frame
from mepd.protocol.timing import response_wire_seconds, wire_seconds
from mepd.protocol.waiting import (
    DRAIN_IDLE_S,
    FRAME_COMPLETION_SLACK_S,
    FRAME_TAIL_S,
    LATE_ANSWER_S,
    Incomplete,
    ResponseWait,
    Timeout,
)

SENT_AT = 100.0  # the request's last byte leaves the wire
FULL_FRAME_S = FRAME_COMPLETION_SLACK_S + response_wire_seconds(LENGTH_BYTES + MAX_MESSAGE_BYTES)


def frame(body: bytes) -> bytes:
    return len(body).to_bytes(LENGTH_BYTES, "big") + body


def test_nothing_within_500_ms_is_a_timeout() -> None:
    wait = ResponseWait()
    wait.sent(SENT_AT)
    assert wait.deadline() == SENT_AT + 0.5  # p.21: from the request's last byte
    assert wait.expired(SENT_AT + 0.499) is None
    assert wait.expired(SENT_AT + 0.5) == Timeout()


def test_alerts_are_not_an_answer() -> None:
    wait = ResponseWait()
    wait.sent(SENT_AT)
    assert wait.received(b"\x00\x00", SENT_AT + 0.1) == [Alert()]  # p.17
    assert wait.expired(SENT_AT + 0.5) == Timeout()


def test_bytes_that_made_no_frame_are_an_incomplete_answer() -> None:
    wait = ResponseWait()
    wait.sent(SENT_AT)
    garbage_then_alert = b"\xff\xfe\x00\x00"
    assert wait.received(garbage_then_alert, SENT_AT + 0.1) == [Discarded(b"\xff\xfe"), Alert()]
    assert wait.expired(SENT_AT + 0.5) == Incomplete(0)  # nothing held back, yet heard


def test_a_lone_byte_is_an_incomplete_answer_and_is_given_up() -> None:
    wait = ResponseWait()
    wait.sent(SENT_AT)
    assert wait.received(b"\x00", SENT_AT + 0.1) == []
    assert wait.expired(SENT_AT + 0.5) == Incomplete(1)
    assert wait.sent(SENT_AT + 1.0) == 0  # given up with the verdict: not stale later


def test_a_len_extends_the_deadline_to_a_full_frame_on_the_wire() -> None:
    # p.21: the timeout stops at the LEN; the rest may take a full frame with segment gaps.
    wait = ResponseWait()
    wait.sent(SENT_AT)
    heard_at = SENT_AT + 0.4
    assert wait.received(b"\x01\x77\x00", heard_at) == []
    assert wait.deadline() == pytest.approx(heard_at + FULL_FRAME_S)
    assert wait.expired(SENT_AT + 0.5) is None
    assert wait.expired(heard_at + FULL_FRAME_S - 0.001) is None
    assert wait.expired(heard_at + FULL_FRAME_S) == Incomplete(3)


def test_the_frame_deadline_is_set_once_by_the_first_len() -> None:
    wait = ResponseWait()
    wait.sent(SENT_AT)
    wait.received(b"\x00\x10", SENT_AT + 0.1)
    wait.received(b"\x01\x02", SENT_AT + 0.3)
    assert wait.deadline() == pytest.approx(SENT_AT + 0.1 + FULL_FRAME_S)


def test_a_frame_is_delivered_and_never_expires() -> None:
    wait = ResponseWait()
    wait.sent(SENT_AT)
    assert wait.received(frame(b"\x00abc"), SENT_AT + 0.2) == [Frame(b"\x00abc")]
    assert wait.expired(SENT_AT + 10.0) is None  # a frame waits: no verdict
    assert wait.frame() == b"\x00abc"
    assert wait.frame() is None


def test_what_arrived_before_the_request_is_stale() -> None:
    wait = ResponseWait()
    wait.sent(SENT_AT)
    wait.received(frame(b"\x00ab") + b"\x00\x09\x00", SENT_AT + 0.2)
    assert wait.sent(SENT_AT + 1.0) == (2 + 3) + 3  # an undelivered frame and a partial one
    assert wait.frame() is None
    assert wait.expired(SENT_AT + 1.5) == Timeout()  # the new wait heard nothing


def test_nap_while_a_frame_cannot_be_complete_yet() -> None:
    wait = ResponseWait()
    wait.sent(SENT_AT)
    assert wait.nap(SENT_AT) == 0.0  # no LEN yet: read as bytes come
    heard_at = SENT_AT + 0.05
    wait.received(b"\x01\x77\x00", heard_at)  # 375 bytes announced, 374 still missing
    assert wait.nap(heard_at) == pytest.approx(wire_seconds(374) - FRAME_TAIL_S)
    wait.received(bytes(370), heard_at + 0.35)  # 4 missing: not worth a nap
    assert wait.nap(heard_at + 0.35) == 0.0


def test_a_nap_never_passes_the_deadline() -> None:
    wait = ResponseWait()
    wait.sent(SENT_AT)
    wait.received(b"\x01\x77", SENT_AT + 0.1)
    late = wait.deadline() - 0.02
    assert wait.nap(late) == pytest.approx(0.02)
    assert wait.nap(wait.deadline() + 1.0) == 0.0


def test_the_baud_rate_sets_the_frame_time() -> None:
    slow, fast = ResponseWait(9600), ResponseWait(19200)
    for wait in (slow, fast):
        wait.sent(SENT_AT)
        wait.received(b"\x01\x77", SENT_AT)
    assert fast.deadline() < slow.deadline()
    assert fast.nap(SENT_AT) < slow.nap(SENT_AT)


def test_after_a_verdict_the_line_is_drained_until_idle() -> None:
    """Issue 18 item 7: the next request waits until a late answer has stopped coming."""
    wait = ResponseWait()
    wait.sent(SENT_AT)
    assert not wait.must_drain(SENT_AT)
    wait.received(frame(b"\x00" * 40)[:10], SENT_AT + 0.3)  # a LEN, then the line fails
    assert wait.expired(SENT_AT + 1.5) == Incomplete(10)
    assert wait.must_drain(SENT_AT + 1.6)
    wait.drain_start(SENT_AT + 1.6)
    assert wait.drained(b"\x00" * 20, SENT_AT + 1.6) == 20  # the tail, late
    assert wait.drain_deadline() == pytest.approx(SENT_AT + 1.6 + DRAIN_IDLE_S)
    assert not wait.drain_over(SENT_AT + 1.65)  # bytes 50 ms ago: not idle yet
    assert wait.drain_over(SENT_AT + 1.6 + DRAIN_IDLE_S)
    # The line went idle: the next answer decodes from its own LEN, whatever was missing.
    wait.sent(SENT_AT + 1.8)
    assert wait.received(frame(b"\x07" * 9), SENT_AT + 1.9) == [Frame(b"\x07" * 9)]


def test_a_silent_line_is_idle_at_once() -> None:
    wait = ResponseWait()
    wait.sent(SENT_AT)
    assert wait.expired(SENT_AT + 0.5) == Timeout()
    wait.drain_start(SENT_AT + 0.5)
    assert wait.drain_over(SENT_AT + 0.5)  # p.21: the resend is not held up


def test_the_tail_of_an_abandoned_frame_is_discarded_in_the_next_wait() -> None:
    wait = ResponseWait()
    wait.sent(SENT_AT)
    wait.received(frame(b"\x00" * 40)[:10], SENT_AT + 0.3)
    assert wait.expired(SENT_AT + 1.5) == Incomplete(10)
    wait.sent(SENT_AT + 1.6)  # sent without draining: the 32 missing bytes are no alerts
    events = wait.received(b"\x00" * 32 + frame(b"\x07" * 9), SENT_AT + 1.7)
    assert events == [Discarded(b"\x00" * 32), Frame(b"\x07" * 9)]


def test_a_chattering_line_is_drained_for_at_most_a_frame_time() -> None:
    wait = ResponseWait()
    wait.sent(SENT_AT)
    wait.expired(SENT_AT + 0.5)
    wait.drain_start(SENT_AT + 0.6)
    for step in range(1, 200):
        now = SENT_AT + 0.6 + step * 0.02
        wait.drained(b"\xff", now)
        if wait.drain_over(now):
            break
    assert now == pytest.approx(SENT_AT + 0.6 + FULL_FRAME_S, abs=0.02)


def test_the_line_is_settled_a_while_after_the_last_verdict() -> None:
    wait = ResponseWait()
    wait.sent(SENT_AT)
    wait.expired(SENT_AT + 0.5)
    assert wait.must_drain(SENT_AT + 0.5 + LATE_ANSWER_S - 0.01)
    assert not wait.must_drain(SENT_AT + 0.5 + LATE_ANSWER_S)
