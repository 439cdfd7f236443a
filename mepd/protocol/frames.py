"""RC4-mode frames: C12.18 requests, signed and framed, and responses, verified (p.10-12).

Request frame:  LEN(2, MSB) | message | seq(4, MSB) | digest(8)     (Table 2.4, p.10)
Response frame: LEN(2, MSB) | message | digest(8)                   (Table 2.5, p.10)
LEN counts everything after itself. Table numbers, offsets and counts are MSB first; table
data is LSB first (p.12).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from mepd.protocol.codes import RequestCode, ResponseCode
from mepd.protocol.digest import DIGEST_BYTES, digest
from mepd.protocol.errors import (
    AuthenticationError,
    DigestError,
    FrameError,
    ResponseError,
    SequenceError,
)
from mepd.protocol.keys import MepKey
from mepd.protocol.rc4 import Rc4Exchange

LENGTH_BYTES = 2
SEQUENCE_BYTES = 4
SEQUENCE_MODULUS = 1 << 32
# p.8: a single request or response is at most 476 bytes, not counting LEN.
MAX_MESSAGE_BYTES = 476
# 476 - code(1) - count(2) - digest(8): the most table bytes one read can return.
MAX_READ_COUNT = MAX_MESSAGE_BYTES - 1 - 2 - DIGEST_BYTES
# 476 - code, table, offset, length (8) - seq - digest: p.44's 456-byte write limit.
MAX_PARTIAL_WRITE_BYTES = MAX_MESSAGE_BYTES - 8 - SEQUENCE_BYTES - DIGEST_BYTES
MAX_FULL_WRITE_BYTES = MAX_MESSAGE_BYTES - 5 - SEQUENCE_BYTES - DIGEST_BYTES
_MAX_TABLE = 0xFFFF
_MAX_OFFSET = 0xFFFFFF


def _check_table(table: int) -> None:
    if not 0 <= table <= _MAX_TABLE:
        raise FrameError(f"table number {table} does not fit 2 bytes")


# The guide does not say what Length means on a read (notes §15.4). 0x0200 is the value known
# to work on real meters (the community firmware after its "0x0C on all packages" fix).
FULL_READ_LENGTH = 0x0200


@dataclass(frozen=True)
class FullRead:
    """0x30: `30 TT TT LL LL`. MEP keeps the 2-byte Length that optical C12.18 lacks (p.12).

    A full read returns the whole table, so use it only on tables known to fit in 465 bytes;
    the read planner never uses it for BT23 or BT28.
    """

    table: int
    length: int = FULL_READ_LENGTH
    code = RequestCode.FULL_READ

    def __post_init__(self) -> None:
        _check_table(self.table)
        if not 0 <= self.length <= 0xFFFF:
            raise FrameError(f"full read length {self.length} does not fit 2 bytes")

    def message(self) -> bytes:
        return struct.pack(">BHH", self.code, self.table, self.length)


@dataclass(frozen=True)
class PartialRead:
    """0x3F: `3F TT TT OO OO OO CC CC` (p.12)."""

    table: int
    offset: int
    count: int
    code = RequestCode.PARTIAL_READ

    def __post_init__(self) -> None:
        _check_table(self.table)
        if not 0 <= self.offset <= _MAX_OFFSET:
            raise FrameError(f"offset {self.offset} does not fit 3 bytes")
        if not 1 <= self.count <= MAX_READ_COUNT:
            raise FrameError(
                f"a read returns 1 to {MAX_READ_COUNT} bytes (p.8: 476-byte frames), "
                f"not {self.count}"
            )

    def message(self) -> bytes:
        return (
            struct.pack(">BH", self.code, self.table)
            + self.offset.to_bytes(3, "big")
            + (self.count.to_bytes(2, "big"))
        )


@dataclass(frozen=True)
class FullWrite:
    """0x40: `40 TT TT LL LL data` (p.12)."""

    table: int
    data: bytes = field(repr=False)
    code = RequestCode.FULL_WRITE

    def __post_init__(self) -> None:
        _check_table(self.table)
        if len(self.data) > MAX_FULL_WRITE_BYTES:
            raise FrameError(f"a full write carries at most {MAX_FULL_WRITE_BYTES} bytes")

    def message(self) -> bytes:
        return struct.pack(">BHH", self.code, self.table, len(self.data)) + self.data


@dataclass(frozen=True)
class PartialWrite:
    """0x4F: `4F TT TT OO OO OO LL LL data` (p.12); at most 456 data bytes (p.44)."""

    table: int
    offset: int
    data: bytes = field(repr=False)
    code = RequestCode.PARTIAL_WRITE

    def __post_init__(self) -> None:
        _check_table(self.table)
        if not 0 <= self.offset <= _MAX_OFFSET:
            raise FrameError(f"offset {self.offset} does not fit 3 bytes")
        if len(self.data) > MAX_PARTIAL_WRITE_BYTES:
            raise FrameError(f"a partial write carries at most {MAX_PARTIAL_WRITE_BYTES} bytes")

    def message(self) -> bytes:
        head = struct.pack(">BH", self.code, self.table) + self.offset.to_bytes(3, "big")
        return head + len(self.data).to_bytes(2, "big") + self.data


Request = FullRead | PartialRead | FullWrite | PartialWrite
READ_REQUESTS = (FullRead, PartialRead)


def parse_request_message(message: bytes) -> Request:
    """The C12.18 request inside a frame (code .. data, without seq and digest)."""
    if not message:
        raise FrameError("empty request message")
    code, rest = message[0], message[1:]
    try:
        if code == RequestCode.FULL_READ and len(rest) == 4:
            table, length = struct.unpack(">HH", rest)
            return FullRead(table, length)
        if code == RequestCode.PARTIAL_READ and len(rest) == 7:
            return PartialRead(
                int.from_bytes(rest[:2], "big"),
                int.from_bytes(rest[2:5], "big"),
                int.from_bytes(rest[5:7], "big"),
            )
        if code == RequestCode.FULL_WRITE and len(rest) >= 4:
            table, length = struct.unpack(">HH", rest[:4])
            if length != len(rest) - 4:
                raise FrameError("full write length does not match its data")
            return FullWrite(table, rest[4:])
        if code == RequestCode.PARTIAL_WRITE and len(rest) >= 7:
            length = int.from_bytes(rest[5:7], "big")
            if length != len(rest) - 7:
                raise FrameError("partial write length does not match its data")
            return PartialWrite(
                int.from_bytes(rest[:2], "big"), int.from_bytes(rest[2:5], "big"), rest[7:]
            )
    except FrameError:
        raise
    raise FrameError(f"request code 0x{code:02X} with {len(rest)} bytes is not a MEP request")


@dataclass(frozen=True)
class SignedRequest:
    """A request as sent: its plaintext code..seq span, digest and wire bytes."""

    request: Request
    sequence: int
    key: MepKey
    signed: bytes = field(repr=False)  # code .. seq, plaintext: what both digests start with
    digest: bytes = field(repr=False)
    frame: bytes = field(repr=False)  # LEN | (encrypted) message+seq | digest
    encrypted: bool = False

    def rc4(self) -> Rc4Exchange:
        return Rc4Exchange(self.key.secret, self.digest, len(self.signed))


def sign_request(
    request: Request, sequence: int, key: MepKey, *, encrypt: bool = False
) -> SignedRequest:
    """Frame `request` with its sequence number and digest; optionally RC4-encrypt it (p.11)."""
    if not 0 <= sequence < SEQUENCE_MODULUS:
        raise FrameError(f"sequence number {sequence} does not fit 4 bytes")
    signed = request.message() + sequence.to_bytes(SEQUENCE_BYTES, "big")
    request_digest = digest(key.secret, signed)  # p.11: over the plaintext
    body = signed
    if encrypt:
        body = Rc4Exchange(key.secret, request_digest, len(signed)).request(signed)
    size = len(body) + DIGEST_BYTES
    if size > MAX_MESSAGE_BYTES:
        raise FrameError(f"request of {size} bytes exceeds {MAX_MESSAGE_BYTES} (p.8)")
    frame = size.to_bytes(LENGTH_BYTES, "big") + body + request_digest
    return SignedRequest(request, sequence, key, signed, request_digest, frame, encrypt)


@dataclass(frozen=True)
class Response:
    """A verified 0x00 response. `data` is the table data of a read, empty for a write."""

    code: ResponseCode
    data: bytes = field(repr=False)


def verify_response(request: SignedRequest, body: bytes) -> Response:
    """Check a response body (message + digest) against the request it answers.

    Returns only verified ok responses; every other outcome raises: DigestError for a digest
    that fails, AuthenticationError for 0x0B, SequenceError for a verified 0x0C, ResponseError
    for the other codes, FrameError for a malformed body.
    """
    if not body:
        raise FrameError("empty response")
    cipher = request.rc4() if request.encrypted else None
    # p.256: 0x0B is never encrypted, and the meter may not know which key to sign it with;
    # accept it bare or with 8 digest bytes. Only an encrypted response that verifies can
    # start with a ciphertext byte of 0x0B.
    if (
        body[0] == ResponseCode.AUTHENTICATION_FAILURE
        and len(body) in (1, 1 + DIGEST_BYTES)
        and not (cipher and len(body) > 1 and _digest_matches(request, body, cipher))
    ):
        raise AuthenticationError(ResponseCode.AUTHENTICATION_FAILURE)
    if len(body) < 1 + DIGEST_BYTES:
        raise FrameError(f"a {len(body)}-byte response is too short to carry a digest")
    if not _digest_matches(request, body, cipher):
        raise DigestError("response digest does not verify against the request it answers")
    message = body[:-DIGEST_BYTES]
    plain = cipher.response(message) if cipher else message
    return _interpret(request, plain)


def _digest_matches(request: SignedRequest, body: bytes, cipher: Rc4Exchange | None) -> bool:
    message, received = body[:-DIGEST_BYTES], body[-DIGEST_BYTES:]
    plain = cipher.response(message) if cipher else message
    # p.250-251: response digest = digest(request code..seq || response code..data).
    return digest(request.key.secret, request.signed + plain) == received


def _interpret(request: SignedRequest, plain: bytes) -> Response:
    try:
        code = ResponseCode(plain[0])
    except ValueError:
        raise FrameError(f"unknown response code 0x{plain[0]:02X}") from None
    payload = plain[1:]
    if code is ResponseCode.OK:
        if isinstance(request.request, READ_REQUESTS):
            return Response(code, _read_data(request.request, payload))
        if payload:
            raise FrameError("a write response carries no data (p.10)")
        return Response(code, b"")
    if code is ResponseCode.INVALID_SEQUENCE_NUMBER:
        if len(payload) != SEQUENCE_BYTES:
            raise FrameError("a 0x0C response carries exactly a 4-byte sequence number")
        raise SequenceError(code, int.from_bytes(payload, "big"))
    if payload:
        raise FrameError(f"response {code.describe()} carries unexpected data")
    if code is ResponseCode.AUTHENTICATION_FAILURE:
        raise AuthenticationError(code)
    raise ResponseError(code)


def _read_data(request: FullRead | PartialRead, payload: bytes) -> bytes:
    if len(payload) < 2:
        raise FrameError("a read response lacks its 2-byte count")
    count = int.from_bytes(payload[:2], "big")
    data = payload[2:]
    if count != len(data):
        raise FrameError(f"read response announces {count} bytes but carries {len(data)}")
    if isinstance(request, PartialRead) and count > request.count:
        raise FrameError(f"asked for {request.count} bytes, meter sent {count}")
    return data


# --- the meter's side -------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedFrame:
    """A request frame whose digest verified: enough for the meter to sign its answer."""

    key: MepKey
    signed: bytes = field(repr=False)  # plaintext code .. seq
    digest: bytes = field(repr=False)
    encrypted: bool

    def rc4(self) -> Rc4Exchange:
        return Rc4Exchange(self.key.secret, self.digest, len(self.signed))


@dataclass(frozen=True)
class ReceivedRequest(VerifiedFrame):
    """A request the meter has verified and understood."""

    request: Request
    sequence: int


class UnrecognizedRequestError(FrameError):
    """The digest verified but the message is no MEP request; the meter answers 0x01, signed."""

    def __init__(self, verified: VerifiedFrame, problem: str) -> None:
        self.verified = verified
        super().__init__(problem)


def receive_request(body: bytes, keys: Sequence[MepKey]) -> ReceivedRequest:
    """Verify a request body (message + seq + digest) the way the meter does.

    p.13: the MAK is tried before the MBK. p.11: if the clear bytes do not verify, the meter
    tries once more after RC4-decrypting them with the packet key of the received digest.
    Raises AuthenticationError when no key verifies, FrameError when the body is too short,
    UnrecognizedRequestError when it verifies but holds no MEP request.
    """
    if len(body) < 1 + SEQUENCE_BYTES + DIGEST_BYTES:
        raise FrameError(f"a {len(body)}-byte request cannot hold code, sequence and digest")
    span, received = body[:-DIGEST_BYTES], body[-DIGEST_BYTES:]
    ordered = sorted(keys, key=lambda key: key.key_id, reverse=True)
    for key in ordered:
        for encrypted in (False, True):
            signed = (
                Rc4Exchange(key.secret, received, len(span)).request(span) if encrypted else span
            )
            if digest(key.secret, signed) == received:
                verified = VerifiedFrame(key, signed, received, encrypted)
                try:
                    request = parse_request_message(signed[:-SEQUENCE_BYTES])
                except FrameError as problem:
                    raise UnrecognizedRequestError(verified, str(problem)) from None
                sequence = int.from_bytes(signed[-SEQUENCE_BYTES:], "big")
                return ReceivedRequest(key, signed, received, encrypted, request, sequence)
    raise AuthenticationError(ResponseCode.AUTHENTICATION_FAILURE)


def encode_response(received: VerifiedFrame, message: bytes) -> bytes:
    """The meter's response frame to a verified request: signed, and encrypted if it was."""
    response_digest = digest(received.key.secret, received.signed + message)
    body = received.rc4().response(message) if received.encrypted else message
    size = len(body) + DIGEST_BYTES
    if size > MAX_MESSAGE_BYTES:
        raise FrameError(f"response of {size} bytes exceeds {MAX_MESSAGE_BYTES} (p.8)")
    return size.to_bytes(LENGTH_BYTES, "big") + body + response_digest


def authentication_failure_frame() -> bytes:
    """0x0B as the meter sends it: never encrypted (p.256); sent bare, since no key verified."""
    return b"\x00\x01" + bytes([ResponseCode.AUTHENTICATION_FAILURE])


def ok_read_message(data: bytes) -> bytes:
    return bytes([ResponseCode.OK]) + len(data).to_bytes(2, "big") + data


def sequence_error_message(expected: int) -> bytes:
    return bytes([ResponseCode.INVALID_SEQUENCE_NUMBER]) + expected.to_bytes(SEQUENCE_BYTES, "big")
