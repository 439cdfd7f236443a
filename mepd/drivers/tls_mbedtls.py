"""The optional mbed TLS backend of the TLS engine interface, through python-mbedtls 2.10.

The meter's TLS stack is mbed TLS 2.16 (p.18); this backend runs the same library family
(2.28) on either side, which makes it a cross-check of the pure engine rather than a need:
the pure engine is the default everywhere. python-mbedtls has no ARM wheels, so on a Pi it is
built from source against Debian's libmbedtls-dev (2.28 on bookworm): a compiler and about a
minute on a desktop core, much longer on a Pi.

Limits of python-mbedtls 2.10 that shape this module:
- A PSK identity is passed as `str` and encoded as UTF-8, so an identity byte of 0x80 or more
  cannot be sent as itself; client ids with such a byte are refused here (zero bytes are
  fine, unlike OpenSSL's PSK callback).
- `do_handshake()` does one step; the flight is what the steps wrote until it wants to read.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from mepd.protocol.tls.codes import PskCredentials
from mepd.protocol.tls.engine import PskLookup
from mepd.protocol.tls.errors import AlertDescription, TlsError


def _load(module: str) -> Any:
    """The python-mbedtls module, or None without the extra. Typed Any on purpose: mypy sees
    the same module with and without the optional package installed."""
    try:
        return importlib.import_module(module)
    except ImportError:  # pragma: no cover - depends on the optional extra
        return None


_tls: Any = _load("mbedtls.tls")
_exceptions: Any = _load("mbedtls.exceptions")
_MbedError: Any = _exceptions.TLSError if _exceptions is not None else None

CIPHER = "TLS-PSK-WITH-AES-256-GCM-SHA384"
_BUFFER = 1 << 16
INSTALL_HINT = (
    "the mbed TLS engine needs python-mbedtls: apt-get install libmbedtls-dev, then "
    "pip install 'python-mbedtls==2.10.*' (built from source on a Pi)"
)

# mbed TLS 2.x error codes (ssl.h), as python-mbedtls reports them (without the sign).
_ERRORS_TO_ALERTS = {
    0x7180: AlertDescription.BAD_RECORD_MAC,  # MBEDTLS_ERR_SSL_INVALID_MAC
    0x6C80: AlertDescription.UNKNOWN_PSK_IDENTITY,  # MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY
    0x7E80: AlertDescription.DECRYPT_ERROR,  # MBEDTLS_ERR_SSL_BAD_HS_FINISHED
}


def available() -> bool:
    return _tls is not None


def _require() -> None:
    if _tls is None:
        raise TlsError(INSTALL_HINT, AlertDescription.INTERNAL_ERROR)


def _identity_text(identity: bytes) -> str:
    if any(byte >= 0x80 for byte in identity):
        raise TlsError(
            "python-mbedtls sends a PSK identity as UTF-8 text, so every identity byte must be "
            "below 0x80; pick a client id whose two bytes are below 0x80, or the pure engine",
            AlertDescription.INTERNAL_ERROR,
        )
    return identity.decode("ascii")


def _configuration(**options: object) -> Any:
    _require()
    return _tls.TLSConfiguration(
        ciphers=[CIPHER],
        lowest_supported_version=_tls.TLSVersion.TLSv1_2,
        highest_supported_version=_tls.TLSVersion.TLSv1_2,
        validate_certificates=False,
        **options,
    )


def _translate(error: Exception) -> TlsError:
    code = abs(int(getattr(error, "err", 0) or 0))
    alert = _ERRORS_TO_ALERTS.get(code)
    message = str(getattr(error, "msg", "") or error) or type(error).__name__
    return TlsError(f"mbed TLS: {message} (-0x{code:04X})", alert)


class _Buffers:
    """A python-mbedtls TLSWrappedBuffer, stepped until it has to wait for the peer."""

    def __init__(self, buffer: Any) -> None:
        self._buffer = buffer
        self.failed = False

    @property
    def established(self) -> bool:
        state = self._buffer._handshake_state
        return bool(state is _tls.HandshakeStep.HANDSHAKE_OVER) and not self.failed

    def _drain(self) -> bytes:
        buffer = self._buffer
        out = bytes(buffer.peek_outgoing(_BUFFER))
        buffer.consume_outgoing(len(out))
        return out

    def step(self, data: bytes | None) -> bytes:
        buffer = self._buffer
        out = bytearray()
        try:
            if data:
                buffer.receive_from_network(data)
            while not self.established:
                try:
                    buffer.do_handshake()
                except _tls.WantReadError:
                    break
                except _tls.WantWriteError:
                    out += self._drain()
        except _MbedError as error:
            self.failed = True
            raise _translate(error) from None
        out += self._drain()
        return bytes(out)

    def seal(self, plaintext: bytes) -> bytes:
        try:
            self._buffer.write(plaintext)
        except _MbedError as error:
            self.failed = True
            raise _translate(error) from None
        return self._drain()

    def open(self, data: bytes) -> bytes:
        buffer = self._buffer
        plain = bytearray()
        try:
            buffer.receive_from_network(data)
            while True:
                try:
                    chunk = bytes(buffer.read(_BUFFER))
                except _tls.WantReadError:
                    break
                if not chunk:
                    break
                plain += chunk
        except _MbedError as error:
            self.failed = True
            raise _translate(error) from None
        return bytes(plain)


class MbedTlsClient:
    """`TlsClientEngine` on mbed TLS."""

    def __init__(self, credentials: PskCredentials) -> None:
        configuration = _configuration(
            pre_shared_key=(_identity_text(credentials.identity), credentials.psk)
        )
        self._io = _Buffers(_tls.ClientContext(configuration).wrap_buffers(None))

    @property
    def established(self) -> bool:
        return self._io.established

    def hello(self) -> bytes:
        return self._io.step(None)

    def receive(self, data: bytes) -> bytes:
        return self._io.step(data)

    def seal(self, plaintext: bytes) -> bytes:
        return self._io.seal(plaintext)

    def open(self, data: bytes) -> bytes:
        return self._io.open(data)


class _IdentityStore(Mapping[str, bytes]):
    """python-mbedtls' server PSK store, asking `lookup` about each identity it is given."""

    def __init__(self, lookup: PskLookup) -> None:
        self._lookup = lookup
        self.last: bytes | None = None

    def __getitem__(self, identity: str) -> bytes:
        raw = identity.encode("utf-8")
        psk = self._lookup(raw)
        if psk is None:
            raise KeyError(identity)
        self.last = raw
        return psk

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


class MbedTlsServer:
    """`TlsServerEngine` on mbed TLS, for the simulated meter."""

    def __init__(self, lookup: PskLookup) -> None:
        self._store = _IdentityStore(lookup)
        configuration = _configuration(pre_shared_key_store=self._store)
        self._io = _Buffers(_tls.ServerContext(configuration).wrap_buffers())

    @property
    def established(self) -> bool:
        return self._io.established

    @property
    def identity(self) -> bytes | None:
        return self._store.last

    def receive(self, data: bytes) -> bytes:
        return self._io.step(data)

    def seal(self, plaintext: bytes) -> bytes:
        return self._io.seal(plaintext)

    def open(self, data: bytes) -> bytes:
        return self._io.open(data)
