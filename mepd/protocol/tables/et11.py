"""ET11 MFG Dimension Table (0x080B; p.77-80): sizes of the MEP tables, all VCI "P".

UINT16 fields are LSB first like all table data: the ET53 example (p.49) returns ET11.5 as
`05 02` = 517. Fields 32+ exist on fw 4.0+ only, 38 on 4.30+; a read of the first 10 bytes
(as in that example) decodes fields 0-8 and leaves the rest None. Pass `offset` for reads that
do not start at 0.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from mepd.protocol.tables._window import Layout, Window

TABLE = "ET11"
ET11_SIZE = 39  # through the error/caution screen count (fw 4.30+, p.80)

# name: (offset, size), p.77-80
_LAYOUT: dict[str, tuple[int, int]] = {
    "number_of_devices": (0, 1),  # 5 on Gen 3, 6 on Gen 4
    "config_entry_size": (1, 1),  # ET13 entry
    "status_entry_size": (2, 1),  # ET14 entry
    "on_demand_queue_size": (3, 1),
    "on_demand_entry_size": (4, 1),  # ET15 entry
    "data_entry_size": (5, 2),  # ET16 entry
    "transaction_request_length": (7, 2),  # ET52
    "transaction_response_length": (9, 2),  # ET53
    "on_demand_write_entry_size": (11, 1),
    "phase_data_size": (12, 1),
    "config_entry2_size": (13, 1),  # ET34 entry
    "group_ids": (18, 1),
    "harmonics": (19, 1),
    "mbus_multicast_length": (20, 1),
    "et22_alarm_size": (21, 1),
    "mep_data_sources": (22, 1),  # N in ET50
    "et48_entry_count": (23, 1),
    "critical_event_bitmaps": (24, 1),
    "et57_entry_count": (25, 1),
    "relay_switches": (26, 1),
    "data_alert_sources": (27, 1),  # ET71
    "ram_transaction_request_length": (28, 2),
    "ram_transaction_response_length": (30, 2),
    "mep_channel_count": (34, 1),  # fw 4.0+
    "error_screen_count": (38, 1),  # fw 4.30+
}


@dataclass(frozen=True)
class MfgDimensions:
    number_of_devices: int | None = None
    config_entry_size: int | None = None
    status_entry_size: int | None = None
    on_demand_queue_size: int | None = None
    on_demand_entry_size: int | None = None
    data_entry_size: int | None = None
    transaction_request_length: int | None = None
    transaction_response_length: int | None = None
    on_demand_write_entry_size: int | None = None
    phase_data_size: int | None = None
    config_entry2_size: int | None = None
    group_ids: int | None = None
    harmonics: int | None = None
    mbus_multicast_length: int | None = None
    et22_alarm_size: int | None = None
    mep_data_sources: int | None = None
    et48_entry_count: int | None = None
    critical_event_bitmaps: int | None = None
    et57_entry_count: int | None = None
    relay_switches: int | None = None
    data_alert_sources: int | None = None
    ram_transaction_request_length: int | None = None
    ram_transaction_response_length: int | None = None
    mep_channel_count: int | None = None
    error_screen_count: int | None = None


assert [f.name for f in fields(MfgDimensions)] == list(_LAYOUT)


def decode_et11(data: bytes, *, offset: int = 0) -> MfgDimensions:
    window = Window(TABLE, data, offset, dict(_LAYOUT.values()))
    values = {name: window.uint(at, size) for name, (at, size) in _LAYOUT.items()}
    return MfgDimensions(**values)


def encode_et11(dims: MfgDimensions, size: int = ET11_SIZE) -> bytes:
    table = Layout(TABLE, size)
    for name, (at, width) in _LAYOUT.items():
        value = getattr(dims, name)
        if value is not None and at + width <= size:
            table.put_uint(at, width, value, name)
    return table.bytes()
