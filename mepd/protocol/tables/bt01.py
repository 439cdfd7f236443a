"""BT01 General Manufacturer Information (0x0001; p.198-199, OPG p.19).

Bytes 14-15 are the one packed field in table data with its MSB first (OPG p.19: "offset 14
is MSB"): x.yy.zz in bits 15-12, 11-5, 4-0; 0x3155 = 3.10.21 (p.199). Printing byte 14 "."
byte 15 gives a wrong version.
"""

from __future__ import annotations

from dataclasses import dataclass

from mepd.protocol.errors import DecodeError
from mepd.protocol.tables._wire import decode_chars, encode_chars, require_at_least

TABLE = "BT01"
BT01_MIN_SIZE = 16  # through the firmware version
SERIAL_OFFSET = 16
SERIAL_BYTES = 8  # OPG p.19: ARRAY[16] OF BCD, "Field is 8 bytes in length"
BT01_SIZE = SERIAL_OFFSET + SERIAL_BYTES


@dataclass(frozen=True, order=True)
class FirmwareVersion:
    """x.yy.zz (p.199); orders like versions do, so `fw >= FirmwareVersion(4, 0, 0)` works."""

    major: int  # bits 15-12
    minor: int  # bits 11-5
    patch: int  # bits 4-0, "build"

    @classmethod
    def from_packed(cls, packed: int) -> FirmwareVersion:
        return cls(packed >> 12 & 0x0F, packed >> 5 & 0x7F, packed & 0x1F)

    @property
    def packed(self) -> int:
        if not (0 <= self.major < 16 and 0 <= self.minor < 128 and 0 <= self.patch < 32):
            raise ValueError(f"firmware version {self!r} does not fit x.yy.zz packing")
        return self.major << 12 | self.minor << 5 | self.patch

    def __str__(self) -> str:
        return f"{self.major}.{self.minor:02d}.{self.patch:02d}"


@dataclass(frozen=True)
class ManufacturerInfo:
    manufacturer: str
    model: str
    hardware_version: int  # byte 12 (OPG p.19); "Reserved" in the MEP guide
    hardware_revision: int  # byte 13
    firmware: FirmwareVersion  # bytes 14-15, legally relevant firmware
    serial_number: str | None = None  # bytes 16-23 as 16 BCD digits, if read

    @property
    def hardware_packed(self) -> int:
        """Bytes 12-13 as one MSB-first value (OPG p.19 describes them as packed too)."""
        return self.hardware_version << 8 | self.hardware_revision


def decode_bt01(data: bytes) -> ManufacturerInfo:
    """16 bytes give everything but the serial number; 24 or more add it (OPG p.19)."""
    data = bytes(data)
    require_at_least(TABLE, data, BT01_MIN_SIZE, "manufacturer, model, versions")
    if BT01_MIN_SIZE < len(data) < BT01_SIZE:
        raise DecodeError(
            f"{TABLE}: expected {BT01_MIN_SIZE} or at least {BT01_SIZE} bytes "
            f"(serial number is {SERIAL_BYTES} BCD bytes), got {len(data)}"
        )
    serial = None
    if len(data) >= BT01_SIZE:
        # BCD, high nibble first; non-decimal nibbles (filler) show as hex digits.
        serial = data[SERIAL_OFFSET:BT01_SIZE].hex().upper()
    return ManufacturerInfo(
        manufacturer=decode_chars(data[0:4]),
        model=decode_chars(data[4:12]),
        hardware_version=data[12],
        hardware_revision=data[13],
        firmware=FirmwareVersion.from_packed(data[14] << 8 | data[15]),
        serial_number=serial,
    )


def encode_bt01(info: ManufacturerInfo) -> bytes:
    head = (
        encode_chars(info.manufacturer, 4, "BT01 manufacturer")
        + encode_chars(info.model, 8, "BT01 model")
        + bytes((info.hardware_version, info.hardware_revision))
        + info.firmware.packed.to_bytes(2, "big")  # OPG p.19: offset 14 is MSB
    )
    if info.serial_number is None:
        return head
    try:
        serial = bytes.fromhex(info.serial_number)
    except ValueError as error:
        raise ValueError(f"BT01 serial {info.serial_number!r} is not BCD digits") from error
    if len(serial) != SERIAL_BYTES:
        raise ValueError(f"BT01 serial {info.serial_number!r} is not {2 * SERIAL_BYTES} digits")
    return head + serial
