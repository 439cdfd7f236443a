"""ET04 System Information (0x0804; p.56-67): the fields a read-only client uses.

ET04 is long and mostly irrelevant; read only the fields you need with partial reads and
pass the read's table offset: `decode_et04(data, offset=116)` on a 1-byte read gives the IDT
version and leaves every other field None. A field is decoded iff it lies wholly inside the
data; data holding no field at all is a DecodeError.
"""

from __future__ import annotations

from dataclasses import dataclass

from mepd.protocol.tables._window import Layout, Window
from mepd.protocol.tables.measurements import scaled

TABLE = "ET04"
RATED_FREQUENCY = 13  # UINT8, Hz (p.58)
PROGRAM_ID = 14  # ARRAY[8] of UINT8: re-read "P" dimensions when it changes (p.55)
PROGRAM_ID_BYTES = 8
MAX_TE_REGISTERS = 55  # UINT8; the ET53 example reads it (p.50)
REGISTRATION_CURRENT = 56  # UINT16, mA
MAX_CURRENT = 58  # UINT16, A
RATED_VOLTAGE = 60  # UINT16, V
IDT_VERSION = 116  # UINT8: increments when tables' layout may have changed (p.65)
SECURITY_MODE = 127  # UINT8: 0 RC4, 2 OSGP-AES-128-PSK (p.66)
ET04_SIZE = SECURITY_MODE + 1  # what encode_et04 builds by default: through the fields above

_FIELDS = {
    RATED_FREQUENCY: 1,
    PROGRAM_ID: PROGRAM_ID_BYTES,
    MAX_TE_REGISTERS: 1,
    REGISTRATION_CURRENT: 2,
    MAX_CURRENT: 2,
    RATED_VOLTAGE: 2,
    IDT_VERSION: 1,
    SECURITY_MODE: 1,
}


@dataclass(frozen=True)
class SystemInformation:
    rated_frequency: float | None = None  # Hz
    program_id: bytes | None = None
    max_te_registers: int | None = None
    registration_current: float | None = None  # A (the table holds mA)
    max_current: float | None = None  # A
    rated_voltage: float | None = None  # V
    idt_version: int | None = None
    security_mode: int | None = None


def _scaled(raw: int | None, scale: float) -> float | None:
    return None if raw is None else scaled(raw, scale)


def decode_et04(data: bytes, *, offset: int = 0) -> SystemInformation:
    window = Window(TABLE, data, offset, _FIELDS)
    return SystemInformation(
        rated_frequency=_scaled(window.uint(RATED_FREQUENCY, 1), 1),
        program_id=window.raw(PROGRAM_ID, PROGRAM_ID_BYTES),
        max_te_registers=window.uint(MAX_TE_REGISTERS, 1),
        registration_current=_scaled(window.uint(REGISTRATION_CURRENT, 2), 0.001),
        max_current=_scaled(window.uint(MAX_CURRENT, 2), 1),
        rated_voltage=_scaled(window.uint(RATED_VOLTAGE, 2), 1),
        idt_version=window.uint(IDT_VERSION, 1),
        security_mode=window.uint(SECURITY_MODE, 1),
    )


def _unscaled(value: float | None, scale: float) -> int | None:
    return None if value is None else round(value / scale)


def encode_et04(info: SystemInformation, size: int = ET04_SIZE) -> bytes:
    """The table from offset 0, `size` bytes; absent fields (and all others) are zeros."""
    table = Layout(TABLE, size)
    table.put_uint(RATED_FREQUENCY, 1, _unscaled(info.rated_frequency, 1), "rated frequency")
    if info.program_id is not None:
        if len(info.program_id) != PROGRAM_ID_BYTES:
            raise ValueError(f"ET04 program id is {PROGRAM_ID_BYTES} bytes")
        table.put(PROGRAM_ID, info.program_id)
    table.put_uint(MAX_TE_REGISTERS, 1, info.max_te_registers, "max TE registers")
    table.put_uint(
        REGISTRATION_CURRENT, 2, _unscaled(info.registration_current, 0.001), "registration"
    )
    table.put_uint(MAX_CURRENT, 2, _unscaled(info.max_current, 1), "max current")
    table.put_uint(RATED_VOLTAGE, 2, _unscaled(info.rated_voltage, 1), "rated voltage")
    table.put_uint(IDT_VERSION, 1, info.idt_version, "IDT version")
    table.put_uint(SECURITY_MODE, 1, info.security_mode, "security mode")
    return table.bytes()
