"""Choosing the TLS engine: "pure" (the default, everywhere) or "mbedtls" (optional extra).

Why not Python's ssl module, even on 3.13 where it has PSK callbacks: OpenSSL takes the PSK
identity from the callback as a C string and cuts it at its first zero byte, and the meter's
identity is binary (p.18-19): client id LSB first, then the key id, which is 0x00 for the MBK.
Asked for `64 00 01`, Python 3.13 with OpenSSL 3.0 sends `64`. No client id makes an MBK
identity (`.. .. 00`) survive. See /tmp/tls-decision.md in the change's history for the
measurements.
"""

from __future__ import annotations

from mepd.drivers import tls_mbedtls
from mepd.errors import ConfigError
from mepd.protocol.tls.engine import (
    ClientEngineFactory,
    PskLookup,
    TlsServerEngine,
    pure_client,
)
from mepd.protocol.tls.server import PskServer

ENGINES = ("pure", "mbedtls")
DEFAULT_ENGINE = "pure"


def check_engine(name: str) -> None:
    """ConfigError naming the fix if `name` is no engine or its extra is missing."""
    if name not in ENGINES:
        raise ConfigError(f"unknown TLS engine {name!r}; known engines: {', '.join(ENGINES)}")
    if name == "mbedtls" and not tls_mbedtls.available():
        raise ConfigError(tls_mbedtls.INSTALL_HINT)


def client_engine_factory(name: str = DEFAULT_ENGINE) -> ClientEngineFactory:
    check_engine(name)
    if name == "mbedtls":
        return tls_mbedtls.MbedTlsClient
    return pure_client


def server_engine(name: str, lookup: PskLookup) -> TlsServerEngine:
    check_engine(name)
    if name == "mbedtls":
        return tls_mbedtls.MbedTlsServer(lookup)
    return PskServer(lookup)
