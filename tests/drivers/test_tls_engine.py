"""Choosing the TLS engine, and why Python's ssl module is not one (notes §4.4)."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable

import pytest

from mepd.drivers import tls_mbedtls
from mepd.drivers.tls_engine import ENGINES, check_engine, client_engine_factory, server_engine
from mepd.errors import ConfigError
from mepd.protocol.keys import KeyId, MepKey
from mepd.protocol.tls.client import PskClient
from mepd.protocol.tls.codes import PskCredentials
from mepd.protocol.tls.engine import pure_client
from mepd.protocol.tls.server import PskServer

CREDENTIALS = PskCredentials(MepKey(b"\x01" * 16, KeyId.MBK), client_id=100)


def test_the_pure_engine_is_the_default_and_always_there() -> None:
    assert client_engine_factory() is pure_client
    assert isinstance(client_engine_factory("pure")(CREDENTIALS), PskClient)
    assert isinstance(server_engine("pure", lambda _identity: None), PskServer)
    assert ENGINES == ("pure", "mbedtls")


def test_unknown_engines_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="known engines: pure, mbedtls"):
        check_engine("openssl")


@pytest.mark.skipif(tls_mbedtls.available(), reason="python-mbedtls is installed")
def test_a_missing_extra_names_the_install_step() -> None:
    with pytest.raises(ConfigError, match="libmbedtls-dev"):
        client_engine_factory("mbedtls")


@pytest.mark.skipif(
    not hasattr(ssl.SSLContext, "set_psk_client_callback"), reason="needs Python 3.13+"
)
def test_openssl_cuts_the_psk_identity_at_its_first_zero_byte() -> None:
    """Why the ssl module cannot be the engine: the MBK identity ends in a zero byte."""
    seen: list[str] = []
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    for context in (client, server):
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers("PSK-AES256-GCM-SHA384")
    client.set_psk_client_callback(lambda _hint: ("d\x00\x00", b"\x01" * 16))  # type: ignore[attr-defined]

    def remember(identity: str) -> bytes:
        seen.append(identity)
        return b"\x01" * 16

    server.set_psk_server_callback(remember)  # type: ignore[attr-defined]
    pipes = [ssl.MemoryBIO() for _ in range(4)]
    ends = [
        client.wrap_bio(pipes[0], pipes[1]),
        server.wrap_bio(pipes[2], pipes[3], server_side=True),
    ]
    for _ in range(4):
        for end in ends:
            with contextlib.suppress(ssl.SSLWantReadError):
                end.do_handshake()
        pipes[2].write(pipes[1].read())
        pipes[0].write(pipes[3].read())
    assert seen == ["d"]  # 64 00 00 asked for, 64 sent


mbedtls_only = pytest.mark.skipif(
    not tls_mbedtls.available(), reason="python-mbedtls is not installed"
)


def _lookup(identity: bytes) -> bytes | None:
    return CREDENTIALS.psk if identity == CREDENTIALS.identity else None


def _connect(client: object, server: object) -> None:
    flight = server.receive(client.hello())  # type: ignore[attr-defined]
    flight = server.receive(client.receive(flight))  # type: ignore[attr-defined]
    assert client.receive(flight) == b""  # type: ignore[attr-defined]


@mbedtls_only
@pytest.mark.parametrize(
    ("make_client", "make_server"),
    [
        (pure_client, tls_mbedtls.MbedTlsServer),
        (tls_mbedtls.MbedTlsClient, PskServer),
        (tls_mbedtls.MbedTlsClient, tls_mbedtls.MbedTlsServer),
    ],
    ids=["pure-client/mbedtls-server", "mbedtls-client/pure-server", "mbedtls/mbedtls"],
)
def test_engines_interoperate(
    make_client: Callable[[PskCredentials], object], make_server: Callable[..., object]
) -> None:
    client, server = make_client(CREDENTIALS), make_server(_lookup)
    _connect(client, server)
    assert server.identity == bytes.fromhex("640000")  # type: ignore[attr-defined]
    assert server.open(client.seal(b"\x3f\x08\x46\x00\x00\x8e\x00\x01")) == (  # type: ignore[attr-defined]
        b"\x3f\x08\x46\x00\x00\x8e\x00\x01"
    )
    assert client.open(server.seal(b"\x00\x00\x01\x02")) == b"\x00\x00\x01\x02"  # type: ignore[attr-defined]


@mbedtls_only
@pytest.mark.parametrize(
    ("credentials", "alert"),
    [
        (PskCredentials(MepKey(b"\x02" * 16, KeyId.MBK), 100), 20),  # bad_record_mac
        (PskCredentials(MepKey(b"\x01" * 16, KeyId.MAK), 100), 115),  # unknown_psk_identity
    ],
)
def test_mbed_tls_fails_a_wrong_key_the_way_the_meter_reports_0x03(
    credentials: PskCredentials, alert: int
) -> None:
    from mepd.protocol.tls.errors import TlsError

    client, server = pure_client(credentials), tls_mbedtls.MbedTlsServer(_lookup)
    with pytest.raises(TlsError) as failure:
        server.receive(client.receive(server.receive(client.hello())))
    assert failure.value.alert == alert
    assert failure.value.about_the_key


@mbedtls_only
def test_python_mbedtls_cannot_send_identity_bytes_above_0x7f() -> None:
    from mepd.protocol.tls.errors import TlsError

    with pytest.raises(TlsError, match="below 0x80"):
        tls_mbedtls.MbedTlsClient(PskCredentials(CREDENTIALS.key, client_id=0x0080))
