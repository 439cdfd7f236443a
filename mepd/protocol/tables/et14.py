"""ET14 MEP/M-Bus Device Status (0x080E; p.83-89): which slots hold a device, and its handle.

A 6-byte header (mode, reserved, the occupancy bitmask) and ET11.0 entries of ET11.2 (36)
bytes; the guide's offsets are entry 0's, so an entry field sits at its offset - 6 (notes
§6.14). Slots 1-4 (elements 0-3) are M-Bus devices, 5-6 MEP clients (p.84). A client polls
the occupancy about once a minute and learns each new device's handle here (p.26 steps 1-2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from mepd.protocol.errors import DecodeError
from mepd.protocol.frames import PartialRead
from mepd.protocol.tables._wire import (
    LTIME_DATE_BYTES,
    decode_optional_datetime,
    encode_optional_datetime,
    pack_uint,
    require_at_least,
    uint,
)
from mepd.protocol.tables.ids import ET14
from mepd.protocol.tables.planning import plan_reads

TABLE = "ET14"
HEADER_BYTES = 6
ENTRY_BYTES = 36  # ET11.2 (p.78)
MBUS_SLOTS = 4  # p.84: bits 0-3 of the occupancy are M-Bus devices 1-4
OCCUPANCY = 5
MBUS_HANDLES = range(1, 1000)  # p.84-85: 1..999 M-Bus, 1000.. MEP clients


class DeviceState(IntEnum):
    """p.85 "Device Status" (meaningful when ET51 Monitor MEP Health is set)."""

    EMPTY = 0
    MBUS_UP = 1
    MBUS_DOWN = 2
    MEP_UP = 3
    MEP_DOWN = 4


class SlotAlarm(IntEnum):
    """p.86-87 "MEP Alarms" bits, latched until EP18 clears them."""

    BILLING_DATA_COLLECTED = 0x01  # a scheduled read landed in ET16
    NEW_DEVICE_ALARM = 0x04
    BILLING_READ_OVERFLOW = 0x08
    FAILED_COMMS = 0x10
    SERIAL_MISMATCH = 0x20


@dataclass(frozen=True)
class DeviceSlot:
    slot: int  # 1-based, as the guide numbers them (p.26: slot 1 is array element 0)
    occupied: bool
    handle: int
    state: int  # a `DeviceState` value (kept as read: other values are reserved)
    baud_code: int
    billing_read_length: int  # bytes of the latest ET16 read: time stamp .. 0 terminator
    read_attempts: int
    read_answers: int
    alarms: int  # `SlotAlarm` bits
    primary_address: int
    device_alarms: int
    status_read_time: datetime | None  # local time (p.88)
    last_read_attempt: datetime | None

    @property
    def is_mbus(self) -> bool:
        return self.slot <= MBUS_SLOTS

    @property
    def has_device(self) -> bool:
        """An occupied M-Bus slot with a handle: a device whose reads a client can follow."""
        return self.occupied and self.is_mbus and self.handle in MBUS_HANDLES

    def alarm(self, which: SlotAlarm) -> bool:
        return bool(self.alarms & which)


@dataclass(frozen=True)
class DeviceStatusTable:
    mode: int  # bit 0: auto-discovery (M-Bus)
    occupancy: int
    slots: tuple[DeviceSlot, ...]

    @property
    def devices(self) -> tuple[DeviceSlot, ...]:
        """The M-Bus slots that hold a device, by slot."""
        return tuple(slot for slot in self.slots if slot.has_device)


def plan_et14(slots: int = MBUS_SLOTS, entry_size: int = ENTRY_BYTES) -> tuple[PartialRead, ...]:
    """The header and the first `slots` entries: 150 bytes, one read, for the M-Bus slots."""
    return plan_reads(ET14, HEADER_BYTES + slots * entry_size)


def decode_et14(data: bytes, *, entry_size: int = ENTRY_BYTES) -> DeviceStatusTable:
    """The header and every whole entry in `data` (read from offset 0)."""
    require_at_least(TABLE, data, HEADER_BYTES, "header")
    if entry_size < ENTRY_BYTES:
        raise DecodeError(f"{TABLE}: entries of {entry_size} bytes cannot hold the p.84 fields")
    occupancy = data[OCCUPANCY]
    slots = []
    for index in range((len(data) - HEADER_BYTES) // entry_size):
        at = HEADER_BYTES + index * entry_size
        entry = data[at : at + entry_size]
        slots.append(
            DeviceSlot(
                slot=index + 1,
                occupied=bool(occupancy >> index & 1),
                handle=uint(entry, 0, 2),
                state=entry[2],
                baud_code=entry[3],
                billing_read_length=uint(entry, 4, 2),
                read_attempts=uint(entry, 6, 4),
                read_answers=uint(entry, 10, 4),
                alarms=uint(entry, 14, 2),
                primary_address=entry[16],
                device_alarms=entry[23],
                status_read_time=decode_optional_datetime(TABLE, entry[24:30]),
                last_read_attempt=decode_optional_datetime(TABLE, entry[30:36]),
            )
        )
    return DeviceStatusTable(data[0], occupancy, tuple(slots))


def encode_et14(table: DeviceStatusTable, *, entry_size: int = ENTRY_BYTES) -> bytes:
    """The header and one entry per slot, in slot order (the simulator's ET14)."""
    out = bytearray(bytes((table.mode,)) + bytes(4) + bytes((table.occupancy,)))
    for slot in table.slots:
        entry = (
            pack_uint(slot.handle, 2, "handle")
            + bytes((slot.state, slot.baud_code))
            + pack_uint(slot.billing_read_length, 2, "billing read length")
            + pack_uint(slot.read_attempts, 4, "read attempts")
            + pack_uint(slot.read_answers, 4, "read answers")
            + pack_uint(slot.alarms, 2, "alarms")
            + bytes((slot.primary_address,))
            + bytes(LTIME_DATE_BYTES)
            + bytes((slot.device_alarms,))
            + encode_optional_datetime(slot.status_read_time, LTIME_DATE_BYTES, f"{TABLE} time")
            + encode_optional_datetime(slot.last_read_attempt, LTIME_DATE_BYTES, f"{TABLE} time")
        )
        out += entry.ljust(entry_size, b"\x00")
    return bytes(out)
