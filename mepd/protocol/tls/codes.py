"""TLS-mode MEP frames: codes 0x57/0x58/0x59/0x80 and the responses 0x00/0x01/0x03/0x0A.

Request frame:  LEN(2, MSB) | code(1) | payload     (Table 2.2, p.9: no sequence, no digest)
Response frame: LEN(2, MSB) | code(1) | payload     (Table 2.3, p.9)

The payload is TLS record-layer bytes: the handshake flights (0x58 first, 0x59 after, p.8),
application-data records carrying a bare C12.18 request (0x80, p.9), or, for 0x57, at least
one byte of anything (p.8). The PSK identity is 3 bytes (p.18-19): client id, UInt16 LSB
first, then the key id (0 = MBK, 1 = MAK).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

from mepd.protocol.codes import ResponseCode
from mepd.protocol.errors import FrameError, ResponseError
from mepd.protocol.frames import (
    LENGTH_BYTES,
    MAX_MESSAGE_BYTES,
    READ_REQUESTS,
    PartialRead,
    Request,
    Response,
)
from mepd.protocol.keys import KeyId, MepKey


class TlsRequestCode(IntEnum):
    """Table 2.1 (p.8-9)."""

    TERMINATE = 0x57
    HANDSHAKE = 0x58  # the first flight; resets any session or handshake in progress
    HANDSHAKE_CONT = 0x59  # every later flight
    TABLE = 0x80  # application-data record(s) carrying a C12.18 request


TLS_REQUEST_CODES = frozenset(int(code) for code in TlsRequestCode)


class TlsResponseCode(IntEnum):
    """Table 2.3 (p.9), and 0x0A from Table 2.1 (p.9)."""

    SUCCESS = 0x00
    TLS_ERROR = 0x01
    INVALID_IDENTITY_OR_KEY = 0x03
    NO_SESSION = 0x0A  # "invalid service sequence state": 0x80 without a session

    def describe(self) -> str:
        return f"0x{self.value:02X} ({_MEANINGS[self]})"


_MEANINGS = {
    TlsResponseCode.SUCCESS: "success",
    TlsResponseCode.TLS_ERROR: "TLS error",
    TlsResponseCode.INVALID_IDENTITY_OR_KEY: "invalid identity or key",
    TlsResponseCode.NO_SESSION: "invalid service sequence state: no TLS session",
}

# TLS record overhead of one AES-GCM application-data record: header 5, explicit nonce 8,
# tag 16 (notes §1.5). If the 476-byte limit (p.8) holds for TLS frames too (notes §15.8 is
# open), a read answer holds 476 - code(1) - 29 - C12.18 code(1) - count(2) = 443 bytes.
RECORD_OVERHEAD = 5 + 8 + 16
MAX_TLS_READ_COUNT = MAX_MESSAGE_BYTES - 1 - RECORD_OVERHEAD - 1 - 2

CLIENT_ID_BYTES = 2
DEFAULT_CLIENT_ID = 100  # the guide's example identity 64 00 01 (p.14); only logged (p.18)


@dataclass(frozen=True)
class PskCredentials:
    """The PSK and identity for a MEP TLS session (p.18-19). Repr never shows the key."""

    key: MepKey
    client_id: int = DEFAULT_CLIENT_ID

    def __post_init__(self) -> None:
        if not 0 <= self.client_id <= 0xFFFF:
            raise FrameError(f"a TLS client id is a UInt16, not {self.client_id}")

    @property
    def psk(self) -> bytes:
        return self.key.secret  # p.18: the first 16 bytes of the MBK or MAK

    @property
    def identity(self) -> bytes:
        return psk_identity(self.client_id, self.key.key_id)

    @property
    def key_name(self) -> str:
        return self.key.key_id.name


def psk_identity(client_id: int, key_id: KeyId) -> bytes:
    """p.18-19: client id (UInt16, LSB first) then key id (UInt8)."""
    return struct.pack("<HB", client_id, key_id)


def parse_psk_identity(identity: bytes) -> tuple[int, KeyId]:
    """The meter's reading of an identity: (client id, key id). FrameError if malformed."""
    if len(identity) != CLIENT_ID_BYTES + 1:
        raise FrameError(f"a MEP PSK identity is 3 bytes, not {len(identity)}")
    client_id, key_id = struct.unpack("<HB", identity)
    try:
        return client_id, KeyId(key_id)
    except ValueError:
        raise FrameError(f"PSK identity names key id {key_id}; 0 = MBK, 1 = MAK") from None


def tls_request_frame(code: TlsRequestCode, payload: bytes) -> bytes:
    """LEN | code | payload. Raises FrameError past 476 bytes (p.8) or without a payload."""
    if not payload:
        raise FrameError(f"a TLS request 0x{code:02X} needs at least one payload byte (p.8)")
    size = 1 + len(payload)
    if size > MAX_MESSAGE_BYTES:
        raise FrameError(f"TLS request of {size} bytes exceeds {MAX_MESSAGE_BYTES} (p.8)")
    return size.to_bytes(LENGTH_BYTES, "big") + bytes([code]) + payload


def terminate_frame() -> bytes:
    """0x57 with one byte: "it does not matter what the data is" (p.8)."""
    return tls_request_frame(TlsRequestCode.TERMINATE, b"\x00")


@dataclass(frozen=True)
class TlsReply:
    """A response frame's body, split into its code and payload."""

    code: TlsResponseCode
    payload: bytes = field(repr=False)


def parse_tls_reply(body: bytes) -> TlsReply:
    if not body:
        raise FrameError("empty TLS response")
    try:
        code = TlsResponseCode(body[0])
    except ValueError:
        raise FrameError(f"unknown TLS-mode response code 0x{body[0]:02X}") from None
    return TlsReply(code, body[1:])


# --- the C12.18 message inside the records (p.15: no sequence number, no digest) ------------


def interpret_c1218(request: Request, plain: bytes) -> Response:
    """The decrypted answer to `request`: its data if ok, else ResponseError/FrameError."""
    if not plain:
        raise FrameError("an empty C12.18 response inside TLS")
    try:
        code = ResponseCode(plain[0])
    except ValueError:
        raise FrameError(f"unknown C12.18 response code 0x{plain[0]:02X} inside TLS") from None
    payload = plain[1:]
    if code is not ResponseCode.OK:
        raise ResponseError(code)
    if not isinstance(request, READ_REQUESTS):
        if payload:
            raise FrameError("a write response carries no data (p.10)")
        return Response(code, b"")
    if len(payload) < 2:
        raise FrameError("a read response lacks its 2-byte count")
    count = int.from_bytes(payload[:2], "big")
    data = payload[2:]
    if count != len(data):
        raise FrameError(f"read response announces {count} bytes but carries {len(data)}")
    if isinstance(request, PartialRead) and count > request.count:
        raise FrameError(f"asked for {request.count} bytes, meter sent {count}")
    return Response(code, data)


# --- the meter's side -------------------------------------------------------------------------


def parse_tls_request(body: bytes) -> tuple[TlsRequestCode, bytes]:
    """A TLS-mode request body as the meter sees it. FrameError if it is none."""
    if not body or body[0] not in TLS_REQUEST_CODES:
        raise FrameError("not a TLS-mode request")
    return TlsRequestCode(body[0]), body[1:]


def tls_response_frame(code: TlsResponseCode, payload: bytes = b"") -> bytes:
    size = 1 + len(payload)
    if size > MAX_MESSAGE_BYTES:
        raise FrameError(f"TLS response of {size} bytes exceeds {MAX_MESSAGE_BYTES} (p.8)")
    return size.to_bytes(LENGTH_BYTES, "big") + bytes([code]) + payload
