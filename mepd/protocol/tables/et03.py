"""ET03 Utility Information (0x0803; p.55-56): the utility serial number, no key needed."""

from __future__ import annotations

from dataclasses import dataclass

from mepd.protocol.errors import DecodeError
from mepd.protocol.tables._wire import decode_chars, encode_chars, require_at_least, uint

TABLE = "ET03"
SERIAL_BYTES = 30  # ARRAY[30] OF CHAR, NUL-terminated
IMAGE_CRC_OFFSET = 137  # UINT16, LSB first (p.56)
ET03_SIZE = 143  # p.56: reserved "138..142" after the CRC (garbled: the CRC spans 137-138)


@dataclass(frozen=True)
class UtilityInformation:
    serial_number: str
    image_crc: int | None = None  # legally relevant image CRC, if the read reached byte 138


def decode_et03(data: bytes) -> UtilityInformation:
    """Read from offset 0: 30 bytes give the serial number, 139 or more add the image CRC."""
    data = bytes(data)
    require_at_least(TABLE, data, SERIAL_BYTES, "utility serial number")
    crc_end = IMAGE_CRC_OFFSET + 2
    if IMAGE_CRC_OFFSET < len(data) < crc_end:
        raise DecodeError(f"{TABLE}: {len(data)} bytes end inside the image CRC (137-138)")
    crc = uint(data, IMAGE_CRC_OFFSET, 2) if len(data) >= crc_end else None
    return UtilityInformation(decode_chars(data[:SERIAL_BYTES]), crc)


def encode_et03(info: UtilityInformation) -> bytes:
    """30 bytes, or the whole 143-byte table when there is an image CRC."""
    serial = encode_chars(info.serial_number, SERIAL_BYTES, "ET03 serial number", pad=b"\x00")
    if info.image_crc is None:
        return serial
    if not 0 <= info.image_crc <= 0xFFFF:
        raise ValueError(f"ET03 image CRC {info.image_crc} is not a UINT16")
    table = bytearray(ET03_SIZE)
    table[:SERIAL_BYTES] = serial
    table[IMAGE_CRC_OFFSET : IMAGE_CRC_OFFSET + 2] = info.image_crc.to_bytes(2, "little")
    return bytes(table)
