"""ET16 MEP/M-Bus Device Data (0x0810; p.90-94), and the MEP Billing Read (MBR) it shares with
ET45 and ET74 (p.119-120, p.176).

ET16 holds one MBR per device, ET11.5 (517) bytes each, at a place that stays put while the
device is commissioned (p.26): the first read of a new device and every on-demand read. An
MBR is a time stamp (local time), a response info byte, then for the variable data structure
(CI = 0x72) one or more telegrams, each a length byte L and L bytes: the 12-byte EN 13757-3
header, the data records and a 0 terminator that L counts (p.92). The last telegram may be
cut at the entry's capacity (p.92): it is dropped and `incomplete` says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from mepd.protocol.errors import DecodeError
from mepd.protocol.frames import PartialRead
from mepd.protocol.mbus.records import (
    HEADER_BYTES,
    DeviceIdentity,
    SkipReason,
    Telegram,
    decode_telegram,
)
from mepd.protocol.tables._wire import (
    LTIME_DATE_BYTES,
    decode_optional_datetime,
    encode_optional_datetime,
    require_at_least,
    uint,
)
from mepd.protocol.tables.et14 import MBUS_SLOTS
from mepd.protocol.tables.ids import ET16
from mepd.protocol.tables.planning import plan_reads

TABLE = "ET16"
ENTRY_BYTES = 517  # ET11.5 (p.78)
MBR_PREFIX_BYTES = LTIME_DATE_BYTES + 1  # time stamp, response info; the first L follows
FIXED_TELEGRAM_BYTES = 16  # p.93: "should always be 16 for fixed data messages"
_TERMINATOR = 0


@dataclass(frozen=True)
class ResponseInfo:
    """p.91-92: how to read the M-Bus data that follows."""

    raw: int

    @property
    def msb_first(self) -> bool:
        return bool(self.raw & 0x01)  # Mode 2

    @property
    def fixed_structure(self) -> bool:
        return bool(self.raw & 0x02)  # CI = 0x73

    @property
    def key_available(self) -> bool:
        return bool(self.raw & 0x04)

    @property
    def authentication(self) -> int:
        """0 passed, 1 ID failure, 2 date failure, 3 passed with alternate date."""
        return (self.raw >> 3) & 0x03

    @property
    def security_failed(self) -> bool:
        return bool(self.raw & 0x20)


@dataclass(frozen=True)
class FixedTelegram:
    """CI = 0x73 (p.93-94): identity and two raw counters; the units are not decoded."""

    serial: str
    access_number: int
    status: int
    medium_unit: int
    counters: tuple[int, int]


@dataclass(frozen=True)
class BillingRead:
    """One MBR. No telegram: the slot has not been read yet (L = 0)."""

    timestamp: datetime | None  # local time of the read (p.91)
    info: ResponseInfo
    telegrams: tuple[Telegram, ...] = ()
    fixed: FixedTelegram | None = None
    incomplete: bool = False

    @property
    def telegram(self) -> Telegram | None:
        return self.telegrams[0] if self.telegrams else None

    @property
    def identity(self) -> DeviceIdentity | None:
        return self.telegram.identity if self.telegram else None


def decode_billing_read(data: bytes, *, table: str = TABLE) -> BillingRead:
    """An MBR from its first byte; bytes past its telegrams (unused entry space) are ignored."""
    require_at_least(table, data, MBR_PREFIX_BYTES + 1, "MBR time stamp, info and length")
    timestamp = decode_optional_datetime(table, data[:LTIME_DATE_BYTES])
    info = ResponseInfo(data[LTIME_DATE_BYTES])
    at = MBR_PREFIX_BYTES
    if info.fixed_structure:
        raw = data[at + 1 : at + 1 + FIXED_TELEGRAM_BYTES]
        if data[at] == 0:
            return BillingRead(timestamp, info)
        if len(raw) < FIXED_TELEGRAM_BYTES:
            raise DecodeError(f"{table}: a fixed data telegram is 16 bytes, got {len(raw)}")
        fixed = FixedTelegram(
            f"{uint(raw, 0, 4):08X}",
            raw[4],
            raw[5],
            uint(raw, 6, 2),
            (uint(raw, 8, 4), uint(raw, 12, 4)),
        )
        return BillingRead(timestamp, info, fixed=fixed)
    telegrams: list[Telegram] = []
    incomplete = False
    while at < len(data) and data[at]:
        length = data[at]
        body = data[at + 1 : at + 1 + length]
        if len(body) < length:
            incomplete = True
            break
        if length < HEADER_BYTES:
            raise DecodeError(f"{table}: a telegram of {length} bytes has no 12-byte header")
        if body[-1] == _TERMINATOR:
            body = body[:-1]
        telegrams.append(decode_telegram(body, skip_records=_skip(info, body)))
        at += 1 + length
    return BillingRead(timestamp, info, tuple(telegrams), incomplete=incomplete)


def _skip(info: ResponseInfo, telegram: bytes) -> SkipReason | None:
    if info.msb_first:
        return SkipReason.MODE2
    signature = uint(telegram, 10, 2) if len(telegram) >= HEADER_BYTES else 0
    if signature and not info.key_available:
        return SkipReason.ENCRYPTED
    return None


def encode_billing_read(
    timestamp: datetime | None, telegrams: Sequence[bytes], *, info: int = 0
) -> bytes:
    """An MBR: each telegram (header + records) gets its length byte and 0 terminator."""
    out = bytearray(encode_optional_datetime(timestamp, LTIME_DATE_BYTES, f"{TABLE} time stamp"))
    out.append(info)
    for telegram in telegrams:
        if len(telegram) + 1 > 0xFF:
            raise ValueError(f"a telegram of {len(telegram)} bytes does not fit a length byte")
        out += bytes((len(telegram) + 1,)) + telegram + bytes((_TERMINATOR,))
    return bytes(out)


# --- ET16, the table ---------------------------------------------------------------------------


def entry_offset(slot: int, entry_size: int = ENTRY_BYTES) -> int:
    if not 1 <= slot <= MBUS_SLOTS:
        raise ValueError(f"M-Bus slots are 1 to {MBUS_SLOTS}, not {slot}")
    return (slot - 1) * entry_size


def plan_et16(
    slot: int, *, used: int | None = None, entry_size: int = ENTRY_BYTES
) -> tuple[PartialRead, ...]:
    """One device's MBR: `used` bytes (ET14's billing read length, p.26 step 4) or all."""
    count = entry_size if not used else min(used, entry_size)
    return plan_reads(ET16, max(count, MBR_PREFIX_BYTES + 1), offset=entry_offset(slot, entry_size))


def decode_et16(data: bytes, *, entry_size: int = ENTRY_BYTES) -> tuple[BillingRead, ...]:
    """The M-Bus slots' MBRs of a read from offset 0 (MEP slots 5-6 have another layout)."""
    require_at_least(TABLE, data, entry_size, "one entry")
    whole = min(len(data) // entry_size, MBUS_SLOTS)
    return tuple(
        decode_billing_read(data[index * entry_size : (index + 1) * entry_size])
        for index in range(whole)
    )


def encode_et16(entries: Sequence[bytes], *, devices: int, entry_size: int = ENTRY_BYTES) -> bytes:
    """`devices` entries, the first ones the given MBRs (each padded to `entry_size`)."""
    out = bytearray()
    for index in range(devices):
        mbr = entries[index] if index < len(entries) else b""
        if len(mbr) > entry_size:
            raise ValueError(f"an MBR of {len(mbr)} bytes does not fit {entry_size}")
        out += mbr.ljust(entry_size, b"\x00")
    return bytes(out)
