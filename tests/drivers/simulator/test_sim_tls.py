"""The simulated meter's TLS mode and its "requires TLS" switch (p.8-9), on a fake clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mepd.drivers import tls_mbedtls
from mepd.protocol import PartialRead, PartialWrite
from mepd.protocol.codes import ResponseCode
from mepd.protocol.errors import AuthenticationError, ResponseError
from mepd.protocol.exchange import Complete, Send
from mepd.protocol.frames import Response
from mepd.protocol.keys import KeyId, MepKey
from mepd.protocol.tables.ids import BT01, BT28
from mepd.protocol.tls.channel import TlsChannel
from mepd.protocol.tls.codes import PskCredentials, TlsRequestCode, tls_request_frame
from mepd.protocol.tls.errors import TlsKeyRejectedError
from tests.drivers.simulator.conftest import MBK, FakeClockClient

BT01_READ = PartialRead(BT01, 0, 16)


def tls_request(client: FakeClockClient, channel: TlsChannel, request: Any) -> Response:
    """One request through a TlsChannel, spaced like the fake-clock client's RC4 requests."""
    exchange = channel.exchange(request)
    step: Send | Complete = exchange.start()
    for _ in range(10):
        assert isinstance(step, Send)
        replies = client.send(step.frame)
        step = exchange.on_response(replies[0]) if replies else exchange.on_timeout()
        if isinstance(step, Complete):
            return step.response
    raise AssertionError("no completion")


@pytest.fixture
def channel() -> TlsChannel:
    return TlsChannel(PskCredentials(MBK))


def test_a_port_that_requires_tls_refuses_rc4_with_0x0b(
    make_client: Callable[..., FakeClockClient], channel: TlsChannel
) -> None:
    client = make_client(requires_tls=True)
    outcome = client.request(BT01_READ)
    assert isinstance(outcome, AuthenticationError)  # what a wrong key also earns (notes §13)
    stats = client.port.stats
    assert (stats.rc4_refused, stats.requests_handled) == (1, 0)
    assert tls_request(client, channel, BT01_READ).data[:4] == b"ELON"
    assert (stats.tls_handshakes, stats.tls_sessions, stats.requests_handled) == (1, 1, 1)


def test_rc4_is_refused_while_a_tls_session_is_on_and_served_after_0x57(
    make_client: Callable[..., FakeClockClient], channel: TlsChannel
) -> None:
    client = make_client(tls="pure")
    assert client.request(BT01_READ).data[:4] == b"ELON"  # TLS not required: RC4 is served
    tls_request(client, channel, BT01_READ)
    assert isinstance(client.request(BT01_READ), AuthenticationError)  # p.8
    terminate = channel.terminate()
    assert terminate is not None
    assert client.send(terminate) == [b"\x00"]
    assert client.request(BT01_READ).data[:4] == b"ELON"
    assert client.port.stats.tls_terminations == 1


def test_without_tls_mode_tls_frames_are_rc4_garbage(
    make_client: Callable[..., FakeClockClient], channel: TlsChannel
) -> None:
    client = make_client()
    hello = channel.new_engine().hello()
    assert client.send(tls_request_frame(TlsRequestCode.HANDSHAKE, hello)) == [b"\x0b"]


def test_0x80_without_a_session_gets_0x0a(make_client: Callable[..., FakeClockClient]) -> None:
    client = make_client(requires_tls=True)
    assert client.send(tls_request_frame(TlsRequestCode.TABLE, b"\x17\x03\x03\x00\x00")) == [
        b"\x0a"
    ]
    assert client.port.stats.tls_no_session == 1


def test_a_lost_session_is_recovered(
    make_client: Callable[..., FakeClockClient], channel: TlsChannel
) -> None:
    client = make_client(requires_tls=True)
    tls_request(client, channel, BT01_READ)
    client.port.drop_tls_session()
    assert tls_request(client, channel, BT01_READ).data[:4] == b"ELON"
    assert channel.counters.lost_sessions == 1
    assert client.port.stats.tls_sessions == 2


def test_key_mismatch_is_0x03(make_client: Callable[..., FakeClockClient]) -> None:
    client = make_client(requires_tls=True)
    client.port.set_faults(key_mismatch=True)
    with pytest.raises(TlsKeyRejectedError, match="0x03"):
        tls_request(client, TlsChannel(PskCredentials(MBK)), BT01_READ)
    assert client.port.stats.tls_key_failures == 1
    assert client.port.meter.tls is not None
    assert not client.port.meter.tls.started


def test_the_identity_names_the_key_and_its_access(
    make_client: Callable[..., FakeClockClient],
) -> None:
    client = make_client(requires_tls=True)
    # The meter has no MAK: naming key id 1 with the MBK's bytes is an unknown identity.
    with pytest.raises(TlsKeyRejectedError, match="MAK"):
        tls_request(client, TlsChannel(PskCredentials(MepKey(MBK.secret, KeyId.MAK))), BT01_READ)
    # The MBK may not write BT01 (p.13): the C12.18 answer inside TLS is 0x03.
    with pytest.raises(ResponseError) as refused:
        tls_request(client, TlsChannel(PskCredentials(MBK)), PartialWrite(BT01, 0, b"x"))
    assert refused.value.code is ResponseCode.NO_PERMISSION


def test_tls_reads_count_against_the_read_rate(
    make_client: Callable[..., FakeClockClient], channel: TlsChannel
) -> None:
    client = make_client(requires_tls=True)
    for _ in range(3):
        tls_request(client, channel, PartialRead(BT28, 0, 16))
    assert round(client.port.stats.average_read_rate(client.now) * 60) == 3


def test_the_session_loss_fault(
    make_client: Callable[..., FakeClockClient], channel: TlsChannel
) -> None:
    client = make_client(requires_tls=True)
    tls_request(client, channel, BT01_READ)
    client.port.set_faults(tls_session_loss_rate=1.0)
    client.now += 0.5
    client.port.poll(client.now)  # time passes; the meter resets
    client.port.set_faults(tls_session_loss_rate=0.0)
    assert tls_request(client, channel, BT01_READ).data[:4] == b"ELON"
    assert client.port.stats.tls_sessions_dropped == 1
    assert channel.counters.lost_sessions == 1


@pytest.mark.skipif(not tls_mbedtls.available(), reason="python-mbedtls is not installed")
def test_an_mbed_tls_meter_serves_the_pure_client(
    make_client: Callable[..., FakeClockClient], channel: TlsChannel
) -> None:
    client = make_client(tls="mbedtls", requires_tls=True)
    assert tls_request(client, channel, BT01_READ).data[:4] == b"ELON"
    client.port.set_faults(key_mismatch=True)
    with pytest.raises(TlsKeyRejectedError):
        tls_request(client, TlsChannel(PskCredentials(MBK)), BT01_READ)


def test_a_missing_engine_is_refused_when_the_meter_is_built(
    make_client: Callable[..., FakeClockClient],
) -> None:
    from mepd.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown TLS engine"):
        make_client(tls="openssl")
