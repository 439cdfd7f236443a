"""The pure engine end to end: client against server, and what each refuses."""

from __future__ import annotations

import pytest

from mepd.protocol.tls.client import PskClient
from mepd.protocol.tls.errors import AlertDescription, TlsError
from mepd.protocol.tls.handshake import (
    HandshakeType,
    ServerHello,
    handshake_message,
)
from mepd.protocol.tls.records import ContentType, encode_record, split_records
from mepd.protocol.tls.server import PskServer

IDENTITY = bytes.fromhex("640000")
PSK = bytes(range(16))


def lookup(identity: bytes) -> bytes | None:
    return PSK if identity == IDENTITY else None


def connect(client: PskClient, server: PskServer) -> None:
    flight = server.receive(client.hello())
    flight = server.receive(client.receive(flight))
    assert client.receive(flight) == b""


def test_client_and_server_agree_and_carry_data_both_ways() -> None:
    client, server = PskClient(IDENTITY, PSK), PskServer(lookup)
    connect(client, server)
    assert client.established
    assert server.established
    assert server.identity == IDENTITY  # an MBK identity with its zero bytes intact
    for n in range(3):
        assert server.open(client.seal(bytes([0x3F, n]))) == bytes([0x3F, n])
        assert client.open(server.seal(bytes([0, n]))) == bytes([0, n])


def test_every_session_has_fresh_keys() -> None:
    first, second = PskClient(IDENTITY, PSK), PskClient(IDENTITY, PSK)
    connect(first, PskServer(lookup))
    connect(second, PskServer(lookup))
    assert first.secrets is not None
    assert second.secrets is not None
    assert first.secrets.master != second.secrets.master


def test_client_hello_is_the_guides_shape() -> None:
    (record,) = split_records(PskClient(IDENTITY, PSK).hello())
    # type 1, suites 00A9 + SCSV 00FF, null compression, no extensions (p.14)
    assert record.fragment[:4] == bytes.fromhex("0100002b")
    assert record.fragment[-9:] == bytes.fromhex("00 0004 00a9 00ff 01 00")


def test_wrong_psk_fails_at_the_clients_finished() -> None:
    client, server = PskClient(IDENTITY, b"\xee" * 16), PskServer(lookup)
    flight = server.receive(client.hello())
    with pytest.raises(TlsError) as failure:
        server.receive(client.receive(flight))
    assert failure.value.alert == AlertDescription.BAD_RECORD_MAC
    assert failure.value.about_the_key
    assert not server.established


def test_unknown_identity_is_about_the_key() -> None:
    client, server = PskClient(bytes.fromhex("640001"), PSK), PskServer(lookup)
    flight = server.receive(client.hello())
    with pytest.raises(TlsError) as failure:
        server.receive(client.receive(flight))
    assert failure.value.alert == AlertDescription.UNKNOWN_PSK_IDENTITY
    assert failure.value.about_the_key


def _server_hello(**changes: object) -> bytes:
    fields: dict[str, object] = {
        "random": bytes(32),
        "session_id": b"",
        "cipher_suite": 0x00A9,
        "extensions": {0xFF01: b"\x00"},
    }
    fields.update(changes)
    hello = ServerHello(**fields)  # type: ignore[arg-type]
    return encode_record(
        ContentType.HANDSHAKE, handshake_message(HandshakeType.SERVER_HELLO, hello.body())
    )


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"cipher_suite": 0x008D}, "not 0x00A9"),
        ({"version": 0x0302}, "not 1.2"),
        ({"extensions": {0x0017: b""}}, "never offered"),
        ({"extensions": {0xFF01: b"\x01\x00"}}, "renegotiation_info"),
    ],
)
def test_client_refuses_what_it_did_not_ask_for(changes: dict[str, object], problem: str) -> None:
    client = PskClient(IDENTITY, PSK)
    client.hello()
    with pytest.raises(TlsError, match=problem):
        client.receive(_server_hello(**changes))


def test_a_certificate_is_unexpected() -> None:
    client = PskClient(IDENTITY, PSK)
    client.hello()
    certificate = encode_record(
        ContentType.HANDSHAKE, handshake_message(HandshakeType.CERTIFICATE, b"\x00\x00\x00")
    )
    with pytest.raises(TlsError, match="unexpected CERTIFICATE"):
        client.receive(_server_hello() + certificate)


def test_an_alert_from_the_meter_is_reported() -> None:
    client = PskClient(IDENTITY, PSK)
    client.hello()
    with pytest.raises(TlsError, match="fatal TLS alert: handshake_failure") as failure:
        client.receive(encode_record(ContentType.ALERT, b"\x02\x28"))
    assert failure.value.received


def test_server_refuses_a_hello_without_the_suite() -> None:
    hello = PskClient(IDENTITY, PSK).hello().replace(b"\x00\xa9\x00\xff", b"\x00\x8d\x00\xff")
    with pytest.raises(TlsError, match="does not offer") as failure:
        PskServer(lookup).receive(hello)
    assert not failure.value.about_the_key


def test_cut_records_and_data_before_the_session_are_errors() -> None:
    client, server = PskClient(IDENTITY, PSK), PskServer(lookup)
    with pytest.raises(TlsError, match="no TLS session"):
        client.seal(b"early")
    with pytest.raises(TlsError, match="cut short"):
        server.receive(client.hello()[:-1])


def test_a_tampered_application_record_ends_the_session() -> None:
    client, server = PskClient(IDENTITY, PSK), PskServer(lookup)
    connect(client, server)
    record = bytearray(server.seal(b"\x00\x00\x01\x02"))
    record[-3] ^= 0x40
    with pytest.raises(TlsError, match="bad_record_mac"):
        client.open(bytes(record))
    assert not client.established


def test_close_notify_is_a_protected_alert() -> None:
    client, server = PskClient(IDENTITY, PSK), PskServer(lookup)
    connect(client, server)
    with pytest.raises(TlsError, match="close_notify"):
        server.open(client.close_notify())
