"""CRC-16/X-25 (HDLC FCS), the C12.18 packet check (notes §2.6).

Reflected polynomial 0x8408, init 0xFFFF, final XOR 0xFFFF; it covers every byte from `EE` to
the last data byte and goes on the wire low byte first. `binascii.crc_hqx` is the non-reflected
CCITT CRC and gives other values: do not use it here.
"""

from __future__ import annotations

_POLY = 0x8408
_INIT = 0xFFFF
_XOR_OUT = 0xFFFF
# A valid packet with its 2 CRC bytes run through the CRC gives this residue (notes §9.1).
GOOD_RESIDUE = 0x0F47


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        reg = byte
        for _ in range(8):
            reg = (reg >> 1) ^ _POLY if reg & 1 else reg >> 1
        table.append(reg)
    return tuple(table)


_TABLE = _table()


def crc16_x25(data: bytes) -> int:
    """The CRC value of `data` (check value of b"123456789" is 0x906E)."""
    reg = _INIT
    for byte in data:
        reg = (reg >> 8) ^ _TABLE[(reg ^ byte) & 0xFF]
    return reg ^ _XOR_OUT


def crc_bytes(data: bytes) -> bytes:
    """The two CRC bytes as they follow `data` on the wire: low byte first (notes §2.6)."""
    return crc16_x25(data).to_bytes(2, "little")
