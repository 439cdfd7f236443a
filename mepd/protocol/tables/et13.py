"""ET13 MEP/M-Bus Device Configuration (0x080D; p.80-83): only the MEP alert flags.

Entries of ET11.1 (66) bytes; entry 4 is MEP1, entry 5 MEP2 (Gen 4, p.23). A read-only client
looks at its own entry's Alert Flags (offset 8) to explain `00 00` alerts, and never acts on
them (notes §8: no EP39).
"""

from __future__ import annotations

from dataclasses import dataclass

from mepd.protocol.tables._window import Layout, Window

TABLE = "ET13"
ENTRY_BYTES = 66  # ET11.1 default (p.78)
_MEP1_ENTRY = 4
_ALERT_FLAGS = 8  # offset inside an entry


def alert_flags_offset(channel: int) -> int:
    """Table offset of the Alert Flags of MEP client `channel` (1 or 2): 272 or 338."""
    if channel not in (1, 2):
        raise ValueError(f"MEP channel is 1 or 2, not {channel}")
    return (_MEP1_ENTRY + channel - 1) * ENTRY_BYTES + _ALERT_FLAGS


@dataclass(frozen=True)
class AlertFlags:
    """p.82: why the meter sends alerts to this client."""

    raw: int
    scheduled_read: bool  # bit 0
    on_demand_request: bool  # bit 1: a request waits in ET15
    mbus_change: bool  # bit 3
    delta_data: bool  # bit 4


def decode_et13_alert_flags(
    data: bytes, *, channel: int = 1, offset: int | None = None
) -> AlertFlags:
    """`data` read at `offset` (default: a 1-byte read of the channel's flags)."""
    at = alert_flags_offset(channel)
    window = Window(TABLE, data, at if offset is None else offset, {at: 1})
    raw = window.uint(at, 1)
    assert raw is not None  # Window guarantees the only field is inside
    return AlertFlags(raw, bool(raw & 0x01), bool(raw & 0x02), bool(raw & 0x08), bool(raw & 0x10))


def encode_et13(devices: int, flags: dict[int, int] | None = None) -> bytes:
    """`devices` zeroed entries, with alert flags per channel set from `flags`."""
    table = Layout(TABLE, devices * ENTRY_BYTES)
    for channel, raw in (flags or {}).items():
        table.put_uint(alert_flags_offset(channel), 1, raw, "alert flags")
    return table.bytes()
