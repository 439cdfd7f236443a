"""The M-Bus tables of a simulated meter with sub-meters: ET14, ET16, ET36, ET45, ET57.

Built with the protocol's encoders from `mbus.py`'s reads, so what a client decodes is the
truth by construction. ET14/ET16/ET45 change with each scheduled read and are cached per read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from mepd.drivers.simulator.mbus import (
    MBusSetup,
    ScheduledRead,
    SubMeter,
    logged_read,
    logged_reads,
    periods_done,
    read_at,
)
from mepd.protocol.codes import extended_table
from mepd.protocol.mbus import encode as mbus
from mepd.protocol.mbus import units
from mepd.protocol.tables.et14 import ENTRY_BYTES as ET14_ENTRY
from mepd.protocol.tables.et14 import (
    MBUS_SLOTS,
    DeviceSlot,
    DeviceState,
    DeviceStatusTable,
    encode_et14,
)
from mepd.protocol.tables.et16 import ENTRY_BYTES as ET16_ENTRY
from mepd.protocol.tables.et16 import encode_billing_read, encode_et16
from mepd.protocol.tables.et36 import LogDimensions, encode_et36
from mepd.protocol.tables.et45 import SEQUENCE_MODULUS, encode_entry, encode_log_header
from mepd.protocol.tables.et57 import encode_et57
from mepd.protocol.tables.ids import ET14, ET16, ET36, ET45, ET57
from mepd.protocol.tables.lists import written_status

GAS, WATER = 0x03, 0x07  # EN 13757-3 media (p.93)
GAS_VOLUME_DRH = bytes((0x0C, 0x93, 0x3A))  # p.33: 8-digit BCD, litres, not temperature corrected
WATER_VOLUME_DRH = bytes((0x04, 0x13))  # 32-bit integer, litres
_STORED_FLAG = 0x40  # DIF bit 6: storage number 1 (a due-date value, which clients skip)
_ERROR_FLAGS = bytes((0x02, 0xFD, 0x17, 0x00, 0x00))  # VIF FD 17: error flags (skipped)
_TIME_DRH = bytes((0x04, units.VIF_DATE_TIME))

# ET36's seven logs (p.107-109, in the order of ET42's cross-references, p.114): defaults but
# for ET45, which the M-Bus setup dimensions.
_LOGS = ((31, 232, 255, 2), (32, 525, 255, 8), (38, 35, 255, 10), (41, 0, 255, 0))
_LATER_LOGS = ((75, 143, 253, 0), (81, 12, 253, 0))


def telegram(read: ScheduledRead) -> bytes:
    """What the device answered: header, time point, volume, a stored value, error flags."""
    device = read.device
    identity = mbus.identity(device.serial, device.manufacturer, device.version, device.medium)
    header = mbus.encode_header(identity, access_number=read.access_number)
    previous_day = read.litres - min(read.litres, round(device.daily_litres))
    if device.medium == GAS:
        volume = mbus.encode_record(0x13, read.litres, bcd_digits=8, vifes=b"\x3a")
        stored = bytes((volume[0] | _STORED_FLAG,)) + volume[1:3]
        stored += mbus.encode_record(0x13, previous_day, bcd_digits=8)[2:]
    else:
        volume = mbus.encode_record(0x13, read.litres, size=4)
        stored = bytes((volume[0] | _STORED_FLAG,)) + mbus.encode_record(0x13, previous_day)[1:]
    return header + mbus.encode_date_time(read.local_time) + volume + stored + _ERROR_FLAGS


def billing_read(read: ScheduledRead) -> bytes:
    return encode_billing_read(read.local_time, [telegram(read)])


def et14(setup: MBusSetup, wall: float, devices: int, seed: int = 0) -> bytes:
    """p.83-89: occupancy, handles, and each device's latest read (lengths and times)."""
    slots = []
    for slot in range(1, devices + 1):
        device = _in_slot(setup, slot)
        latest = _latest(setup, device, wall, seed)
        size = len(billing_read(latest)) if latest else 0
        reads = latest.period + 1 if latest else 0
        slots.append(_slot(slot, device, latest, size, reads))
    occupancy = sum(1 << (device.slot - 1) for device in setup.devices)
    return encode_et14(DeviceStatusTable(0, occupancy, tuple(slots)), entry_size=ET14_ENTRY)


def _latest(
    setup: MBusSetup, device: SubMeter | None, wall: float, seed: int
) -> ScheduledRead | None:
    done = 0 if device is None else periods_done(setup, device, wall)
    return read_at(setup, device, done - 1, seed) if device and done else None


def _slot(
    slot: int, device: SubMeter | None, latest: ScheduledRead | None, size: int, reads: int
) -> DeviceSlot:
    when: datetime | None = latest.local_time if latest else None
    return DeviceSlot(
        slot=slot,
        occupied=device is not None,
        handle=device.handle if device else 0,
        state=DeviceState.MBUS_UP if device else DeviceState.EMPTY,
        baud_code=0,  # 9600 (p.85)
        billing_read_length=size,
        read_attempts=reads,
        read_answers=reads,
        alarms=0x01 if latest else 0,  # billing data collected, never cleared here
        primary_address=device.slot if device else 0,
        device_alarms=0,
        status_read_time=when,
        last_read_attempt=when,
    )


def et16(setup: MBusSetup, wall: float, devices: int, seed: int = 0) -> bytes:
    """p.90-94: each device's latest read (its first one first, p.26)."""
    entries = []
    for slot in range(1, min(devices, MBUS_SLOTS) + 1):
        latest = _latest(setup, _in_slot(setup, slot), wall, seed)
        entries.append(billing_read(latest) if latest else b"")
    return encode_et16(entries, devices=devices, entry_size=ET16_ENTRY)


def et45(setup: MBusSetup, wall: float, seed: int = 0) -> bytes:
    """p.118-120: the circular log, entry n of the log (0-based) at element n mod entries."""
    total, size = logged_reads(setup, wall), setup.et45_entries
    valid = min(total, size)
    # unread 0: the head-end system has read them (p.27: not ours to change)
    header = written_status(size, total, total % SEQUENCE_MODULUS)
    entries = [bytes(setup.et45_entry_size)] * size
    for index in range(total - valid, total):
        read = logged_read(setup, index, seed)
        entry = encode_entry(read.device.handle, billing_read(read))
        entries[index % size] = entry.ljust(setup.et45_entry_size, b"\x00")
    return encode_log_header(header) + b"".join(entries)


def et36(setup: MBusSetup) -> bytes:
    logs = [LogDimensions(extended_table(n), size, most, now, True) for n, size, most, now in _LOGS]
    logs.append(LogDimensions(ET45, setup.et45_entry_size, 253, setup.et45_entries, True))
    logs += [
        LogDimensions(extended_table(n), size, most, now, True)
        for n, size, most, now in _LATER_LOGS
    ]
    return encode_et36(logs)


def et57() -> bytes:
    """MDT 1 is the guide's example (p.33); 2 the water volume; 3 the time point (p.32)."""
    types = [(1, GAS_VOLUME_DRH, False), (2, WATER_VOLUME_DRH, False), (3, _TIME_DRH, False)]
    return encode_et57(types)


def _in_slot(setup: MBusSetup, slot: int) -> SubMeter | None:
    return next((device for device in setup.devices if device.slot == slot), None)


class MBusTables:
    """The M-Bus tables of one meter: ET36 and ET57 fixed, ET14/ET16/ET45 rebuilt only when a
    scheduled read has happened since the last time they were asked for."""

    def __init__(self, setup: MBusSetup, devices: int, seed: int = 0) -> None:
        self.setup = setup
        self.devices = devices
        self.seed = seed
        self.static = {ET36: et36(setup), ET57: et57()}
        self._builders: dict[int, Callable[[float], bytes]] = {
            ET14: lambda wall: et14(setup, wall, devices, seed),
            ET16: lambda wall: et16(setup, wall, devices, seed),
            ET45: lambda wall: et45(setup, wall, seed),
        }
        self._cache: dict[int, tuple[tuple[int, ...], bytes]] = {}

    @property
    def live_tables(self) -> tuple[int, ...]:
        return tuple(self._builders)

    def read(self, table: int, wall: float) -> bytes:
        key = tuple(periods_done(self.setup, device, wall) for device in self.setup.devices)
        cached = self._cache.get(table)
        if cached is None or cached[0] != key:
            cached = (key, self._builders[table](wall))
            self._cache[table] = cached
        return cached[1]
