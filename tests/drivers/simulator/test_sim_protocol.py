"""The meter's protocol rules, each broken by a client and answered the meter's way."""

from __future__ import annotations

import pytest

from mepd.drivers.simulator.tables import ET50, ET70
from mepd.protocol import (
    FullRead,
    FullWrite,
    MepKey,
    PartialRead,
    PartialWrite,
    ResponseCode,
    sign_request,
    verify_response,
)
from mepd.protocol.digest import digest
from mepd.protocol.errors import AuthenticationError, ResponseError, SequenceError
from mepd.protocol.keys import KeyId
from mepd.protocol.tables.ids import BT01, BT21, BT23, BT28, BT52, ET11
from tests.drivers.simulator.conftest import FakeClockClient, MakeClient

MAK_TEXT = "MEPD-DEMO-MAK-000001"


def synced(make_client: MakeClient, profile: str = "gen4", **options: object) -> FakeClockClient:
    client = make_client(profile, **options)
    assert client.request(PartialRead(BT52, 0, 7)).code is ResponseCode.OK
    return client


def test_first_request_earns_a_verified_0x0c_then_n_plus_1_is_accepted(
    make_client: MakeClient,
) -> None:
    client = make_client()
    meter = client.port.meter
    signed = sign_request(PartialRead(BT52, 0, 7), 0, client.key)
    (body,) = client.send(signed.frame)
    with pytest.raises(SequenceError) as raised:
        verify_response(signed, body)  # the digest verifies before the number is trusted
    assert raised.value.expected == meter.sequence
    retry = sign_request(PartialRead(BT52, 0, 7), raised.value.expected + 1, client.key)
    (body,) = client.send(retry.frame)
    assert verify_response(retry, body).code is ResponseCode.OK


def test_sequence_window_is_plus_one_to_plus_eight(make_client: MakeClient) -> None:
    client = synced(make_client)
    meter = client.port.meter
    for jump, accepted in ((8, True), (9, False), (0, False)):
        before = meter.sequence
        signed = sign_request(PartialRead(BT52, 0, 7), (before + jump) % 2**32, client.key)
        (body,) = client.send(signed.frame)
        if accepted:
            assert verify_response(signed, body).code is ResponseCode.OK
            assert meter.sequence == before + jump
        else:
            with pytest.raises(SequenceError) as raised:
                verify_response(signed, body)
            assert raised.value.expected == before == meter.sequence


def test_bad_digest_gets_bare_0x0b(make_client: MakeClient) -> None:
    client = synced(make_client)
    signed = sign_request(PartialRead(BT52, 0, 7), client.counter.take(), client.key)
    tampered = signed.frame[:-1] + bytes([signed.frame[-1] ^ 0xFF])
    (body,) = client.send(tampered)
    assert body == bytes([ResponseCode.AUTHENTICATION_FAILURE])
    with pytest.raises(AuthenticationError):
        verify_response(signed, body)
    assert client.port.stats.authentication_failures == 1


def test_encrypted_request_gets_encrypted_response(make_client: MakeClient) -> None:
    client = synced(make_client)
    signed = sign_request(PartialRead(BT01, 0, 16), client.counter.take(), client.key, encrypt=True)
    (body,) = client.send(signed.frame)
    message = body[:-8]
    assert message[3:7] != b"ELON"  # not in clear on the wire
    assert verify_response(signed, body).data[:4] == b"ELON"
    plain = sign_request(PartialRead(BT01, 0, 16), client.counter.take(), client.key)
    (body,) = client.send(plain.frame)
    assert body[3:7] == b"ELON"


def test_encrypted_0x0c_is_encrypted_and_verifies(make_client: MakeClient) -> None:
    client = make_client()
    signed = sign_request(PartialRead(BT52, 0, 7), 0, client.key, encrypt=True)
    (body,) = client.send(signed.frame)
    assert body[1:5] != client.port.meter.sequence.to_bytes(4, "big")  # not in clear
    with pytest.raises(SequenceError):
        verify_response(signed, body)


def test_requests_closer_than_100ms_are_dropped_and_counted(make_client: MakeClient) -> None:
    client = synced(make_client)
    stats = client.port.stats
    first = sign_request(PartialRead(BT52, 0, 7), client.counter.take(), client.key)
    assert client.send(first.frame, after=0.2)
    second = sign_request(PartialRead(BT52, 0, 7), client.counter.take(), client.key)
    assert client.send(second.frame, after=0.05) == []  # dropped, unanswered
    assert (stats.too_close_requests, stats.throttled_requests) == (1, 1)
    # p.21: resend the identical frame after the timeout; now it is served.
    (body,) = client.send(second.frame, after=0.5)
    assert verify_response(second, body).code is ResponseCode.OK


def test_read_rate_over_one_per_second_is_counted(make_client: MakeClient) -> None:
    client = synced(make_client)
    client.port.stats.read_rate_window_s = 5.0
    for _ in range(10):
        client.request(PartialRead(BT52, 0, 7))  # 200 ms apart: 5 reads/s
    assert client.port.stats.read_rate_violations > 0
    assert client.port.stats.average_read_rate(client.now) > 1.0


def test_inter_byte_gap_over_50ms_drops_the_partial_request(make_client: MakeClient) -> None:
    client = synced(make_client)
    signed = sign_request(PartialRead(BT52, 0, 7), client.counter.take(), client.key)
    assert client.send(signed.frame[:10]) == []
    assert client.send(signed.frame[10:], after=0.06) == []
    assert client.port.stats.partial_requests_dropped == 1
    # Within 50 ms the same split is fine.
    again = sign_request(PartialRead(BT52, 0, 7), client.counter.take(), client.key)
    client.send(again.frame[:10], after=0.3)
    (body,) = client.send(again.frame[10:], after=0.04)
    assert verify_response(again, body).code is ResponseCode.OK


def test_mbk_may_write_only_appendix_c_tables(make_client: MakeClient) -> None:
    client = synced(make_client)
    refused = client.request(PartialWrite(ET11, 0, b"\x07"))
    assert isinstance(refused, ResponseError)
    assert refused.code is ResponseCode.NO_PERMISSION
    refused = client.request(FullWrite(BT23, b"\x00" * 4))
    assert refused.code is ResponseCode.NO_PERMISSION
    assert client.request(PartialWrite(ET50, 0, b"mepd")).code is ResponseCode.OK
    assert client.request(PartialRead(ET50, 0, 4)).data == b"mepd"


def test_mak_may_write_more(make_client: MakeClient) -> None:
    client = make_client(mak=MAK_TEXT)
    client.key = MepKey.parse(MAK_TEXT, KeyId.MAK)
    assert client.request(FullWrite(BT23, b"\x00" * 4)).code is ResponseCode.OK
    refused = client.request(PartialWrite(BT21, 0, b"\x00"))
    assert refused.code is ResponseCode.NO_PERMISSION


def test_oversize_full_read_of_bt23_is_0x04(make_client: MakeClient) -> None:
    client = synced(make_client, "gen4")
    refused = client.request(FullRead(BT23))
    assert isinstance(refused, ResponseError)
    assert refused.code is ResponseCode.OPERATION_NOT_POSSIBLE
    assert len(client.request(PartialRead(BT23, 0, 465)).data) == 465
    gen3 = synced(make_client, "gen3")
    assert len(gen3.request(FullRead(BT23)).data) == 220  # fits: 5 x 44 bytes


def test_partial_read_past_the_end_reads_zeros(make_client: MakeClient) -> None:
    client = synced(make_client, "gen3")
    data = client.request(PartialRead(ET11, 30, 8)).data  # gen3 ET11 is 32 bytes
    assert len(data) == 8
    assert data[2:] == bytes(6)


def test_unknown_table_and_gen3_et70_are_0x05(make_client: MakeClient) -> None:
    client = synced(make_client, "gen3")
    for table in (ET70, 0x0999, 99):
        refused = client.request(PartialRead(table, 0, 1))
        assert refused.code is ResponseCode.TABLE_OPERATION_NOT_POSSIBLE


@pytest.mark.parametrize("channel", [1, 2])
def test_gen4_et70_reports_the_mep_channel(make_client: MakeClient, channel: int) -> None:
    from dataclasses import replace

    from mepd.drivers.simulator import profiles

    client = make_client("gen4")
    meter = client.port.meter
    meter.profile = replace(profiles.GEN4, mep_channel=channel)
    meter.tables = type(meter.tables)(meter.profile, meter.physics)
    client.request(PartialRead(BT52, 0, 7))
    assert client.request(PartialRead(ET70, 142, 1)).data == bytes([channel])


def test_unparseable_authenticated_request_is_0x01(make_client: MakeClient) -> None:
    client = synced(make_client)
    signed_span = b"\x30\x00\x15" + client.counter.take().to_bytes(4, "big")  # no Length
    frame = (
        (len(signed_span) + 8).to_bytes(2, "big")
        + signed_span
        + digest(client.key.secret, signed_span)
    )
    unrecognized = bytes([ResponseCode.UNRECOGNIZED_REQUEST])
    # Signed with the key that verified the request, like any other answer (p.250-251).
    expected = unrecognized + digest(client.key.secret, signed_span + unrecognized)
    assert client.send(frame) == [expected]


def test_bt28_and_bt23_reads_are_recorded_with_truth(make_client: MakeClient) -> None:
    client = synced(make_client)
    client.request(PartialRead(BT28, 0, 100))
    client.request(PartialRead(BT23, 0, 17))
    history = list(client.port.meter.history)
    assert [reading.table for reading in history] == [BT28, BT23]
    assert history[1].monotonic == pytest.approx(client.now)
    assert history[1].truth.energy.forward_wh > 0
