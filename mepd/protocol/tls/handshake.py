"""TLS 1.2 PSK handshake messages, and what both ends share: transcript, records, ciphers.

Only what TLS_PSK_WITH_AES_256_GCM_SHA384 with MEP needs (p.14, p.18): no certificates, no
session cache, no renegotiation. The ClientHello is the guide's (p.14): suite 0x00A9 plus the
renegotiation SCSV 0x00FF, null compression, no extensions.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, IntEnum

from mepd.protocol.tls.errors import AlertDescription, TlsError
from mepd.protocol.tls.records import (
    TLS12,
    ContentType,
    Record,
    RecordCipher,
    alert_fragment,
    encode_record,
    parse_alert,
    split_records,
)
from mepd.protocol.tls.schedule import RANDOM_BYTES, SessionSecrets, verify_data

TLS_PSK_WITH_AES_256_GCM_SHA384 = 0x00A9
TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00FF
RENEGOTIATION_INFO = 0xFF01
NULL_COMPRESSION = 0
SESSION_ID_BYTES = 32
_HEADER = struct.Struct(">BI")  # type, then a 24-bit length in the low 3 bytes

RandomBytes = Callable[[int], bytes]


class HandshakeType(IntEnum):
    HELLO_REQUEST = 0
    CLIENT_HELLO = 1
    SERVER_HELLO = 2
    CERTIFICATE = 11
    SERVER_KEY_EXCHANGE = 12
    CERTIFICATE_REQUEST = 13
    SERVER_HELLO_DONE = 14
    CLIENT_KEY_EXCHANGE = 16
    FINISHED = 20


class State(Enum):
    START = "start"
    WAIT_SERVER_HELLO = "wait ServerHello"
    WAIT_SERVER_HELLO_DONE = "wait ServerHelloDone"
    WAIT_CLIENT_HELLO = "wait ClientHello"
    WAIT_CLIENT_KEY_EXCHANGE = "wait ClientKeyExchange"
    WAIT_CHANGE_CIPHER_SPEC = "wait ChangeCipherSpec"
    WAIT_FINISHED = "wait Finished"
    ESTABLISHED = "established"
    FAILED = "failed"


def handshake_message(kind: HandshakeType, body: bytes) -> bytes:
    return bytes([kind]) + len(body).to_bytes(3, "big") + body


def _vector(data: bytes, length_bytes: int) -> bytes:
    return len(data).to_bytes(length_bytes, "big") + data


class Reader:
    """Bounds-checked reads from a handshake message body; DecodeError-style TlsError."""

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._at = 0
        self._what = what

    def take(self, count: int) -> bytes:
        if self._at + count > len(self._data):
            raise TlsError(f"{self._what} is cut short", AlertDescription.DECODE_ERROR)
        chunk = self._data[self._at : self._at + count]
        self._at += count
        return chunk

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, length_bytes: int) -> bytes:
        return self.take(self.number(length_bytes))

    @property
    def remaining(self) -> int:
        return len(self._data) - self._at

    def end(self) -> None:
        if self.remaining:
            raise TlsError(f"{self._what} has trailing bytes", AlertDescription.DECODE_ERROR)


# --- hellos -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientHello:
    random: bytes
    cipher_suites: tuple[int, ...]
    extensions: dict[int, bytes] = field(default_factory=dict)
    version: int = TLS12
    session_id: bytes = b""

    def body(self) -> bytes:
        suites = b"".join(suite.to_bytes(2, "big") for suite in self.cipher_suites)
        out = (
            self.version.to_bytes(2, "big")
            + self.random
            + _vector(self.session_id, 1)
            + _vector(suites, 2)
            + _vector(bytes([NULL_COMPRESSION]), 1)
        )
        if self.extensions:
            out += _vector(_encode_extensions(self.extensions), 2)
        return out

    @classmethod
    def parse(cls, body: bytes) -> ClientHello:
        reader = Reader(body, "ClientHello")
        version = reader.number(2)
        random = reader.take(RANDOM_BYTES)
        session_id = reader.vector(1)
        suites_raw = reader.vector(2)
        if len(suites_raw) % 2:
            raise TlsError("odd cipher suite list", AlertDescription.DECODE_ERROR)
        suites = tuple(
            int.from_bytes(suites_raw[i : i + 2], "big") for i in range(0, len(suites_raw), 2)
        )
        compressions = reader.vector(1)
        if NULL_COMPRESSION not in compressions:
            raise TlsError("ClientHello lacks null compression", AlertDescription.ILLEGAL_PARAMETER)
        extensions = _parse_extensions(reader.vector(2)) if reader.remaining else {}
        reader.end()
        return cls(random, suites, extensions, version, session_id)


@dataclass(frozen=True)
class ServerHello:
    random: bytes
    session_id: bytes
    cipher_suite: int
    extensions: dict[int, bytes] = field(default_factory=dict)
    version: int = TLS12
    compression: int = NULL_COMPRESSION

    def body(self) -> bytes:
        out = (
            self.version.to_bytes(2, "big")
            + self.random
            + _vector(self.session_id, 1)
            + self.cipher_suite.to_bytes(2, "big")
            + bytes([self.compression])
        )
        if self.extensions:
            out += _vector(_encode_extensions(self.extensions), 2)
        return out

    @classmethod
    def parse(cls, body: bytes) -> ServerHello:
        reader = Reader(body, "ServerHello")
        version = reader.number(2)
        random = reader.take(RANDOM_BYTES)
        session_id = reader.vector(1)
        suite = reader.number(2)
        compression = reader.number(1)
        extensions = _parse_extensions(reader.vector(2)) if reader.remaining else {}
        reader.end()
        return cls(random, session_id, suite, extensions, version, compression)


def _encode_extensions(extensions: dict[int, bytes]) -> bytes:
    return b"".join(kind.to_bytes(2, "big") + _vector(data, 2) for kind, data in extensions.items())


def _parse_extensions(data: bytes) -> dict[int, bytes]:
    reader = Reader(data, "extensions")
    extensions: dict[int, bytes] = {}
    while reader.remaining:
        kind = reader.number(2)
        if kind in extensions:
            raise TlsError(f"extension {kind:#06x} twice", AlertDescription.ILLEGAL_PARAMETER)
        extensions[kind] = reader.vector(2)
    return extensions


def client_key_exchange(identity: bytes) -> bytes:
    """RFC 4279 §2: ClientKeyExchange carries the PSK identity as opaque<0..2^16-1>."""
    return handshake_message(HandshakeType.CLIENT_KEY_EXCHANGE, _vector(identity, 2))


# --- what both ends share -----------------------------------------------------------------


class Endpoint:
    """Record handling, handshake reassembly and the transcript for either end.

    Subclasses implement `_on_handshake` for the messages of their side and append the flight
    they answer with to `self._flight`.
    """

    is_client = True

    def __init__(self, random_bytes: RandomBytes) -> None:
        self._random_bytes = random_bytes
        self.state = State.START
        self._transcript = bytearray()
        self._pending = bytearray()
        self._read: RecordCipher | None = None
        self._write: RecordCipher | None = None
        self._secrets: SessionSecrets | None = None
        self._flight = bytearray()
        self.client_random = b""
        self.server_random = b""

    @property
    def established(self) -> bool:
        return self.state is State.ESTABLISHED

    @property
    def secrets(self) -> SessionSecrets | None:
        return self._secrets

    @property
    def _peer(self) -> str:
        return "the meter" if self.is_client else "the client"

    # --- the handshake phase -------------------------------------------------------------

    def receive(self, data: bytes) -> bytes:
        """Feed a peer flight (whole records); returns this side's next flight, maybe b""."""
        if self.state in (State.ESTABLISHED, State.FAILED, State.START):
            raise TlsError(
                f"no handshake in progress ({self.state.value})",
                AlertDescription.UNEXPECTED_MESSAGE,
            )
        self._flight.clear()
        try:
            hello = self.state is State.WAIT_CLIENT_HELLO
            for record in split_records(data, hello=hello):
                self._on_record(record)
        except TlsError:
            self.state = State.FAILED
            raise
        return bytes(self._flight)

    def _on_record(self, record: Record) -> None:
        if record.content_type is ContentType.CHANGE_CIPHER_SPEC:
            self._on_change_cipher_spec(record)
            return
        fragment = self._read.open(record) if self._read is not None else record.fragment
        if record.content_type is ContentType.ALERT:
            raise parse_alert(fragment, direction=self._peer)
        if record.content_type is not ContentType.HANDSHAKE:
            raise TlsError(
                f"{record.content_type.name} record during the handshake",
                AlertDescription.UNEXPECTED_MESSAGE,
            )
        self._pending += fragment
        while len(self._pending) >= 4:
            kind, length = self._pending[0], int.from_bytes(self._pending[1:4], "big")
            if len(self._pending) < 4 + length:
                break
            raw = bytes(self._pending[: 4 + length])
            del self._pending[: 4 + length]
            try:
                message_type = HandshakeType(kind)
            except ValueError:
                raise TlsError(
                    f"unknown handshake message {kind}", AlertDescription.UNEXPECTED_MESSAGE
                ) from None
            self._on_handshake(message_type, raw[4:], raw)

    def _on_change_cipher_spec(self, record: Record) -> None:
        if record.fragment != b"\x01" or self.state is not State.WAIT_CHANGE_CIPHER_SPEC:
            raise TlsError("unexpected ChangeCipherSpec", AlertDescription.UNEXPECTED_MESSAGE)
        if self._pending:
            raise TlsError(
                "ChangeCipherSpec inside a handshake message", AlertDescription.UNEXPECTED_MESSAGE
            )
        self._read = self._cipher(reading=True)
        self.state = State.WAIT_FINISHED

    def _on_handshake(self, kind: HandshakeType, body: bytes, raw: bytes) -> None:
        raise NotImplementedError

    def _unexpected(self, kind: HandshakeType) -> TlsError:
        return TlsError(
            f"unexpected {kind.name} while in state '{self.state.value}'",
            AlertDescription.UNEXPECTED_MESSAGE,
        )

    def _derive(self, psk: bytes) -> None:
        self._secrets = SessionSecrets.derive(psk, self.client_random, self.server_random)

    def _cipher(self, *, reading: bool) -> RecordCipher:
        assert self._secrets is not None
        keys = self._secrets.keys
        client_side = reading != self.is_client  # we read what the other side wrote
        if client_side:
            return RecordCipher(keys.client_write_key, keys.client_write_iv)
        return RecordCipher(keys.server_write_key, keys.server_write_iv)

    def _send_plain(self, content_type: ContentType, fragment: bytes) -> None:
        self._flight += encode_record(content_type, fragment)

    def _send_change_cipher_spec_and_finished(self, label: bytes) -> None:
        assert self._secrets is not None
        self._send_plain(ContentType.CHANGE_CIPHER_SPEC, b"\x01")
        self._write = self._cipher(reading=False)
        finished = handshake_message(
            HandshakeType.FINISHED,
            verify_data(self._secrets.master, label, bytes(self._transcript)),
        )
        self._transcript += finished
        self._flight += self._write.seal(ContentType.HANDSHAKE, finished)

    def _check_finished(self, body: bytes, raw: bytes, label: bytes) -> None:
        assert self._secrets is not None
        expected = verify_data(self._secrets.master, label, bytes(self._transcript))
        if body != expected:
            raise TlsError(
                f"{self._peer}'s Finished does not verify", AlertDescription.DECRYPT_ERROR
            )
        self._transcript += raw

    # --- the application phase -----------------------------------------------------------

    def seal(self, plaintext: bytes) -> bytes:
        """Application data as protected records."""
        if not self.established or self._write is None:
            raise TlsError("no TLS session to send on", AlertDescription.INTERNAL_ERROR)
        return self._write.seal(ContentType.APPLICATION_DATA, plaintext)

    def open(self, data: bytes) -> bytes:
        """The application data in `data` (whole records). Alerts raise TlsError."""
        if not self.established or self._read is None:
            raise TlsError("no TLS session to receive on", AlertDescription.INTERNAL_ERROR)
        plain = bytearray()
        try:
            for record in split_records(data):
                if record.content_type is ContentType.CHANGE_CIPHER_SPEC:
                    raise TlsError(
                        "ChangeCipherSpec after the handshake", AlertDescription.UNEXPECTED_MESSAGE
                    )
                fragment = self._read.open(record)
                if record.content_type is ContentType.APPLICATION_DATA:
                    plain += fragment
                elif record.content_type is ContentType.ALERT:
                    raise parse_alert(fragment, direction=self._peer)
                elif not (
                    self.is_client
                    and fragment == handshake_message(HandshakeType.HELLO_REQUEST, b"")
                ):
                    # A HelloRequest may be ignored (RFC 5246 §7.4.1.1); we never renegotiate.
                    raise TlsError(
                        "handshake message after the handshake",
                        AlertDescription.UNEXPECTED_MESSAGE,
                    )
        except TlsError:
            self.state = State.FAILED
            raise
        return bytes(plain)

    def close_notify(self) -> bytes:
        """A protected close_notify alert, to end the session politely."""
        if not self.established or self._write is None:
            return b""
        return self._write.seal(
            ContentType.ALERT, alert_fragment(AlertDescription.CLOSE_NOTIFY, fatal=False)
        )
