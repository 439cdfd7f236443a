"""The simulated meter's request handling: one verified frame in, one response frame out.

Pure: no clock, no port. The caller passes the physics time `t` and the host time `now`
(for the served history); `handle` returns the response frame, or None for no answer.

Behaviours the guide leaves open, and what this meter does:

- Over-size full read (p.8: a response holds at most 476 bytes, so at most 465 table bytes;
  notes §11): 0x04 "requested operation not possible". The request is well formed, the table
  exists and the key may read it, so it is neither 0x01/0x02 (request), 0x03 (permission)
  nor 0x05 (the guide's meters answer 0x05, C12.18 "inappropriate action requested", for a
  table that does not exist: p.212-213, OPG p.26). The operation itself cannot be done in one
  frame, which is what 0x04 says. The `reject_bt23_full_read` fault answers the same.
- The Length of a full read (p.12) is not interpreted: a table that fits is returned whole.
- Partial read past the end: the bytes past the end read as zeros, no error (notes §1.2,
  OPG p.9: what the optical port does, and what clients reading ET11 to 38 rely on).
- Unknown table (and ET70 on fw 3.x, p.173 "N/A"): 0x05, as for a table that does not exist.
- Bad digest: a bare 0x0B frame `00 01 0B`, never encrypted (p.256); no key verified, so there
  is nothing to sign with (notes §1.3).
- A request whose digest verified but whose message does not parse: 0x01 (unrecognized
  request), signed with the key that verified it (and encrypted if the request was).
- A body too short to hold code, sequence and digest: 0x0B, like any failed integrity check.
- Sequence (p.11): a number 1..8 past the last accepted one is accepted and becomes the last;
  anything else earns 0x0C carrying the last accepted number N, signed (and encrypted if the
  request was), so N+1 is the next number accepted (p.15-16).

TLS mode (`enable_tls`, p.8-9; details in `tls.py`):

- A frame whose code is 0x57/0x58/0x59/0x80 goes to the TLS side, unless it verifies as an
  RC4 request (an RC4-encrypted frame can start with any byte).
- RC4 requests get a bare 0x0B when the port requires TLS, and while a TLS session is started
  (p.8: "no RC4 messages will be accepted unless the TLS session is terminated"). 0x0B is what
  a client sees from a meter that refuses RC4 (notes §13: "a persistent 0x0B means a wrong
  key, a port that requires TLS, or a corrupted link").
- Inside TLS the C12.18 request has no sequence number or digest (p.15); the meter serves it
  with the access of the key the PSK identity named.
"""

from __future__ import annotations

import dataclasses
import random
import struct
from dataclasses import dataclass

from mepd.drivers.simulator.history import ServedHistory, ServedReading
from mepd.drivers.simulator.physics import PhysicsModel, Truth
from mepd.drivers.simulator.profiles import MeterProfile
from mepd.drivers.simulator.stats import NOT_A_READ, LinkStats
from mepd.drivers.simulator.tables import (
    BT07,
    BT08,
    BT23,
    BT28,
    ET59,
    MAK_WRITABLE,
    MBK_WRITABLE,
    LiveState,
    MeterTables,
)
from mepd.drivers.simulator.tls import MeterTls, ServerFactory
from mepd.protocol.codes import ResponseCode
from mepd.protocol.errors import AuthenticationError, FrameError
from mepd.protocol.frames import (
    MAX_READ_COUNT,
    SEQUENCE_MODULUS,
    FullRead,
    FullWrite,
    PartialRead,
    PartialWrite,
    Request,
    UnrecognizedRequestError,
    authentication_failure_frame,
    encode_response,
    ok_read_message,
    parse_request_message,
    receive_request,
    sequence_error_message,
)
from mepd.protocol.keys import KeyId, MepKey
from mepd.protocol.procedures import PSN_RANGE
from mepd.protocol.sequence import IDT_CHANGE_JUMP, in_window
from mepd.protocol.tls.codes import TLS_REQUEST_CODES, parse_tls_request

# The smallest body receive_request can verify: code, seq, digest.
# p.51-53: procedures a MEP client may call with the MBK, plus EP61 (p.247).
_KNOWN_PROCEDURES = frozenset({2048 + 16, 2048 + 17, 2048 + 39, 2048 + 61})


@dataclass(frozen=True)
class MeterKeys:
    """The keys the meter is configured with (p.13). Repr never shows them."""

    mbk: MepKey
    mak: MepKey | None = None

    def as_list(self) -> list[MepKey]:
        return [key for key in (self.mak, self.mbk) if key is not None]

    def mismatched(self) -> MeterKeys:
        """Keys a client holding these cannot match: the key-mismatch fault."""

        def other(key: MepKey) -> MepKey:
            return MepKey(bytes(b ^ 0x5A for b in key.secret), key.key_id)

        return MeterKeys(other(self.mbk), other(self.mak) if self.mak else None)


class Meter:
    """A meter's MEP server: keys, sequence number, IDT version, tables."""

    def __init__(
        self,
        profile: MeterProfile,
        keys: MeterKeys,
        physics: PhysicsModel,
        *,
        rng: random.Random,
        stats: LinkStats | None = None,
        history: ServedHistory | None = None,
    ) -> None:
        self.profile = profile
        self.keys = keys
        self.physics = physics
        self.tables = MeterTables(profile, physics)
        self.stats = stats or LinkStats()
        self.history = history if history is not None else ServedHistory()
        self.key_mismatch = False
        self.reject_bt23_full_read = False
        self.energy_offset_wh = 0  # a glitch: added to BT23's total import register
        # p.11: "no prior knowledge is needed"; a fresh meter is anywhere in the 32-bit space.
        self.sequence = rng.getrandbits(32)
        self.idt_version = 1
        self._last_psn: int | None = None
        self.tls: MeterTls | None = None
        self.requires_tls = False
        self.last_was_read = False  # the last handled request was a table read

    def enable_tls(self, factory: ServerFactory, *, required: bool = False) -> None:
        """Serve TLS mode (p.8); `required`: refuse RC4 requests as well (ET97, p.195)."""
        self.tls = MeterTls(factory, self._keys, self.stats)
        self.requires_tls = required

    def _keys(self) -> list[MepKey]:
        return (self.keys.mismatched() if self.key_mismatch else self.keys).as_list()

    # --- events the line layer or a test triggers ------------------------------------------

    def bump_idt_version(self) -> None:
        """p.55: ET04.116 increments and the sequence number jumps by 25."""
        self.idt_version = (self.idt_version + 1) & 0xFF
        self.advance_sequence(IDT_CHANGE_JUMP)
        self.stats.idt_bumps += 1

    def advance_sequence(self, steps: int) -> None:
        self.sequence = (self.sequence + steps) % SEQUENCE_MODULUS

    # --- requests ---------------------------------------------------------------------------

    def handle(self, body: bytes, t: float, now: float) -> bytes:
        """Answer one received frame body (message + seq + digest) at physics time `t`."""
        self.last_was_read = False
        self.stats.serving = NOT_A_READ
        keys = self._keys()
        if self.tls is not None and body[0] in TLS_REQUEST_CODES and not _is_rc4(body, keys):
            code, payload = parse_tls_request(body)
            return self.tls.handle(
                code, payload, lambda plain, key_id: self._serve_plain(plain, key_id, t, now)
            )
        if self.requires_tls or (self.tls is not None and self.tls.started):
            self.stats.rc4_refused += 1
            return authentication_failure_frame()
        return self._handle_rc4(body, keys, t, now)

    def _handle_rc4(self, body: bytes, keys: list[MepKey], t: float, now: float) -> bytes:
        try:
            received = receive_request(body, keys)
        except AuthenticationError:
            self.stats.authentication_failures += 1
            return authentication_failure_frame()
        except UnrecognizedRequestError as unrecognized:
            self.stats.unparseable_requests += 1
            return encode_response(unrecognized.verified, _code(ResponseCode.UNRECOGNIZED_REQUEST))
        except FrameError:
            # p.11: the digest doubles as the integrity check; a truncated frame fails it.
            self.stats.authentication_failures += 1
            return authentication_failure_frame()
        if not in_window(self.sequence, received.sequence):
            self.stats.sequence_errors += 1
            return encode_response(received, sequence_error_message(self.sequence))
        self.sequence = received.sequence
        self.stats.requests_handled += 1
        return encode_response(
            received, self._dispatch(received.request, received.key.key_id, t, now)
        )

    def _serve_plain(self, message: bytes, key_id: KeyId, t: float, now: float) -> bytes:
        """A C12.18 request from inside TLS (p.15: no sequence, no digest)."""
        try:
            request = parse_request_message(message)
        except FrameError:
            self.stats.unparseable_requests += 1
            return _code(ResponseCode.UNRECOGNIZED_REQUEST)
        self.stats.requests_handled += 1
        return self._dispatch(request, key_id, t, now)

    def _dispatch(self, request: Request, key_id: KeyId, t: float, now: float) -> bytes:
        if isinstance(request, FullRead | PartialRead):
            self.last_was_read = True
            return self._read(request, t, now)
        return self._write(request, key_id)

    def _read(self, request: FullRead | PartialRead, t: float, now: float) -> bytes:
        self.stats.serving = request.table
        truth = self.physics.truth_at(t)
        if self.energy_offset_wh and request.table == BT23:
            truth = with_import_offset(truth, self.energy_offset_wh)
        data = self.tables.read(request.table, truth, LiveState(self.sequence, self.idt_version))
        if data is None:
            return _code(ResponseCode.TABLE_OPERATION_NOT_POSSIBLE)
        if isinstance(request, FullRead):
            if len(data) > MAX_READ_COUNT or (request.table == BT23 and self.reject_bt23_full_read):
                return _code(ResponseCode.OPERATION_NOT_POSSIBLE)
        else:
            chunk = data[request.offset : request.offset + request.count]
            data = chunk + bytes(request.count - len(chunk))
        if request.table in (BT23, BT28):
            self.history.record(ServedReading(now, truth.wall, request.table, truth))
        return ok_read_message(data)

    def _write(self, request: FullWrite | PartialWrite, key_id: KeyId) -> bytes:
        writable = MAK_WRITABLE if key_id is KeyId.MAK else MBK_WRITABLE
        if not self.tables.exists(request.table):
            return _code(ResponseCode.TABLE_OPERATION_NOT_POSSIBLE)
        if request.table not in writable:
            return _code(ResponseCode.NO_PERMISSION)  # p.13, Appendix C
        offset = request.offset if isinstance(request, PartialWrite) else 0
        if request.table == BT07:
            return self._procedure(request.data)
        self.tables.write(request.table, offset, request.data)
        return _code(ResponseCode.OK)

    def _procedure(self, data: bytes) -> bytes:
        """p.51-53: BT07 = procedure (UINT16 LSB), PSN, parameters; result in BT08/ET59."""
        if len(data) < 3:
            return _code(ResponseCode.OPERATION_NOT_POSSIBLE)
        procedure, psn = struct.unpack_from("<HB", data)
        if psn == self._last_psn:
            return _code(ResponseCode.OPERATION_NOT_POSSIBLE)  # p.52: a repeated PSN
        self._last_psn = psn
        number = procedure & 0x0FFF
        # p.53, p.166: 0 completed, 5 no authorization (PSN outside 5..9), 6 unrecognized.
        result = 0 if number in _KNOWN_PROCEDURES else 6
        if psn not in PSN_RANGE:
            result = 5
        record = struct.pack("<HBB", number, psn, result) + bytes(12)
        for table in (BT08, ET59):
            self.tables.write(table, 0, record)
        return _code(ResponseCode.OK)

    def truth_at(self, t: float) -> Truth:
        return self.physics.truth_at(t)


def with_import_offset(truth: Truth, offset_wh: int) -> Truth:
    """`truth` with the total import register off by `offset_wh` (never below 0): the
    `energy_offset_wh` fault, a meter that glitches or a decode layout gone stale."""
    energy = truth.energy
    glitched = dataclasses.replace(energy, forward_wh=max(0, energy.forward_wh + offset_wh))
    return dataclasses.replace(truth, energy=glitched)


def _code(code: ResponseCode) -> bytes:
    return bytes([code])


def _is_rc4(body: bytes, keys: list[MepKey]) -> bool:
    """Whether a frame starting with a TLS code verifies as an RC4 request after all."""
    try:
        receive_request(body, keys)
    except UnrecognizedRequestError:
        return True
    except (AuthenticationError, FrameError):
        return False
    return True
