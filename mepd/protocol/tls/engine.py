"""What the MEP TLS layer needs from a TLS implementation: bytes in, bytes out, no I/O.

Two backends implement it: the pure engine (`PskClient`/`PskServer`, this package, on
`cryptography`'s AES-GCM) and, optionally, mbed TLS through python-mbedtls
(`mepd/drivers/tls_mbedtls.py`). Backends raise `TlsError`, with the alert when there is one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from mepd.protocol.tls.client import PskClient
from mepd.protocol.tls.codes import PskCredentials


class TlsClientEngine(Protocol):
    """One TLS session, client side. A new session takes a new engine (no cache, p.18)."""

    @property
    def established(self) -> bool: ...

    def hello(self) -> bytes:
        """The first flight (sent with 0x58)."""
        ...

    def receive(self, data: bytes) -> bytes:
        """A server flight in (whole records); the next client flight out (0x59), or b""."""
        ...

    def seal(self, plaintext: bytes) -> bytes:
        """Application data as records (sent with 0x80)."""
        ...

    def open(self, data: bytes) -> bytes:
        """The application data carried by the server's records."""
        ...


class TlsServerEngine(Protocol):
    """One TLS session, server side (the simulated meter)."""

    @property
    def established(self) -> bool: ...

    @property
    def identity(self) -> bytes | None:
        """The PSK identity the client named, once its ClientKeyExchange was accepted."""
        ...

    def receive(self, data: bytes) -> bytes: ...

    def seal(self, plaintext: bytes) -> bytes: ...

    def open(self, data: bytes) -> bytes: ...


ClientEngineFactory = Callable[[PskCredentials], TlsClientEngine]
PskLookup = Callable[[bytes], bytes | None]
ServerEngineFactory = Callable[[PskLookup], TlsServerEngine]


def pure_client(credentials: PskCredentials) -> TlsClientEngine:
    return PskClient(credentials.identity, credentials.psk)
