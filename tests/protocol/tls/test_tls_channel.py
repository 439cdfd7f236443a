"""The TLS-mode state machine (channel.py) against the simulated meter's TLS side, no I/O."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mepd.drivers.simulator.stats import LinkStats
from mepd.drivers.simulator.tls import MeterTls
from mepd.protocol.codes import ResponseCode
from mepd.protocol.errors import AuthenticationError, MepTimeoutError, ResponseError
from mepd.protocol.exchange import Complete, Retry, Send
from mepd.protocol.frames import PartialRead
from mepd.protocol.keys import KeyId, MepKey
from mepd.protocol.tls.channel import TlsChannel
from mepd.protocol.tls.codes import PskCredentials, parse_tls_request
from mepd.protocol.tls.errors import TlsKeyRejectedError, TlsRefusedError
from mepd.protocol.tls.server import PskServer

KEY = MepKey(b"K" * 16, KeyId.MBK)
READ = PartialRead(28, 0, 4)
DATA = b"\x01\x02\x03\x04"


class Meter:
    """The simulator's MeterTls behind a function: request frame in, response body out."""

    def __init__(self, keys: list[MepKey] | None = None) -> None:
        self.tls = MeterTls(PskServer, lambda: keys or [KEY], LinkStats())
        self.codes: list[int] = []
        self.answer: Callable[[bytes], bytes] = self._serve
        self.mangle: Callable[[bytes], bytes] = lambda body: body

    @staticmethod
    def _serve(plain: bytes) -> bytes:
        if plain[0] == 0x3F and plain[1:3] == b"\x00\x1c":
            return b"\x00\x00\x04" + DATA
        return b"\x05"  # no such table

    def __call__(self, frame: bytes) -> bytes:
        code, payload = parse_tls_request(frame[2:])
        self.codes.append(code)
        response = self.tls.handle(code, payload, lambda plain, _key_id: self.answer(plain))
        return self.mangle(response[2:])


def run(channel: TlsChannel, meter: Meter, request: PartialRead = READ) -> Complete:
    exchange = channel.exchange(request)
    step: Send | Complete = exchange.start()
    for _ in range(12):
        assert isinstance(step, Send)
        step = exchange.on_response(meter(step.frame))
        if isinstance(step, Complete):
            return step
    raise AssertionError("no completion")


def test_handshake_then_one_frame_per_request() -> None:
    channel, meter = TlsChannel(PskCredentials(KEY)), Meter()
    assert run(channel, meter).response.data == DATA
    assert meter.codes == [0x58, 0x59, 0x80]
    assert channel.established
    assert run(channel, meter).response.data == DATA
    assert meter.codes == [0x58, 0x59, 0x80, 0x80]  # one handshake per connection
    assert channel.counters.handshakes == channel.counters.sessions == 1


def test_lost_session_is_handshaken_again() -> None:
    channel, meter = TlsChannel(PskCredentials(KEY)), Meter()
    run(channel, meter)
    meter.tls.drop_session()  # the meter reset
    done = run(channel, meter)
    assert done.response.data == DATA
    assert meter.codes[3:] == [0x80, 0x58, 0x59, 0x80]
    assert channel.counters.lost_sessions == 1
    assert meter.tls.stats.tls_no_session == 1


def test_a_recovery_is_reported_once_its_handshake_completed() -> None:
    channel, meter = TlsChannel(PskCredentials(KEY)), Meter()
    run(channel, meter)
    meter.tls.drop_session()  # the meter reset
    exchange = channel.exchange(READ)
    step = exchange.on_response(meter(exchange.start().frame))  # 0x0A: handshake again
    assert isinstance(step, Send)
    assert exchange.recovered == []  # started, not yet re-established
    step = exchange.on_response(meter(step.frame))  # the meter's flight: 0x59 next
    assert isinstance(step, Send)
    assert exchange.recovered == []
    step = exchange.on_response(meter(step.frame))  # Finished verified: the request goes out
    assert isinstance(step, Send)
    assert len(exchange.recovered) == 1
    assert "0x0A" in exchange.recovered[0]


def test_a_recovery_whose_handshake_fails_is_not_reported() -> None:
    channel, meter = TlsChannel(PskCredentials(KEY)), Meter()
    run(channel, meter)
    meter.tls.drop_session()
    exchange = channel.exchange(READ)
    exchange.on_response(meter(exchange.start().frame))  # 0x0A: handshake again
    exchange.on_timeout()  # ...but the meter fell silent
    with pytest.raises(MepTimeoutError):
        exchange.on_timeout()
    assert exchange.recovered == []
    assert channel.counters.sessions == 1


def test_wrong_key_is_0x03_with_a_clear_message_and_no_retry() -> None:
    channel = TlsChannel(PskCredentials(KEY))
    meter = Meter(keys=[MepKey(b"X" * 16, KeyId.MBK)])
    with pytest.raises(TlsKeyRejectedError) as rejected:
        run(channel, meter)
    assert isinstance(rejected.value, AuthenticationError)  # the poller's wrong-key backoff
    message = str(rejected.value)
    assert "0x03" in message
    assert "invalid identity or key" in message
    assert "MBK" in message
    assert meter.codes == [0x58, 0x59]
    assert not channel.established


def test_a_key_the_meter_lacks_is_0x03_too() -> None:
    channel = TlsChannel(PskCredentials(MepKey(b"K" * 16, KeyId.MAK)))
    with pytest.raises(TlsKeyRejectedError, match="MAK"):
        run(channel, Meter())


def test_persistent_tls_errors_give_up_after_the_handshake_budget() -> None:
    channel, meter = TlsChannel(PskCredentials(KEY)), Meter()
    run(channel, meter)
    meter.mangle = lambda _body: b"\x01"
    with pytest.raises(TlsRefusedError, match="kept answering 0x01"):
        run(channel, meter)
    assert meter.codes[3:] == [0x80, 0x58, 0x58, 0x58]
    assert channel.counters.tls_errors == 4


def test_a_corrupted_record_costs_a_new_session_not_the_answer() -> None:
    channel, meter = TlsChannel(PskCredentials(KEY)), Meter()
    run(channel, meter)
    flips = iter([True])

    def flip_once(body: bytes) -> bytes:
        if next(flips, False):
            return body[:-1] + bytes([body[-1] ^ 1])
        return body

    meter.mangle = flip_once
    assert run(channel, meter).response.data == DATA
    assert meter.codes[3:] == [0x80, 0x58, 0x59, 0x80]
    assert channel.counters.bad_records == 1


def test_timeout_resends_the_identical_frame_once_then_gives_up() -> None:
    channel, meter = TlsChannel(PskCredentials(KEY)), Meter()
    run(channel, meter)
    exchange = channel.exchange(READ)
    first = exchange.start()
    again = exchange.on_timeout()
    assert (again.frame, again.retry) == (first.frame, Retry.IDENTICAL)
    with pytest.raises(MepTimeoutError, match="2 sends"):
        exchange.on_timeout()
    assert not channel.established  # the session state is unknown: handshake next time


def test_an_answer_cut_short_means_a_new_session() -> None:
    channel, meter = TlsChannel(PskCredentials(KEY)), Meter()
    run(channel, meter)
    exchange = channel.exchange(READ)
    exchange.start()
    retry = exchange.on_incomplete()
    assert retry.frame[2] == 0x58


def test_a_c1218_refusal_keeps_the_session() -> None:
    channel, meter = TlsChannel(PskCredentials(KEY)), Meter()
    with pytest.raises(ResponseError) as refused:
        run(channel, meter, PartialRead(0x0846, 142, 1))
    assert refused.value.code is ResponseCode.TABLE_OPERATION_NOT_POSSIBLE
    assert channel.established


def test_terminate_ends_the_session() -> None:
    channel, meter = TlsChannel(PskCredentials(KEY)), Meter()
    assert channel.terminate() is None
    run(channel, meter)
    frame = channel.terminate()
    assert frame == b"\x00\x02\x57\x00"
    assert meter(frame) == b"\x00"
    assert not channel.established
    assert not meter.tls.started
