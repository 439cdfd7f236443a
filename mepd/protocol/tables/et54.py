"""ET54 Meter Status (0x0836; p.132-138): only the interface compatibility word.

A Gen 4 client reads it after ET70.142 = 1: bit 8, Multiple MEP Clients, clear means the meter
runs in backward-compatible single-MEP mode (p.23).
"""

from __future__ import annotations

from dataclasses import dataclass

from mepd.protocol.tables._window import Layout, Window

TABLE = "ET54"
INTERFACE_COMPATIBILITY = 0  # UINT16, LSB first
ET54_SIZE = 112
_MULTIPLE_MEP_CLIENTS = 1 << 8


@dataclass(frozen=True)
class InterfaceCompatibility:
    raw: int

    @property
    def multiple_mep_clients(self) -> bool:
        return bool(self.raw & _MULTIPLE_MEP_CLIENTS)


def decode_et54(data: bytes, *, offset: int = 0) -> InterfaceCompatibility:
    window = Window(TABLE, data, offset, {INTERFACE_COMPATIBILITY: 2})
    raw = window.uint(INTERFACE_COMPATIBILITY, 2)
    assert raw is not None  # Window guarantees the only field is inside
    return InterfaceCompatibility(raw)


def encode_et54(status: InterfaceCompatibility, size: int = ET54_SIZE) -> bytes:
    table = Layout(TABLE, size)
    table.put_uint(INTERFACE_COMPATIBILITY, 2, status.raw, "interface compatibility")
    return table.bytes()
