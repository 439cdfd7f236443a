"""The M-Bus (EN 13757-3) application layer that gas, water and heat meters send through the
electricity meter (guide p.25-33, p.90-93). Pure: bytes in, frozen records out."""

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
