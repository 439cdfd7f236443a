"""The guide's TLS example (p.14-15; vectors.json `tls_ex1_ex2_session`), reproduced.

The key schedule is checked twice: against the vector's derived values, and against an
independent PRF written here with `cryptography`'s HMAC (RFC 5246 §5), so a shared mistake
in the module and the vector would not pass unnoticed. Then both pure engines replay the
recorded session: given the recorded randoms, they must produce the recorded frames byte for
byte, verify each other's Finished, and decrypt the application data to the C12.18 request
and reply the notes give.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mepd.protocol.frames import PartialRead
from mepd.protocol.keys import KeyId, MepKey
from mepd.protocol.stream import Frame, FrameDecoder
from mepd.protocol.tls.client import PskClient
from mepd.protocol.tls.codes import (
    PskCredentials,
    TlsRequestCode,
    TlsResponseCode,
    interpret_c1218,
    parse_tls_reply,
    tls_request_frame,
)
from mepd.protocol.tls.records import ContentType, Record, RecordCipher, split_records
from mepd.protocol.tls.schedule import SessionSecrets, psk_premaster, verify_data
from mepd.protocol.tls.server import PskServer
from tests.conftest import vector

SESSION = vector("tls_ex1_ex2_session")
DERIVED = SESSION["derived"]
PSK = bytes.fromhex(SESSION["key_hex"])
IDENTITY = bytes.fromhex(SESSION["psk_identity_hex"])
CLIENT_RANDOM = bytes.fromhex(DERIVED["client_random"])
SERVER_RANDOM = bytes.fromhex(DERIVED["server_random"])
FRAMES = [bytes.fromhex(frame["frame_hex"]) for frame in SESSION["frames"]]
HELLO, SERVER_HELLO, CLIENT_FINISH, SERVER_FINISH, APP_REQUEST, APP_REPLY = FRAMES
REQUEST_PLAIN = bytes.fromhex(SESSION["decrypted"]["client_app_data_plain_hex"])
REPLY_PLAIN = bytes.fromhex(SESSION["decrypted"]["server_app_data_plain_hex"])
# The ServerHello's session id (p.14), which the server draws after its random.
SESSION_ID = SERVER_HELLO[3 + 5 + 4 + 2 + 32 + 1 :][:32]


def body(frame: bytes) -> bytes:
    (event,) = FrameDecoder().feed(frame)
    assert isinstance(event, Frame)
    return event.body


def payload(frame: bytes) -> bytes:
    return body(frame)[1:]


def _independent_prf(secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    def mac(data: bytes) -> bytes:
        h = hmac.HMAC(secret, hashes.SHA384())
        h.update(data)
        return h.finalize()

    seed = label + seed
    out, a = b"", seed
    while len(out) < length:
        a = mac(a)
        out += mac(a + seed)
    return out[:length]


def draws(*chunks: bytes) -> Callable[[int], bytes]:
    source: Iterator[bytes] = iter(chunks)

    def random_bytes(count: int) -> bytes:
        chunk = next(source)
        assert len(chunk) == count
        return chunk

    return random_bytes


def test_the_frames_are_tls_mode_frames() -> None:
    codes = [body(frame)[0] for frame in FRAMES]
    assert codes == [0x58, 0x00, 0x59, 0x00, 0x80, 0x00]
    assert [parse_tls_reply(body(f)).code for f in FRAMES[1::2]] == [TlsResponseCode.SUCCESS] * 3


def test_identity_is_client_100_with_the_mak() -> None:
    assert PskCredentials(MepKey(PSK, KeyId.MAK), client_id=100).identity == IDENTITY


def test_premaster_secret_is_rfc_4279_plain_psk() -> None:
    assert psk_premaster(PSK).hex() == DERIVED["premaster"]


def test_key_schedule_matches_the_vector_and_an_independent_prf() -> None:
    derived = SessionSecrets.derive(PSK, CLIENT_RANDOM, SERVER_RANDOM)
    assert derived.master.hex() == DERIVED["master_secret"]
    independent_master = _independent_prf(
        psk_premaster(PSK), b"master secret", CLIENT_RANDOM + SERVER_RANDOM, 48
    )
    assert independent_master == derived.master
    block = _independent_prf(derived.master, b"key expansion", SERVER_RANDOM + CLIENT_RANDOM, 72)
    keys = derived.keys
    assert (keys.client_write_key, keys.server_write_key) == (block[:32], block[32:64])
    assert (keys.client_write_iv, keys.server_write_iv) == (block[64:68], block[68:72])
    assert keys.client_write_key.hex() == DERIVED["client_write_key"]
    assert keys.server_write_key.hex() == DERIVED["server_write_key"]
    assert keys.client_write_iv.hex() == DERIVED["client_write_iv"]
    assert keys.server_write_iv.hex() == DERIVED["server_write_iv"]


def test_record_layer_decrypts_the_recorded_application_data() -> None:
    keys = SessionSecrets.derive(PSK, CLIENT_RANDOM, SERVER_RANDOM).keys
    # Sequence 0 of each direction was the Finished record; the application data is 1.
    client = RecordCipher(keys.client_write_key, keys.client_write_iv)
    server = RecordCipher(keys.server_write_key, keys.server_write_iv)
    client.sequence = server.sequence = 1
    (request_record,) = split_records(payload(APP_REQUEST))
    (reply_record,) = split_records(payload(APP_REPLY))
    assert request_record.content_type is ContentType.APPLICATION_DATA
    assert client.open(request_record) == REQUEST_PLAIN
    assert server.open(reply_record) == REPLY_PLAIN
    assert interpret_c1218(PartialRead(0x0846, 142, 1), REPLY_PLAIN).data == b"\x02"  # MEP2


def test_application_data_also_opens_with_bare_aes_gcm() -> None:
    """The nonce and additional data spelled out (RFC 5288 §3, RFC 5246 §6.2.3.3)."""
    keys = SessionSecrets.derive(PSK, CLIENT_RANDOM, SERVER_RANDOM).keys
    fragment = payload(APP_REQUEST)[5:]
    explicit, sealed = fragment[:8], fragment[8:]
    aad = (1).to_bytes(8, "big") + bytes([23, 3, 3]) + (len(sealed) - 16).to_bytes(2, "big")
    plain = AESGCM(keys.client_write_key).decrypt(keys.client_write_iv + explicit, sealed, aad)
    assert plain == REQUEST_PLAIN


def test_a_wrong_sequence_number_does_not_decrypt() -> None:
    keys = SessionSecrets.derive(PSK, CLIENT_RANDOM, SERVER_RANDOM).keys
    cipher = RecordCipher(keys.client_write_key, keys.client_write_iv)
    cipher.sequence = 2
    (record,) = split_records(payload(APP_REQUEST))
    with pytest.raises(Exception, match="bad_record_mac"):
        cipher.open(record)


def test_finished_messages_verify() -> None:
    derived = SessionSecrets.derive(PSK, CLIENT_RANDOM, SERVER_RANDOM)
    keys = derived.keys
    hello_msg = split_records(payload(HELLO))[0].fragment
    server_msgs = b"".join(r.fragment for r in split_records(payload(SERVER_HELLO)))
    cke, _ccs, finished = split_records(payload(CLIENT_FINISH))
    client_finished = RecordCipher(keys.client_write_key, keys.client_write_iv).open(finished)
    transcript = hello_msg + server_msgs + cke.fragment
    assert client_finished[4:] == verify_data(derived.master, b"client finished", transcript)
    _ccs, server_finished_record = split_records(payload(SERVER_FINISH))
    server_finished = RecordCipher(keys.server_write_key, keys.server_write_iv).open(
        server_finished_record
    )
    transcript += client_finished
    assert server_finished[4:] == verify_data(derived.master, b"server finished", transcript)


def test_pure_client_replays_the_guide_byte_for_byte() -> None:
    client = PskClient(IDENTITY, PSK, random_bytes=draws(CLIENT_RANDOM))
    assert tls_request_frame(TlsRequestCode.HANDSHAKE, client.hello()) == HELLO
    flight = client.receive(payload(SERVER_HELLO))
    assert tls_request_frame(TlsRequestCode.HANDSHAKE_CONT, flight) == CLIENT_FINISH
    assert client.receive(payload(SERVER_FINISH)) == b""
    assert client.established
    assert tls_request_frame(TlsRequestCode.TABLE, client.seal(REQUEST_PLAIN)) == APP_REQUEST
    assert client.open(payload(APP_REPLY)) == REPLY_PLAIN


def test_pure_server_replays_the_guides_meter_byte_for_byte() -> None:
    def lookup(identity: bytes) -> bytes | None:
        return PSK if identity == IDENTITY else None

    server = PskServer(lookup, random_bytes=draws(SERVER_RANDOM, SESSION_ID))
    assert server.receive(payload(HELLO)) == payload(SERVER_HELLO)
    assert server.receive(payload(CLIENT_FINISH)) == payload(SERVER_FINISH)
    assert server.established
    assert server.identity == IDENTITY
    assert server.open(payload(APP_REQUEST)) == REQUEST_PLAIN
    assert server.seal(REPLY_PLAIN) == payload(APP_REPLY)


def test_a_tampered_finished_is_refused() -> None:
    client = PskClient(IDENTITY, PSK, random_bytes=draws(CLIENT_RANDOM))
    client.hello()
    client.receive(payload(SERVER_HELLO))
    tampered = bytearray(payload(SERVER_FINISH))
    tampered[-1] ^= 1
    with pytest.raises(Exception, match="bad_record_mac"):
        client.receive(bytes(tampered))
    assert not client.established


def test_records_split_as_the_meter_concatenates_them() -> None:
    records = split_records(payload(SERVER_HELLO))
    assert [r.content_type for r in records] == [ContentType.HANDSHAKE, ContentType.HANDSHAKE]
    assert records[1] == Record(ContentType.HANDSHAKE, bytes.fromhex("0e000000"))
