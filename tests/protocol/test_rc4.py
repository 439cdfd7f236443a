"""RC4 payload encryption against the derived vector (Appendix B; notes §3)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mepd.protocol import rc4
from mepd.protocol.rc4 import CONST_KEY, Rc4Exchange, encrypt_key
from tests.conftest import vector

CASE = vector("rc4_encryption_derived_from_ex1_second_read")
KEY = bytes.fromhex(CASE["key_hex"])


def test_encrypt_key_matches_the_derived_vector() -> None:
    assert encrypt_key(KEY).hex() == CASE["mep_encrypt_key_hex"]


def test_textbook_rc4_underneath() -> None:
    # RFC 6229, 40-bit key 0102030405, keystream bytes 0..7.
    assert rc4._keystream(bytes.fromhex("0102030405"), 8).hex() == "b2396305f03dc027"
    assert CONST_KEY.hex() == "388b8fbc36a8558587afc90fb23a3b99"  # p.257


def test_request_encrypts_to_the_derived_frame() -> None:
    exchange = Rc4Exchange(KEY, bytes.fromhex(CASE["digest_hex"]), 12)
    body = exchange.request(bytes.fromhex(CASE["message_hex"]))
    frame = b"\x00\x14" + body + bytes.fromhex(CASE["digest_hex"])
    assert frame.hex() == CASE["encrypted_request_frame_hex"]


def test_response_continues_the_keystream() -> None:
    exchange = Rc4Exchange(KEY, bytes.fromhex(CASE["digest_hex"]), 12)
    plain = exchange.response(bytes.fromhex(CASE["encrypted_response_message_hex"]))
    assert plain.hex() == CASE["plain_response_message_hex"]


@given(
    key=st.binary(min_size=16, max_size=16),
    request_digest=st.binary(min_size=8, max_size=8),
    request=st.binary(min_size=1, max_size=40),
    response=st.binary(min_size=1, max_size=80),
)
def test_both_directions_round_trip(
    key: bytes, request_digest: bytes, request: bytes, response: bytes
) -> None:
    client = Rc4Exchange(key, request_digest, len(request))
    meter = Rc4Exchange(key, request_digest, len(request))
    assert meter.request(client.request(request)) == request
    assert client.response(meter.response(response)) == response
