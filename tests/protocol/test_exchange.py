"""Retry and sequence rules of one exchange (p.11, p.16, p.21, p.55; notes §1.4).

The meter is tests/fakes.FakeMeter, built from the same protocol code the simulator uses;
these tests drive it by hand, frame by frame, with no transport in between.
"""

from __future__ import annotations

import pytest

from mepd.protocol import (
    Complete,
    Exchange,
    KeyId,
    MepKey,
    PartialRead,
    RetryBudget,
    Send,
    SequenceCounter,
    encode_response,
    receive_request,
)
from mepd.protocol.errors import AuthenticationError, MepTimeoutError, SequenceError
from mepd.protocol.exchange import Outcome, Retry
from mepd.protocol.frames import sequence_error_message
from mepd.protocol.sequence import IDT_CHANGE_JUMP
from tests.fakes import FakeMeter

KEY = MepKey(b"K" * 16, KeyId.MBK)
DATA = bytes(range(10))


class TinyMeter(FakeMeter):
    """FakeMeter answering whole frames with bodies (LEN stripped both ways)."""

    def __init__(self, last: int = 0x77635B90) -> None:
        super().__init__([KEY], table_data=DATA, last_sequence=last)

    def reply(self, frame: bytes) -> bytes:
        return self.answer(frame[2:])[2:]


def _run(exchange: Exchange, meter: TinyMeter) -> Complete:
    step: Send | Complete = exchange.start()
    while isinstance(step, Send):
        step = exchange.on_response(meter.reply(step.frame))
    return step


def test_first_request_earns_0x0c_then_n_plus_one_succeeds() -> None:
    meter = TinyMeter()
    counter = SequenceCounter(0x01020304)
    done = _run(Exchange(PartialRead(28, 0, 10), KEY, counter), meter)
    assert done.response.data == DATA
    assert done.resyncs == 1
    assert meter.sequences == [0x01020304, 0x77635B91]  # p.16: the example's retry number
    assert counter.next == 0x77635B92


def test_timeout_resends_identical_bytes_once_then_gives_up() -> None:
    exchange = Exchange(PartialRead(28, 0, 10), KEY, SequenceCounter(5))
    first = exchange.start()
    again = exchange.on_timeout()
    assert again.frame == first.frame
    assert again.retry is Retry.IDENTICAL
    with pytest.raises(MepTimeoutError) as caught:
        exchange.on_timeout()
    assert isinstance(caught.value, TimeoutError)


def test_a_processed_request_resent_after_a_timeout_resynchronises() -> None:
    meter = TinyMeter(last=4)
    exchange = Exchange(PartialRead(28, 0, 10), KEY, SequenceCounter(5))
    first = exchange.start()
    meter.reply(first.frame)  # processed, but the answer was lost
    resend = exchange.on_timeout()
    step = exchange.on_response(meter.reply(resend.frame))  # reused number: 0x0C
    assert isinstance(step, Send)
    assert step.retry is Retry.ADOPT_SEQUENCE
    assert step.frame != first.frame  # never loop on identical packets after 0x0C
    done = exchange.on_response(meter.reply(step.frame))
    assert isinstance(done, Complete)
    assert meter.sequences == [5, 5, 6]


def test_corrupted_response_is_asked_again_with_the_next_number() -> None:
    meter = TinyMeter(last=4)
    counter = SequenceCounter(5)
    exchange = Exchange(PartialRead(28, 0, 10), KEY, counter)
    first = exchange.start()
    answer = bytearray(meter.reply(first.frame))
    answer[4] ^= 0x01
    step = exchange.on_response(bytes(answer))
    assert isinstance(step, Send)
    assert step.retry is Retry.NEXT_SEQUENCE
    done = exchange.on_response(meter.reply(step.frame))
    assert isinstance(done, Complete)
    assert done.response.data == DATA
    assert exchange.counts[Outcome.CORRUPT] == 1


def test_an_unverified_0x0c_never_moves_the_counter() -> None:
    counter = SequenceCounter(5)
    exchange = Exchange(PartialRead(28, 0, 10), KEY, counter)
    exchange.start()
    forged = sequence_error_message(0xDEADBEEF) + bytes(8)
    step = exchange.on_response(forged)
    assert isinstance(step, Send)
    assert step.retry is Retry.NEXT_SEQUENCE
    assert counter.next == 7  # 5 sent, 6 the retry: nothing adopted from the forgery


def test_authentication_failure_is_raised_not_retried() -> None:
    exchange = Exchange(PartialRead(28, 0, 10), KEY, SequenceCounter(5))
    exchange.start()
    with pytest.raises(AuthenticationError):
        exchange.on_response(b"\x0b")


def test_a_0x0c_storm_ends_after_the_budget() -> None:
    class StormMeter(TinyMeter):
        def reply(self, frame: bytes) -> bytes:
            received = receive_request(frame[2:], [KEY])
            self.sequences.append(received.sequence)
            return encode_response(received, sequence_error_message(received.sequence + 100))[2:]

    meter = StormMeter()
    exchange = Exchange(PartialRead(28, 0, 10), KEY, SequenceCounter(5), budget=RetryBudget())
    with pytest.raises(SequenceError):
        _run(exchange, meter)
    assert len(meter.sequences) == RetryBudget().sequence_resyncs + 1
    assert len(set(meter.sequences)) == len(meter.sequences)  # every send a new number


def test_idt_change_jump_takes_the_same_path() -> None:
    meter = TinyMeter(last=100)
    counter = SequenceCounter(101)
    assert isinstance(_run(Exchange(PartialRead(28, 0, 10), KEY, counter), meter), Complete)
    meter.last_sequence += IDT_CHANGE_JUMP  # p.55
    done = _run(Exchange(PartialRead(28, 0, 10), KEY, counter), meter)
    assert done.resyncs == 1
    assert meter.last_sequence == 101 + IDT_CHANGE_JUMP + 1


def test_a_late_answer_to_an_earlier_attempt_is_accepted() -> None:
    meter = TinyMeter(last=4)
    exchange = Exchange(PartialRead(28, 0, 10), KEY, SequenceCounter(5))
    first = exchange.start()
    late = meter.reply(first.frame)
    exchange.on_response(b"\x00\x00\x0a" + bytes(18))  # noise: rebuilt with number 6
    done = exchange.on_response(late)
    assert isinstance(done, Complete)
    assert done.response.data == DATA


def test_encrypted_exchange_round_trips() -> None:
    meter = TinyMeter()
    exchange = Exchange(PartialRead(28, 0, 10), KEY, SequenceCounter(1), encrypt=True)
    first = exchange.start()
    assert b"\x3f\x00\x1c" not in first.frame  # the request is not in clear
    step = exchange.on_response(meter.reply(first.frame))
    assert isinstance(step, Send)
    done = exchange.on_response(meter.reply(step.frame))
    assert isinstance(done, Complete)
    assert done.response.data == DATA


def test_a_request_met_by_silence_gives_its_number_to_the_next() -> None:
    """p.21 across requests: a meter that heard nothing sees no number walk past its window
    (p.11), however many silent probes went out; its first answer is data, not 0x0C."""
    meter = TinyMeter(last=1000)
    counter = SequenceCounter(1001)
    for _ in range(20):  # a long silence: one probe after another
        probe = Exchange(PartialRead(28, 0, 10), KEY, counter)
        probe.start()
        probe.give_back_if_unheard()
    assert counter.next == 1001
    done = _run(Exchange(PartialRead(28, 0, 10), KEY, counter), meter)
    assert done.resyncs == 0
    assert meter.sequences == [1001]


def test_a_request_whose_answer_came_even_damaged_keeps_its_number() -> None:
    counter = SequenceCounter(1001)
    exchange = Exchange(PartialRead(28, 0, 10), KEY, counter)
    exchange.start()
    exchange.on_incomplete()  # the meter processed it: reusing the number earns 0x0C
    exchange.give_back_if_unheard()
    assert counter.next == 1003
