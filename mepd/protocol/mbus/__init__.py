"""The M-Bus (EN 13757-3) application layer that gas, water and heat meters send through the
electricity meter (guide p.25-33, p.90-93). Pure: bytes in, frozen records out.

A client follows p.26-27 with the table codecs in `mepd.protocol.tables`:
1. `et14.plan_et14` / `decode_et14` about once a minute: `.devices` are the occupied M-Bus
   slots with their handles.
2. `et16.plan_et16(slot, used=slot.billing_read_length)` / `decode_et16` (or
   `decode_billing_read` for one entry): the device's identity (`Telegram.identity`: serial,
   manufacturer, medium kind) and its first or on-demand read.
3. `et36.plan_et45_dimensions` / `decode_et45_dimensions` once (again after an IDT change).
4. `et45.plan_log_header` / `decode_log_header` once a minute; `pending_entries(header,
   dims.current_entries, cursor)` lists (element, sequence) oldest first; per entry
   `plan_entry`, then `rest_of_entry`, then `decode_entry`; `still_held` against a header read
   afterwards; the cursor is the last sequence taken.
Each `RecurringRead.telegram.values` holds `MBusValue`s: `Quantity.VOLUME` in m³ and
`Quantity.ENERGY` in kWh or GJ are meter readings (`Quantity.cumulative`).
"""

from mepd.protocol.mbus.records import (
    DeviceIdentity,
    MBusValue,
    RecordHeader,
    SkippedRecord,
    SkipReason,
    Telegram,
    TimePoint,
    decode_identity,
    decode_records,
    decode_telegram,
    drh_length,
    parse_drh,
)
from mepd.protocol.mbus.units import MBusUnit, MediumKind, Quantity, medium_kind

__all__ = [
    "DeviceIdentity",
    "MBusUnit",
    "MBusValue",
    "MediumKind",
    "Quantity",
    "RecordHeader",
    "SkipReason",
    "SkippedRecord",
    "Telegram",
    "TimePoint",
    "decode_identity",
    "decode_records",
    "decode_telegram",
    "drh_length",
    "medium_kind",
    "parse_drh",
]
