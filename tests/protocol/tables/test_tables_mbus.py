"""ET14, ET16, ET36, ET45/ET74, ET57: the guide's offsets, the ET45 cursor, round-trips, garbage."""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mepd.protocol.errors import DecodeError
from mepd.protocol.frames import PartialRead
from mepd.protocol.mbus import MediumKind, Quantity, SkipReason
from mepd.protocol.mbus import encode as mbus
from mepd.protocol.tables.et14 import (
    DeviceSlot,
    DeviceState,
    DeviceStatusTable,
    SlotAlarm,
    decode_et14,
    encode_et14,
    plan_et14,
)
from mepd.protocol.tables.et16 import (
    decode_billing_read,
    decode_et16,
    encode_billing_read,
    encode_et16,
    plan_et16,
)
from mepd.protocol.tables.et36 import (
    LogDimensions,
    decode_et36,
    decode_et45_dimensions,
    encode_et36,
    plan_et45_dimensions,
)
from mepd.protocol.tables.et45 import (
    ET45_FORMAT,
    ET74_FORMAT,
    decode_entry,
    decode_log_header,
    encode_entry,
    encode_log_header,
    entry_bytes,
    pending_entries,
    plan_entry,
    rest_of_entry,
    sequence_of,
    still_held,
)
from mepd.protocol.tables.et57 import EntryType, decode_et57, encode_et57
from mepd.protocol.tables.ids import ET14, ET16, ET36, ET45
from mepd.protocol.tables.lists import ListStatus

WHEN = datetime(2026, 12, 6, 10, 0, 30)
WHEN_BYTES = bytes((26, 12, 6, 10, 0, 30))  # LTIME_DATE: YY MM DD hh mm ss (p.40)
WATER = mbus.identity(71123402, "KAM", 0x1B, 0x07)
WATER_TELEGRAM = mbus.encode_header(WATER, access_number=5) + mbus.encode_record(0x13, 989_900)


def test_et14_fields_sit_at_the_guides_offsets() -> None:
    """p.84-88, offsets of entry 0 (table offsets): handle 6, status 8, baud 9, billing read
    length 10, attempts 12, answers 16, alarms 20, primary address 22, device alarms 29,
    status read time 30, last read attempt 36; the occupancy is byte 5."""
    table = bytearray(6 + 2 * 36)
    table[5] = 0b01
    struct.pack_into("<HBBHIIHB", table, 6, 101, 1, 0, 46, 7, 6, 0x11, 1)
    table[29] = 0x04
    table[30:36] = WHEN_BYTES
    table[36:42] = WHEN_BYTES
    decoded = decode_et14(bytes(table))
    slot = decoded.slots[0]
    assert (slot.slot, slot.occupied, slot.handle, slot.state) == (
        1,
        True,
        101,
        DeviceState.MBUS_UP,
    )
    assert (slot.billing_read_length, slot.read_attempts, slot.read_answers) == (46, 7, 6)
    assert slot.alarm(SlotAlarm.BILLING_DATA_COLLECTED)
    assert slot.alarm(SlotAlarm.FAILED_COMMS)
    assert (slot.primary_address, slot.device_alarms) == (1, 4)
    assert slot.status_read_time == slot.last_read_attempt == WHEN
    assert decoded.devices == (slot,)
    assert not decoded.slots[1].occupied
    assert decoded.slots[1].status_read_time is None
    assert plan_et14() == (PartialRead(ET14, 0, 150),)


def test_et16_fields_sit_at_the_guides_offsets() -> None:
    """p.91-93: time stamp 0, response info 6, L 7, serial 8, manufacturer 12, version 14,
    medium 15, access 16, status 17, signature 18, records 20; L counts a 0 terminator."""
    records = mbus.encode_record(0x13, 989_900)
    entry = bytearray(WHEN_BYTES + b"\x00" + bytes((12 + len(records) + 1,)))
    entry += bytes.fromhex("02 34 12 71") + struct.pack("<HBBBBH", 0x2C2D, 0x1B, 7, 5, 0, 0)
    entry += records + b"\x00"
    assert entry[20 : 20 + len(records)] == records
    read = decode_billing_read(bytes(entry))
    assert read.timestamp == WHEN
    assert read.identity is not None
    assert (read.identity.serial, read.identity.manufacturer) == ("71123402", "KAM")
    assert read.identity.kind is MediumKind.WATER
    assert read.telegram is not None
    volume = read.telegram.first(Quantity.VOLUME)
    assert volume is not None
    assert volume.value == Decimal("989.900")
    assert bytes(entry) == encode_billing_read(WHEN, [WATER_TELEGRAM])


def test_et16_table_slots_and_plans() -> None:
    mbr = encode_billing_read(WHEN, [WATER_TELEGRAM])
    table = encode_et16([b"", mbr], devices=6)
    assert len(table) == 6 * 517
    empty, water, *rest = decode_et16(table)
    assert empty.telegram is None
    assert empty.timestamp is None
    assert water.identity == WATER
    assert len(rest) == 2
    assert plan_et16(2, used=len(mbr)) == (PartialRead(ET16, 517, len(mbr)),)
    assert plan_et16(1) == (PartialRead(ET16, 0, 465), PartialRead(ET16, 465, 52))


@pytest.mark.parametrize(
    ("info", "signature", "reason"),
    [(0x01, 0, SkipReason.MODE2), (0x00, 0x0500, SkipReason.ENCRYPTED)],
)
def test_et16_records_it_cannot_read_are_skipped(
    info: int, signature: int, reason: SkipReason
) -> None:
    header = mbus.encode_header(WATER, access_number=1, signature=signature)
    read = decode_billing_read(
        encode_billing_read(WHEN, [header + b"\x04\x13\x01\x00\x00\x00"], info=info)
    )
    assert read.telegram is not None
    assert read.telegram.values == ()
    assert [item.reason for item in read.telegram.skipped] == [reason]


def test_et16_a_cut_last_telegram_is_dropped_and_said() -> None:
    mbr = encode_billing_read(WHEN, [WATER_TELEGRAM, WATER_TELEGRAM])
    read = decode_billing_read(mbr[:-3])
    assert len(read.telegrams) == 1
    assert read.incomplete


def test_et16_fixed_structure() -> None:
    """p.93-94: CI = 0x73, 16 bytes: serial, access, status, medium/unit, two counters."""
    fixed = bytes.fromhex("78 56 34 12 01 00 3C 00") + struct.pack("<II", 1234, 0)
    read = decode_billing_read(WHEN_BYTES + b"\x02\x10" + fixed)
    assert read.fixed is not None
    assert read.fixed.serial == "12345678"
    assert read.fixed.counters == (1234, 0)
    assert read.telegram is None


def _et36(current: int = 96) -> bytes:
    logs = [LogDimensions(2048 + n, 10, 255, 2, True) for n in (31, 32, 38, 41)]
    logs.append(LogDimensions(ET45, 525, 253, current, True))
    logs += [LogDimensions(2048 + n, 12, 253, 0, True) for n in (75, 81)]
    return encode_et36(logs, unread=0x10)


def test_et36_fifth_record_is_et45_at_the_guides_offsets() -> None:
    """p.27: ET36's fifth entry; p.114: its entry size is ET36.71, its current entries ET36.75."""
    data = _et36()
    assert struct.unpack_from("<HH", data, 71) == (525, 253)
    assert struct.unpack_from("<H", data, 75) == (96,)
    (read,) = plan_et45_dimensions()
    assert read == PartialRead(ET36, 69, 17)
    dims = decode_et45_dimensions(data[69:86])
    assert dims == LogDimensions(ET45, 525, 253, 96, True)
    whole = decode_et36(data)
    assert whole.find(ET45) == dims
    assert whole.unread == 0x10
    assert len(whole.logs) == 7
    with pytest.raises(DecodeError, match="not ET45"):
        decode_et45_dimensions(data[52:69])


def log_header(
    overflow: bool, circular: bool, valid: int, last: int, sequence: int, unread: int
) -> ListStatus:
    """An ET45/ET74 header: ascending, overwriting (p.119, the guide's fixed flags)."""
    return ListStatus(False, overflow, circular, False, valid, last, sequence, unread)


HEADER = log_header(True, True, valid=8, last=2, sequence=65535, unread=3)


def test_et45_header_and_entry_sit_at_the_guides_offsets() -> None:
    """p.118-120: flags 0, valid 1, last element 2, last sequence 3 (UINT16), unread 5; entry:
    length 6, identifier 8, handle 10, execution status 12, result 13, MBR 14."""
    header = encode_log_header(HEADER)
    assert header == bytes((0x06, 8, 2)) + b"\xff\xff" + b"\x03"
    assert decode_log_header(header) == HEADER
    mbr = encode_billing_read(WHEN, [WATER_TELEGRAM])
    entry = encode_entry(102, mbr, identifier=0x1001, execution=2)
    table = header + entry
    assert struct.unpack_from("<HHHBB", table, 6) == (len(entry) - 2, 0x1001, 102, 2, 4)
    assert table[14:] == mbr
    read = decode_entry(entry, element=0)
    assert (read.handle, read.execution, read.succeeded, read.identifier) == (102, 2, True, 0x1001)
    assert read.read is not None
    assert read.read.identity == WATER


UINT16 = st.integers(0, 0xFFFF)
TIMES = st.none() | st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))


@given(
    st.lists(
        st.tuples(UINT16, st.integers(0, 4), UINT16, st.integers(0, 2**32 - 1), TIMES),
        min_size=1,
        max_size=6,
    )
)
def test_et14_round_trips(slots: list[tuple[int, int, int, int, datetime | None]]) -> None:
    table = DeviceStatusTable(
        1,
        sum(1 << n for n in range(0, len(slots), 2)),
        tuple(
            DeviceSlot(
                n + 1,
                n % 2 == 0,
                handle,
                state,
                6,
                length,
                count,
                count,
                0x21,
                n,
                0,
                when and when.replace(microsecond=0),
                None,
            )
            for n, (handle, state, length, count, when) in enumerate(slots)
        ),
    )
    assert decode_et14(encode_et14(table)) == table


@given(st.booleans(), st.booleans(), st.integers(0, 255), st.integers(0, 255), UINT16)
def test_log_headers_round_trip(
    overflow: bool, circular: bool, valid: int, last: int, sequence: int
) -> None:
    assume(circular or not valid or last < valid)  # a FIFO's newest is element valid - 1
    header = log_header(overflow, circular, valid, last, sequence, valid // 2)
    for log in (ET45_FORMAT, ET74_FORMAT):
        assert decode_log_header(encode_log_header(header, log), log) == header


def test_a_failed_read_has_no_data() -> None:
    entry = decode_entry(encode_entry(101, bytes(8), result=2), element=5)
    assert not entry.succeeded
    assert (entry.read, entry.telegram, entry.timestamp, entry.element) == (None, None, None, 5)


def test_et74_header_has_16_bit_counts() -> None:
    """p.175-176: 9-byte header, counts and indexes 16-bit."""
    header = log_header(False, True, 300, 299, 7, 0)
    data = encode_log_header(header, ET74_FORMAT)
    assert len(data) == 9
    assert decode_log_header(data, ET74_FORMAT) == header


def test_an_entry_is_read_in_a_probe_and_the_rest_its_length_says() -> None:
    dims = LogDimensions(ET45, 525, 253, 96, True)
    assert plan_entry(3, dims) == (PartialRead(ET45, 6 + 3 * 525, 128),)
    entry = encode_entry(102, encode_billing_read(WHEN, [WATER_TELEGRAM + bytes(150)]))
    assert entry_bytes(entry[:2], dims) == len(entry)
    assert rest_of_entry(3, dims, entry[:128]) == (
        PartialRead(ET45, 6 + 3 * 525 + 128, len(entry) - 128),
    )
    assert rest_of_entry(3, dims, entry) == ()
    with pytest.raises(DecodeError, match="more than its 525"):
        entry_bytes(b"\x0e\x02", dims)


@pytest.mark.parametrize(
    ("valid", "last", "sequence", "cursor", "entries", "lost", "restarted"),
    [
        (8, 2, 65535, 65533, ((1, 65534), (2, 65535)), 0, False),
        (8, 2, 1, 65534, ((0, 65535), (1, 0), (2, 1)), 0, False),  # the sequence wrapped
        (8, 2, 100, 100, (), 0, False),
        (3, 2, 100, None, ((0, 98), (1, 99), (2, 100)), 0, False),
        (8, 1, 10, 90, tuple(((1 - k) % 8, 10 - k) for k in reversed(range(8))), 0, True),
        (8, 2, 50, 30, tuple(((2 - k) % 8, 50 - k) for k in reversed(range(8))), 12, False),
    ],
)
def test_pending_entries_after_a_cursor(
    valid: int,
    last: int,
    sequence: int,
    cursor: int | None,
    entries: tuple[tuple[int, int], ...],
    lost: int,
    restarted: bool,
) -> None:
    header = log_header(False, True, valid, last, sequence, 0)
    pending = pending_entries(header, 8, cursor)
    assert (pending.entries, pending.lost, pending.restarted) == (entries, lost, restarted)


@given(
    entries=st.integers(1, 253),
    total=st.integers(0, 200_000),
    behind=st.integers(0, 400),
)
def test_the_cursor_finds_exactly_the_entries_written_since(
    entries: int, total: int, behind: int
) -> None:
    """A log that put entry n (sequence n + 1) at element n mod entries, read `behind` entries
    after the cursor: the new ones in order, and the overwritten ones counted as lost."""
    behind = min(behind, total)
    header = log_header(
        total > entries,
        True,
        min(total, entries),
        (total - 1) % entries if total else 0,
        total % 65536,
        0,
    )
    cursor = (total - behind) % 65536
    pending = pending_entries(header, entries, cursor)
    expected = [((n % entries), (n + 1) % 65536) for n in range(total - behind, total)][-entries:]
    assert list(pending.entries) == expected
    assert pending.lost == behind - len(expected)
    for element, seq in pending.entries:
        assert still_held(header, seq, entries)
        assert sequence_of(header, element, entries) == seq
    if total > entries:
        assert not still_held(header, (total - entries) % 65536, entries)


def test_a_last_element_outside_et36s_entries_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="re-read ET36"):
        pending_entries(log_header(False, True, 4, 9, 4, 0), 8, None)


def test_et57_the_guides_example_and_extensions() -> None:
    """p.33: "MDT: 1 DRH: 0C 93 3A Special: False"; p.163: type bits 0-1, MDT 2-6, special 7."""
    data = bytes.fromhex("05 0C 93 3A") + bytes(60)
    (mdt,) = decode_et57(data)
    assert (mdt.kind, mdt.mdt, mdt.special, mdt.drh) == (EntryType.MBUS, 1, False, b"\x0c\x93\x3a")
    assert mdt.meaning is not None
    assert mdt.meaning.quantity is Quantity.VOLUME
    long_drh = bytes.fromhex("84 80 80 00 13")  # two DIFEs: more than 3 bytes (p.163)
    table = encode_et57([(2, bytes.fromhex("04 13"), False), (7, long_drh, True)])
    water, long = decode_et57(table)
    assert water.drh == b"\x04\x13"
    assert water.meaning is not None
    assert (long.mdt, long.special, long.drh, long.entry) == (7, True, long_drh, 1)
    assert table[4] & 0x03 == EntryType.MBUS
    assert table[8] & 0x03 == EntryType.EXTENSION


Decoder = Callable[[bytes], object]
DECODERS: list[Decoder] = [
    decode_et14,
    decode_et16,
    decode_billing_read,
    decode_et36,
    decode_et45_dimensions,
    decode_log_header,
    lambda data: decode_entry(data, 0),
    decode_et57,
]


@pytest.mark.parametrize("decoder", DECODERS)
@given(data=st.binary(max_size=1200))
def test_garbage_raises_only_decode_errors(decoder: Decoder, data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decoder(data)


@given(data=st.binary(min_size=600, max_size=600))
def test_garbage_mbrs_decode_or_raise_decode_errors(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_billing_read(bytes(6) + data[6:])
