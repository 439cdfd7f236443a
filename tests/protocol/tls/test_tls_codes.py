"""TLS-mode frames, codes and the PSK identity (p.8-9, p.18-19)."""

from __future__ import annotations

import pytest

from mepd.protocol.codes import ResponseCode
from mepd.protocol.errors import FrameError, ResponseError
from mepd.protocol.frames import FullRead, PartialRead, PartialWrite
from mepd.protocol.keys import KeyId, MepKey
from mepd.protocol.tls.channel import split_read
from mepd.protocol.tls.codes import (
    MAX_TLS_READ_COUNT,
    PskCredentials,
    TlsRequestCode,
    TlsResponseCode,
    interpret_c1218,
    parse_psk_identity,
    parse_tls_reply,
    parse_tls_request,
    psk_identity,
    terminate_frame,
    tls_request_frame,
    tls_response_frame,
)


def test_codes_are_the_guides() -> None:
    assert [int(code) for code in TlsRequestCode] == [0x57, 0x58, 0x59, 0x80]
    assert [int(code) for code in TlsResponseCode] == [0x00, 0x01, 0x03, 0x0A]
    assert "no TLS session" in TlsResponseCode.NO_SESSION.describe()


@pytest.mark.parametrize(
    ("client_id", "key_id", "identity"),
    [
        (100, KeyId.MAK, "640001"),  # the guide's example (p.14)
        (100, KeyId.MBK, "640000"),
        (0x1234, KeyId.MBK, "341200"),  # LSB first (p.18)
    ],
)
def test_identity_is_client_id_lsb_first_then_key_id(
    client_id: int, key_id: KeyId, identity: str
) -> None:
    assert psk_identity(client_id, key_id).hex() == identity
    assert parse_psk_identity(bytes.fromhex(identity)) == (client_id, key_id)


def test_credentials_use_the_16_key_bytes_and_hide_them() -> None:
    key = MepKey.parse("ABCDEFGHIJKLMNOPQRST", KeyId.MBK)
    credentials = PskCredentials(key, client_id=7)
    assert credentials.psk == b"ABCDEFGHIJKLMNOP"  # p.18: the first 16 bytes
    assert credentials.identity == b"\x07\x00\x00"
    assert "ABCD" not in repr(credentials)
    with pytest.raises(FrameError, match="UInt16"):
        PskCredentials(key, client_id=0x10000)


@pytest.mark.parametrize("identity", ["6400", "64000102", "640002"])
def test_malformed_identities_are_refused(identity: str) -> None:
    with pytest.raises(FrameError):
        parse_psk_identity(bytes.fromhex(identity))


def test_request_frame_has_no_sequence_and_no_digest() -> None:
    frame = tls_request_frame(TlsRequestCode.TABLE, b"\x17\x03\x03")
    assert frame == bytes.fromhex("0004 80 170303")
    assert parse_tls_request(frame[2:]) == (TlsRequestCode.TABLE, b"\x17\x03\x03")
    assert terminate_frame() == bytes.fromhex("0002 57 00")  # at least one byte (p.8)


def test_request_frame_limits() -> None:
    with pytest.raises(FrameError, match="at least one"):
        tls_request_frame(TlsRequestCode.TERMINATE, b"")
    with pytest.raises(FrameError, match="476"):
        tls_request_frame(TlsRequestCode.TABLE, bytes(476))
    assert len(tls_request_frame(TlsRequestCode.TABLE, bytes(475))) == 478
    with pytest.raises(FrameError):
        parse_tls_request(b"\x3f\x00")


def test_replies() -> None:
    assert parse_tls_reply(b"\x03").code is TlsResponseCode.INVALID_IDENTITY_OR_KEY
    reply = parse_tls_reply(b"\x00\x16\x03\x03")
    assert (reply.code, reply.payload) == (TlsResponseCode.SUCCESS, b"\x16\x03\x03")
    assert tls_response_frame(TlsResponseCode.NO_SESSION) == b"\x00\x01\x0a"
    with pytest.raises(FrameError, match="0x0B"):
        parse_tls_reply(b"\x0b")  # an RC4 refusal is no TLS-mode answer
    with pytest.raises(FrameError):
        parse_tls_reply(b"")


def test_c1218_answers_inside_tls() -> None:
    read = PartialRead(28, 0, 4)
    assert interpret_c1218(read, bytes.fromhex("00 0004 01020304")).data == b"\x01\x02\x03\x04"
    assert interpret_c1218(PartialWrite(7, 0, b"\x01"), b"\x00").data == b""
    with pytest.raises(ResponseError) as refused:
        interpret_c1218(read, b"\x05")
    assert refused.value.code is ResponseCode.TABLE_OPERATION_NOT_POSSIBLE
    with pytest.raises(FrameError, match="announces"):
        interpret_c1218(read, bytes.fromhex("00 0004 0102"))
    with pytest.raises(FrameError, match="asked for 4"):
        interpret_c1218(read, bytes.fromhex("00 0005 0102030405"))
    with pytest.raises(FrameError, match="no data"):
        interpret_c1218(PartialWrite(7, 0, b"\x01"), b"\x00\x00")


def test_reads_are_split_to_fit_a_tls_answer() -> None:
    # 476 - code - record overhead (5 + 8 + 16) - C12.18 code - count = 443 (notes §1.5)
    assert MAX_TLS_READ_COUNT == 443
    assert split_read(PartialRead(23, 0, 443)) == [PartialRead(23, 0, 443)]
    assert split_read(PartialRead(23, 10, 465)) == [
        PartialRead(23, 10, 443),
        PartialRead(23, 453, 22),
    ]
    assert split_read(FullRead(1)) == [FullRead(1)]
