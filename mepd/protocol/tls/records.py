"""The TLS 1.2 record layer, with AES-256-GCM protection (RFC 5246 §6.2, RFC 5288 §3).

MEP carries whole records inside its frames, several to a frame at times (p.14), so records
are split from a complete payload; a record cut short is an error, not something to wait for.

GCM nonce = implicit salt(4, from the key block) || explicit nonce(8, sent in the record). The
explicit part is the record sequence number, as mbed TLS and the guide's example do (p.14-15:
0 for Finished, 1 for the first application data). AAD = seq(8) | type | version | length of
the plaintext.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mepd.protocol.tls.errors import AlertDescription, TlsError

TLS12 = 0x0303
HEADER = struct.Struct(">BHH")
HEADER_BYTES = HEADER.size
EXPLICIT_NONCE_BYTES = 8
TAG_BYTES = 16
MAX_PLAINTEXT = 1 << 14  # RFC 5246 §6.2.1
MAX_CIPHERTEXT = MAX_PLAINTEXT + 2048
_SEQUENCE_LIMIT = 1 << 64
# Some clients put TLS 1.0 in the ClientHello's record header for compatibility (RFC 5246
# Appendix E.1); every other record must say TLS 1.2.
ACCEPTED_HELLO_VERSIONS = frozenset({0x0301, 0x0302, 0x0303})


class ContentType(IntEnum):
    CHANGE_CIPHER_SPEC = 20
    ALERT = 21
    HANDSHAKE = 22
    APPLICATION_DATA = 23


@dataclass(frozen=True)
class Record:
    content_type: ContentType
    fragment: bytes = field(repr=False)
    version: int = TLS12

    def encode(self) -> bytes:
        return HEADER.pack(self.content_type, self.version, len(self.fragment)) + self.fragment


def encode_record(content_type: ContentType, fragment: bytes) -> bytes:
    return Record(content_type, fragment).encode()


def split_records(data: bytes, *, hello: bool = False) -> list[Record]:
    """Every record in `data`, which must hold whole records only."""
    records: list[Record] = []
    position = 0
    while position < len(data):
        if len(data) - position < HEADER_BYTES:
            raise TlsError("a TLS record header is cut short", AlertDescription.DECODE_ERROR)
        kind, version, length = HEADER.unpack_from(data, position)
        position += HEADER_BYTES
        try:
            content_type = ContentType(kind)
        except ValueError:
            raise TlsError(
                f"unknown TLS record type {kind}", AlertDescription.UNEXPECTED_MESSAGE
            ) from None
        accepted = ACCEPTED_HELLO_VERSIONS if hello and not records else {TLS12}
        if version not in accepted:
            raise TlsError(
                f"TLS record version {version:#06x} is not TLS 1.2",
                AlertDescription.PROTOCOL_VERSION,
            )
        if length > MAX_CIPHERTEXT:
            raise TlsError(f"TLS record of {length} bytes", AlertDescription.RECORD_OVERFLOW)
        if len(data) - position < length:
            raise TlsError("a TLS record is cut short", AlertDescription.DECODE_ERROR)
        records.append(Record(content_type, data[position : position + length], version))
        position += length
    return records


class RecordCipher:
    """One direction's AES-256-GCM record protection and its 64-bit sequence number."""

    __slots__ = ("_aead", "_salt", "sequence")

    def __init__(self, key: bytes, salt: bytes) -> None:
        self._aead = AESGCM(key)
        self._salt = salt
        self.sequence = 0

    def _next(self) -> int:
        sequence = self.sequence
        if sequence + 1 >= _SEQUENCE_LIMIT:
            raise TlsError("TLS record sequence number exhausted", AlertDescription.INTERNAL_ERROR)
        self.sequence += 1
        return sequence

    @staticmethod
    def _aad(sequence: int, content_type: ContentType, length: int) -> bytes:
        return sequence.to_bytes(8, "big") + HEADER.pack(content_type, TLS12, length)

    def seal(self, content_type: ContentType, plaintext: bytes) -> bytes:
        """One protected record carrying `plaintext`."""
        if len(plaintext) > MAX_PLAINTEXT:
            raise TlsError("TLS plaintext over 2^14 bytes", AlertDescription.RECORD_OVERFLOW)
        sequence = self._next()
        explicit = sequence.to_bytes(EXPLICIT_NONCE_BYTES, "big")
        sealed = self._aead.encrypt(
            self._salt + explicit, plaintext, self._aad(sequence, content_type, len(plaintext))
        )
        return encode_record(content_type, explicit + sealed)

    def open(self, record: Record) -> bytes:
        """The plaintext of a protected record; TlsError(bad_record_mac) if it does not verify."""
        fragment = record.fragment
        if len(fragment) < EXPLICIT_NONCE_BYTES + TAG_BYTES:
            raise TlsError("protected TLS record too short", AlertDescription.BAD_RECORD_MAC)
        sequence = self._next()
        explicit, sealed = fragment[:EXPLICIT_NONCE_BYTES], fragment[EXPLICIT_NONCE_BYTES:]
        length = len(sealed) - TAG_BYTES
        try:
            return self._aead.decrypt(
                self._salt + explicit, sealed, self._aad(sequence, record.content_type, length)
            )
        except InvalidTag:
            raise TlsError(
                "a TLS record failed its integrity check (bad_record_mac)",
                AlertDescription.BAD_RECORD_MAC,
            ) from None


def alert_fragment(description: AlertDescription, *, fatal: bool = True) -> bytes:
    return bytes([2 if fatal else 1, description])


def parse_alert(fragment: bytes, *, direction: str) -> TlsError:
    """The error a received alert record means (to raise)."""
    if len(fragment) != 2:
        return TlsError("malformed TLS alert", AlertDescription.DECODE_ERROR)
    level, description = fragment
    try:
        name = AlertDescription(description).name.lower()
    except ValueError:
        name = f"alert {description}"
    kind = "fatal" if level == 2 else "warning"
    return TlsError(f"{direction} sent a {kind} TLS alert: {name}", description, received=True)
