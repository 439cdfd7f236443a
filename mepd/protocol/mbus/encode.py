"""EN 13757-3 encoders: the simulated sub-meters speak through these, the tests round-trip them.

Encoders raise `ValueError` on a value the chosen data field cannot hold, like the table
encoders.
"""

from __future__ import annotations

from datetime import datetime

from mepd.protocol.mbus import records, units

INTEGER_FIELDS = {1: 0x1, 2: 0x2, 3: 0x3, 4: 0x4, 6: 0x6, 8: 0x7}  # bytes -> data field
BCD_DIGIT_FIELDS = {2: 0x9, 4: 0xA, 6: 0xB, 8: 0xC, 12: 0xE}  # digits -> data field


def encode_record(
    vif: int, number: int, *, bcd_digits: int | None = None, size: int = 4, vifes: bytes = b""
) -> bytes:
    """One current record: DIF (storage 0, tariff 0, instantaneous), VIF(+VIFEs), data.

    `number` is the raw integer (the VIF gives its exponent); `bcd_digits` picks BCD (type A)
    instead of a signed binary integer of `size` bytes (type B).
    """
    if vifes:
        vif |= records.EXTENSION_BIT
        vifes = bytes(b | records.EXTENSION_BIT for b in vifes[:-1]) + vifes[-1:]
    if bcd_digits is not None:
        field = BCD_DIGIT_FIELDS[bcd_digits]
        data = units.encode_bcd(number, bcd_digits // 2)
    else:
        field = INTEGER_FIELDS[size]
        if not -(1 << (8 * size - 1)) <= number < (1 << (8 * size - 1)):
            raise ValueError(f"{number} does not fit a signed {size}-byte integer")
        data = number.to_bytes(size, "little", signed=True)
    return bytes((field, vif)) + vifes + data


def encode_date_time(moment: datetime) -> bytes:
    """A type F time point record (DIF 0x04, VIF 0x6D)."""
    year = moment.year - 2000
    if not 0 <= year <= 99:
        raise ValueError(f"year {moment.year} does not fit a type F date")
    value = moment.minute | moment.hour << 8 | moment.day << 16 | (year & 0x07) << 21
    value |= moment.month << 24 | (year >> 3) << 28
    return bytes((0x04, units.VIF_DATE_TIME)) + value.to_bytes(4, "little")


def encode_header(
    identity: records.DeviceIdentity, *, access_number: int, status: int = 0, signature: int = 0
) -> bytes:
    """The 12-byte fixed header; `identity.serial` is 8 decimal digits (BCD on the wire)."""
    serial = int(identity.serial, 16)  # "12345678" -> 0x12345678: the BCD bytes
    return (
        serial.to_bytes(4, "little")
        + identity.manufacturer_code.to_bytes(2, "little")
        + bytes((identity.version, identity.medium, access_number & 0xFF, status))
        + signature.to_bytes(2, "little")
    )


def identity(serial: int, manufacturer: str, version: int, medium: int) -> records.DeviceIdentity:
    if not 0 <= serial <= 99_999_999:
        raise ValueError(f"an M-Bus ID is 8 digits, not {serial}")
    code = units.encode_manufacturer(manufacturer)
    return records.DeviceIdentity(f"{serial:08d}", manufacturer, code, version, medium)
