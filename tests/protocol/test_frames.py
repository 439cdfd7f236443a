"""Requests and responses as the guide frames them (p.10-17), golden bytes from its examples."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mepd.protocol import (
    MAX_READ_COUNT,
    FullRead,
    FullWrite,
    KeyId,
    MepKey,
    PartialRead,
    PartialWrite,
    ResponseCode,
    encode_response,
    receive_request,
    sign_request,
    verify_response,
)
from mepd.protocol.errors import (
    AuthenticationError,
    DigestError,
    FrameError,
    ProtocolError,
    ResponseError,
    SequenceError,
)
from mepd.protocol.frames import (
    MAX_MESSAGE_BYTES,
    SignedRequest,
    authentication_failure_frame,
    ok_read_message,
    parse_request_message,
    sequence_error_message,
)
from tests.conftest import vector, vectors_of

DEFAULT_MAK = MepKey(b"\x01" * 16, KeyId.MAK)
REQUESTS = [v for v in vectors_of("request_digest") if v["key_hex"]]
RESPONSES = [v for v in vectors_of("response_digest") if v["key_hex"]]


def _signed_from_vector(case: dict[str, Any]) -> SignedRequest:
    message = bytes.fromhex(case["message_hex"])
    request = parse_request_message(message[:-4])
    return sign_request(request, int.from_bytes(message[-4:], "big"), DEFAULT_MAK)


@pytest.mark.parametrize("case", REQUESTS, ids=lambda v: v["name"])
def test_request_frames_match_the_guide_byte_for_byte(case: dict[str, Any]) -> None:
    assert _signed_from_vector(case).frame.hex() == case["frame_hex"]


def test_framing_example_with_unknown_key_has_the_guides_layout() -> None:
    case = vector("appA_tableA1_BT52_read_request_unknown_key")
    frame = bytes.fromhex(case["frame_hex"])
    assert int.from_bytes(frame[:2], "big") == len(frame) - 2
    assert parse_request_message(frame[2:-12]) == PartialRead(0x34, 0, 6)


@pytest.mark.parametrize("case", RESPONSES, ids=lambda v: v["name"])
def test_response_frames_verify_against_their_request(case: dict[str, Any]) -> None:
    request_case = {"message_hex": case["request_message_hex"]}
    signed = _signed_from_vector(request_case)
    frame = bytes.fromhex(case["frame_hex"])
    assert int.from_bytes(frame[:2], "big") == len(frame) - 2
    response_message = bytes.fromhex(case["response_message_hex"])
    if response_message[0] == ResponseCode.INVALID_SEQUENCE_NUMBER:
        with pytest.raises(SequenceError) as caught:
            verify_response(signed, frame[2:])
        assert caught.value.expected == 0x77635B90
        assert caught.value.code is ResponseCode.INVALID_SEQUENCE_NUMBER
        return
    response = verify_response(signed, frame[2:])
    assert response.code is ResponseCode.OK
    if isinstance(signed.request, FullRead | PartialRead):
        assert response.data == response_message[3:]
    else:
        assert response.data == b""


def test_bt23_example_data() -> None:
    case = vector("rc4_ex1_second_read_BT23_response")
    signed = _signed_from_vector({"message_hex": case["request_message_hex"]})
    response = verify_response(signed, bytes.fromhex(case["frame_hex"])[2:])
    assert len(response.data) == 44
    summations = [int.from_bytes(response.data[i : i + 4], "little") for i in range(0, 44, 4)]
    assert summations == [0, 0, 0, 0, 8, 3, 0, 0, 0, 0, 6]


def test_a_response_checked_against_another_request_fails() -> None:
    # The 44-byte BT23 answer is not an answer to the first (seq 01020304) request.
    case = vector("rc4_ex1_second_read_BT23_response")
    other = _signed_from_vector(vector("rc4_ex1_first_read_BT23_request"))
    with pytest.raises(DigestError):
        verify_response(other, bytes.fromhex(case["frame_hex"])[2:])


@pytest.mark.parametrize("case", RESPONSES, ids=lambda v: v["name"])
def test_every_single_byte_corruption_is_rejected(case: dict[str, Any]) -> None:
    signed = _signed_from_vector({"message_hex": case["request_message_hex"]})
    body = bytes.fromhex(case["frame_hex"])[2:]
    for position in range(len(body)):
        corrupted = bytearray(body)
        corrupted[position] ^= 0x5A
        with pytest.raises(ProtocolError) as caught:
            verify_response(signed, bytes(corrupted))
        # Never data, never a sequence number to adopt: a 0x0B at worst.
        assert not isinstance(caught.value, SequenceError)


def test_authentication_failure_bare_or_with_digest() -> None:
    signed = sign_request(PartialRead(23, 0, 17), 5, DEFAULT_MAK)
    for body in (b"\x0b", b"\x0b" + bytes(8)):
        with pytest.raises(AuthenticationError) as caught:
            verify_response(signed, body)
        assert caught.value.code is ResponseCode.AUTHENTICATION_FAILURE
    assert authentication_failure_frame() == b"\x00\x01\x0b"


@pytest.mark.parametrize(
    "code",
    [
        ResponseCode.UNRECOGNIZED_REQUEST,
        ResponseCode.UNSUPPORTED_REQUEST,
        ResponseCode.NO_PERMISSION,
        ResponseCode.OPERATION_NOT_POSSIBLE,
        ResponseCode.TABLE_OPERATION_NOT_POSSIBLE,
    ],
)
def test_verified_refusals_carry_their_code(code: ResponseCode) -> None:
    signed = sign_request(PartialWrite(0x0812, 0, b"\x01"), 9, DEFAULT_MAK)
    received = receive_request(signed.frame[2:], [DEFAULT_MAK])
    frame = encode_response(received, bytes([code]))
    with pytest.raises(ResponseError) as caught:
        verify_response(signed, frame[2:])
    assert caught.value.code is code
    assert f"0x{code:02X}" in str(caught.value)


def test_read_count_must_match_the_data() -> None:
    signed = sign_request(PartialRead(28, 0, 4), 9, DEFAULT_MAK)
    received = receive_request(signed.frame[2:], [DEFAULT_MAK])
    lying = b"\x00\x00\x05" + b"\x01\x02\x03\x04"
    with pytest.raises(FrameError, match="announces 5"):
        verify_response(signed, encode_response(received, lying)[2:])
    too_much = ok_read_message(bytes(5))
    with pytest.raises(FrameError, match="asked for 4"):
        verify_response(signed, encode_response(received, too_much)[2:])


def test_size_limits_of_p8() -> None:
    assert MAX_READ_COUNT == 465
    PartialRead(23, 0, 465)
    with pytest.raises(FrameError, match="476-byte"):
        PartialRead(23, 0, 466)
    with pytest.raises(FrameError):
        PartialWrite(0x0834, 0, bytes(457))
    biggest = sign_request(PartialWrite(0x0834, 0, bytes(456)), 1, DEFAULT_MAK)
    assert len(biggest.frame) == 2 + MAX_MESSAGE_BYTES
    with pytest.raises(FrameError):
        FullRead(23, 0x10000)


def test_full_read_carries_the_two_byte_length() -> None:
    # p.12 / notes §1.2: `30 TT TT LL LL`, unlike optical C12.18.
    assert FullRead(0x0001, 0x0200).message().hex() == "3000010200"


def test_bad_fields_are_refused() -> None:
    with pytest.raises(FrameError):
        PartialRead(0x10000, 0, 1)
    with pytest.raises(FrameError):
        PartialRead(1, 1 << 24, 1)
    with pytest.raises(FrameError):
        sign_request(PartialRead(1, 0, 1), 1 << 32, DEFAULT_MAK)
    with pytest.raises(FrameError):
        parse_request_message(b"\x3f\x00")
    with pytest.raises(FrameError):
        parse_request_message(b"")


requests = st.one_of(
    st.builds(FullRead, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)),
    st.builds(
        PartialRead,
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFFFFFF),
        st.integers(1, MAX_READ_COUNT),
    ),
    st.builds(FullWrite, st.integers(0, 0xFFFF), st.binary(max_size=459)),
    st.builds(
        PartialWrite,
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFFFFFF),
        st.binary(max_size=456),
    ),
)
keys = st.builds(MepKey, st.binary(min_size=16, max_size=16), st.sampled_from(KeyId))


@given(request=requests, sequence=st.integers(0, 2**32 - 1), key=keys, encrypt=st.booleans())
def test_meter_side_reads_back_what_the_client_built(
    request: FullRead | PartialRead | FullWrite | PartialWrite,
    sequence: int,
    key: MepKey,
    encrypt: bool,
) -> None:
    signed = sign_request(request, sequence, key, encrypt=encrypt)
    received = receive_request(signed.frame[2:], [key])
    assert received.request == request
    assert received.sequence == sequence
    assert received.encrypted == encrypt
    assert parse_request_message(request.message()) == request


@given(
    data=st.binary(min_size=1, max_size=MAX_READ_COUNT),
    sequence=st.integers(0, 2**32 - 1),
    encrypt=st.booleans(),
)
def test_read_responses_round_trip(data: bytes, sequence: int, encrypt: bool) -> None:
    signed = sign_request(PartialRead(28, 0, len(data)), sequence, DEFAULT_MAK, encrypt=encrypt)
    received = receive_request(signed.frame[2:], [DEFAULT_MAK])
    frame = encode_response(received, ok_read_message(data))
    assert verify_response(signed, frame[2:]).data == data


@given(expected=st.integers(0, 2**32 - 1), encrypt=st.booleans())
def test_sequence_errors_round_trip_encrypted_or_not(expected: int, encrypt: bool) -> None:
    signed = sign_request(PartialRead(52, 0, 7), 3, DEFAULT_MAK, encrypt=encrypt)
    received = receive_request(signed.frame[2:], [DEFAULT_MAK])
    frame = encode_response(received, sequence_error_message(expected))
    if encrypt:  # p.256: 0x0C is encrypted like any other response
        assert frame[2:7] != sequence_error_message(expected)
    with pytest.raises(SequenceError) as caught:
        verify_response(signed, frame[2:])
    assert caught.value.expected == expected


def test_meter_tries_mak_before_mbk() -> None:
    # p.13: the MAK is checked first, then the MBK.
    mbk = MepKey(b"B" * 16, KeyId.MBK)
    mak = MepKey(b"A" * 16, KeyId.MAK)
    signed = sign_request(PartialRead(1, 0, 4), 1, mbk)
    assert receive_request(signed.frame[2:], [mbk, mak]).key.key_id is KeyId.MBK
    signed = sign_request(PartialRead(1, 0, 4), 1, mak)
    assert receive_request(signed.frame[2:], [mbk, mak]).key.key_id is KeyId.MAK


def test_meter_rejects_a_wrong_key() -> None:
    signed = sign_request(PartialRead(1, 0, 4), 1, MepKey(b"W" * 16))
    with pytest.raises(AuthenticationError):
        receive_request(signed.frame[2:], [DEFAULT_MAK])


@given(body=st.binary(max_size=64))
def test_garbage_responses_raise_only_protocol_errors(body: bytes) -> None:
    signed = sign_request(PartialRead(28, 0, 8), 77, DEFAULT_MAK)
    with pytest.raises(ProtocolError) as caught:
        verify_response(signed, body)
    assert not isinstance(caught.value, SequenceError)


@given(body=st.binary(max_size=64))
def test_garbage_requests_raise_only_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        receive_request(body, [DEFAULT_MAK])
