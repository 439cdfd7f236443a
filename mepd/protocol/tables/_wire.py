"""Byte-level helpers shared by the table codecs.

Table data is LSB first (p.40); NI_FMAT1/NI_FMAT2 are INT32 (p.40, BT00.2 = 0x88 on p.197).
Decoders check sizes up front with `require_*`, so no slice below can come up short.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from mepd.protocol.errors import DecodeError

INT32_BYTES = 4
STIME_DATE_BYTES = 5  # p.41: YY MM DD hh mm
LTIME_DATE_BYTES = 6  # p.40: YY MM DD hh mm ss
TIME_BYTES = 3  # p.40: hh mm ss
# p.40: "2-digit year (02 = 2002)".
CENTURY = 2000


def require_size(table: str, data: bytes, expected: int, what: str = "") -> None:
    """Exactly `expected` bytes: a different size means the dimensions we decode by are stale."""
    if len(data) != expected:
        detail = f" ({what})" if what else ""
        raise DecodeError(f"{table}: expected {expected} bytes{detail}, got {len(data)}")


def require_at_least(table: str, data: bytes, minimum: int, what: str = "") -> None:
    if len(data) < minimum:
        detail = f" ({what})" if what else ""
        raise DecodeError(f"{table}: expected at least {minimum} bytes{detail}, got {len(data)}")


def int32(data: bytes, at: int) -> int:
    """NI_FMAT1/NI_FMAT2/INT32, LSB first (p.40)."""
    return int.from_bytes(data[at : at + INT32_BYTES], "little", signed=True)


def uint(data: bytes, at: int, size: int) -> int:
    """UINT8/16/32, LSB first (p.40)."""
    return int.from_bytes(data[at : at + size], "little")


def pack_int32(value: int, what: str) -> bytes:
    if not -(1 << 31) <= value < (1 << 31):
        raise ValueError(f"{what} = {value} does not fit an INT32")
    return value.to_bytes(INT32_BYTES, "little", signed=True)


def pack_uint(value: int, size: int, what: str) -> bytes:
    if not 0 <= value < (1 << (8 * size)):
        raise ValueError(f"{what} = {value} does not fit a UINT{8 * size}")
    return value.to_bytes(size, "little")


def pack_uint8s(values: tuple[int, ...], what: str) -> bytes:
    return b"".join(pack_uint(value, 1, what) for value in values)


def decode_chars(raw: bytes) -> str:
    """CHAR arrays: ASCII (BT00.0 char format 1, p.196); padding of NULs or spaces is dropped.

    Latin-1 maps every byte, so a meter with odd bytes in a name never breaks decoding.
    """
    return raw.split(b"\x00", 1)[0].decode("latin-1").strip()


def encode_chars(text: str, size: int, what: str, pad: bytes = b" ") -> bytes:
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError as error:
        raise ValueError(f"{what} {text!r} is not latin-1") from error
    if len(raw) > size:
        raise ValueError(f"{what} {text!r} is longer than {size} bytes")
    return raw.ljust(size, pad)


def decode_datetime(table: str, raw: bytes) -> datetime:
    """LTIME_DATE (6 bytes) or STIME_DATE (5 bytes, seconds = 0) as a naive datetime."""
    fields = list(raw) + [0] * (LTIME_DATE_BYTES - len(raw))
    year, month, day, hour, minute, second = fields
    try:
        return datetime(CENTURY + year, month, day, hour, minute, second)
    except ValueError as error:
        raise DecodeError(f"{table}: {raw.hex(' ')} is not a valid date and time") from error


def decode_optional_datetime(table: str, raw: bytes) -> datetime | None:
    """A time field of all zeros was never set (a demand never recorded, a device never read,
    no power cycle yet): None, not a decode error."""
    return decode_datetime(table, raw) if any(raw) else None


def encode_optional_datetime(moment: datetime | None, size: int, what: str) -> bytes:
    """`decode_optional_datetime`'s inverse: None is all zeros."""
    return bytes(size) if moment is None else encode_datetime(moment, size, what)


def encode_datetime(moment: datetime, size: int, what: str) -> bytes:
    if not CENTURY <= moment.year < CENTURY + 100:
        raise ValueError(f"{what} year {moment.year} does not fit a 2-digit year")
    fields: tuple[int, ...] = (
        moment.year - CENTURY,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
    )
    if size == LTIME_DATE_BYTES:
        fields += (moment.second,)
    elif moment.second:
        raise ValueError(f"{what} has seconds, which STIME_DATE cannot carry")
    return bytes(fields)


def decode_time(table: str, raw: bytes) -> timedelta:
    """TIME: hh mm ss (p.40), used as a duration (BT28 time remaining, p.215)."""
    hour, minute, second = raw
    if hour > 23 or minute > 59 or second > 59:
        raise DecodeError(f"{table}: {raw.hex(' ')} is not a valid TIME (hh mm ss)")
    return timedelta(hours=hour, minutes=minute, seconds=second)


def encode_time(span: timedelta, what: str) -> bytes:
    seconds = span.total_seconds()
    if span.microseconds or not 0 <= seconds < 24 * 3600:
        raise ValueError(f"{what} {span} does not fit a TIME (whole seconds under 24 h)")
    whole = int(seconds)
    return bytes((whole // 3600, whole // 60 % 60, whole % 60))
