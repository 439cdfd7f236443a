"""History codecs: billing snapshots, event logs, outage log, relay; planning and cursors.

Golden bytes are laid out by hand from the guide's tables (it prints no example data for
these): BT71 with the defaults OPG p.51 prints, a BT74 header and entry per p.242-243.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mepd.errors import MepdError
from mepd.protocol.errors import DecodeError
from mepd.protocol.frames import MAX_READ_COUNT
from mepd.protocol.tables.billing import (
    BillingSnapshot,
    SnapshotKind,
    decode_bt25,
    decode_bt26_status,
    decode_self_read,
    encode_bt25,
    plan_bt25,
    plan_self_reads,
    self_read_entry_size,
)
from mepd.protocol.tables.bt21 import ActualRegister
from mepd.protocol.tables.event_codes import (
    ASSUMED_BASE,
    EVENT_CODES,
    MANUFACTURER_EVENTS,
    MANUFACTURER_FLAG,
    Condition,
    EventCategory,
    Provenance,
    meaning_of,
)
from mepd.protocol.tables.event_log import (
    EventLog,
    LogEntry,
    LogRead,
    decode_bt71,
    decode_log_entry,
    decode_log_status,
    encode_bt71,
    encode_event_log,
    encode_log_entry,
    events_after,
    full_sequence,
    log_layout,
    plan_events_after,
)
from mepd.protocol.tables.lists import (
    HISTORY_LIST,
    SMALL_LIST,
    ListLayout,
    ListStatus,
    backlog,
    decode_list_status,
    encode_list_status,
    fitted,
    plan_newest,
    sequence_at,
    unchanged,
    written_status,
)
from mepd.protocol.tables.meter_time import TimeBasis
from mepd.protocol.tables.names import ValueName
from mepd.protocol.tables.outage_log import (
    OutageRecord,
    decode_et81_status,
    decode_outage,
    encode_et81,
    et81_layout,
    outages_after,
)
from mepd.protocol.tables.power_quality import (
    PhaseEvents,
    PowerCycle,
    decode_et09,
    encode_et09,
    et09_size,
    plan_et09,
)
from mepd.protocol.tables.relay import (
    ControlOutput,
    DisconnectControl,
    DisconnectState,
    decode_disconnect_status,
    decode_et46,
    encode_et46,
)
from tests.protocol.tables.strategies_tables import actual_registers, current_register_data

naive_seconds = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59, 59)).map(
    lambda moment: moment.replace(microsecond=0)
)
ARG = 2  # BT71.3 on every NES meter (OPG p.51)

# --- golden bytes -------------------------------------------------------------------------------


def test_bt71_with_the_printed_defaults() -> None:
    # OPG p.51: date/time and sequence kept (bits 1, 2), 8 standard and 19 manufacturer event
    # bytes, 2 argument bytes each, 100 history entries (manufacturer default), 0 event entries.
    golden = bytes.fromhex("06 08 13 02 02 64 00 00 00")
    log = decode_bt71(golden)
    assert (log.history_date_time, log.history_sequence_number, log.event_number) == (
        True,
        True,
        False,
    )
    assert (log.history_data_length, log.history_entries, log.event_entries) == (2, 100, 0)
    assert encode_bt71(log) == golden


def test_bt74_header_and_entry_by_the_printed_offsets() -> None:
    # p.242: flags (overflow bit 1, circular bit 2), valid 14, last element 13, last
    # sequence 0x00010002, unread 14; then at 11: time, sequence, user, event, argument.
    header = bytes.fromhex("06 0e 00 0d 00 02 00 01 00 0e 00")
    status = decode_log_status(EventLog.PRIMARY, header)
    assert status == ListStatus(False, True, True, False, 14, 13, 0x10002, 14)
    # 2026-12-04 13:46:40, sequence 0xFFFE, user 0xFFFD (a MEP client, p.243), event 2 with
    # the filler bits 12-15 set (they are not part of the code), argument 01 00.
    entry = bytes.fromhex("1a 0c 04 0d 2e 28 fe ff fd ff 02 f0 01 00")
    decoded = decode_log_entry("BT74", entry, ARG)
    assert decoded == LogEntry(datetime(2026, 12, 4, 13, 46, 40), 0xFFFE, 0xFFFD, 2, b"\x01\x00")
    assert full_sequence(status, decoded.sequence16) == 0xFFFE  # across the 16-bit wrap
    assert meaning_of(decoded.code).name == "power_up"


def test_et81_entry_and_et46_by_the_printed_offsets() -> None:
    outage = decode_outage(bytes.fromhex("1a 0c 01 10 04 35  1a 0c 01 10 28 21"), sequence=7)
    assert (outage.start, outage.end) == (
        datetime(2026, 12, 1, 16, 4, 53),
        datetime(2026, 12, 1, 16, 40, 33),
    )
    assert outage.duration_s == 2140
    assert outage.time_basis is TimeBasis.LOCAL
    # p.121-122: control type at 11, credit INT32 at 13, last limit open LTIME_DATE at 17.
    et46 = bytes(11) + b"\x01\x00" + (-500).to_bytes(4, "little", signed=True) + bytes(6)
    assert decode_et46(et46) == ControlOutput(DisconnectControl.CURRENT, -500, None)
    assert decode_et46(et46[:13]) == ControlOutput(DisconnectControl.CURRENT)
    assert decode_disconnect_status(b"\x02") is DisconnectState.OPENED  # ET23.94, p.99


# --- round trips --------------------------------------------------------------------------------


@given(naive_seconds, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFF))
def test_log_entry_round_trip(time: datetime, seq: int, user: int, code: int) -> None:
    entry = LogEntry(time, seq, user, code, b"\x05\x00")
    assert decode_log_entry("ET79", encode_log_entry(entry, ARG), ARG) == entry


statuses = st.builds(
    ListStatus,
    st.just(False),
    st.booleans(),
    st.just(True),
    st.booleans(),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 0xFFFF),
    st.integers(0, 255),
)


@given(statuses)
def test_list_headers_round_trip(status: ListStatus) -> None:
    for fmt in (SMALL_LIST, HISTORY_LIST):
        assert decode_list_status("T", encode_list_status(status, fmt, "T"), fmt) == status


@given(naive_seconds, naive_seconds)
def test_outage_round_trip(start: datetime, end: datetime) -> None:
    layout = et81_layout(3)
    status = ListStatus(False, False, True, False, 1, 0, 9, 0)
    data = encode_et81(layout, status, {0: OutageRecord(start, end)})
    assert decode_et81_status(data) == status
    assert decode_outage(data[6:18], 9) == OutageRecord(start, end, 9)


@given(st.sampled_from(DisconnectControl), st.integers(-(2**31), 2**31 - 1), naive_seconds)
def test_et46_round_trip(kind: DisconnectControl, credit: int, when: datetime) -> None:
    output = ControlOutput(kind, credit, when)
    assert decode_et46(encode_et46(output)) == output


@given(st.data())
def test_bt25_and_bt26_snapshots_round_trip(data: st.DataObject) -> None:
    dims: ActualRegister = data.draw(actual_registers(max_tiers=2))
    registers = data.draw(current_register_data(dims, None))
    when = data.draw(naive_seconds).replace(second=0)
    table = encode_bt25(when, 3, registers, dims)
    snapshot = decode_bt25(table, dims)
    assert (snapshot.kind, snapshot.time, snapshot.season) == (SnapshotKind.DEMAND_RESET, when, 3)
    assert snapshot.registers == registers.total.summations
    assert snapshot.demand_resets == registers.demand_resets
    # The planned prefix decodes to the same first registers.
    plan = plan_bt25(dims, min(4, dims.summations))
    prefix = decode_bt25(table[: plan.count], dims)
    assert prefix.registers.items == registers.total.summations.items[: min(4, dims.summations)]


# --- garbage ------------------------------------------------------------------------------------

_DIMS = ActualRegister(*(False,) * 11, 0, 12, 11, 2, 0, 1, 4, 0, 0)
_DECODERS: list[Callable[[bytes], object]] = [
    decode_bt71,
    lambda b: decode_log_status(EventLog.PRIMARY, b),
    lambda b: decode_log_entry("BT74", b, ARG),
    decode_bt26_status,
    lambda b: decode_self_read(b, _DIMS, 1),
    lambda b: decode_bt25(b, _DIMS),
    decode_et81_status,
    decode_outage,
    decode_et46,
    decode_disconnect_status,
]


@pytest.mark.parametrize("decode", _DECODERS)
@given(garbage=st.binary(max_size=64))
def test_garbage_raises_decode_error_or_decodes(
    decode: Callable[[bytes], object], garbage: bytes
) -> None:
    assert issubclass(DecodeError, MepdError)
    with contextlib.suppress(DecodeError):
        decode(garbage)


def test_cut_short_entries_are_decode_errors() -> None:
    with pytest.raises(DecodeError):
        decode_log_entry("BT74", bytes(13), ARG)
    with pytest.raises(DecodeError):
        decode_log_entry("BT74", bytes(14), ARG)  # 00-00-00: no such date
    with pytest.raises(DecodeError):
        decode_et46(bytes(11) + b"\x07" + bytes(11))  # control type 7


# --- planning -----------------------------------------------------------------------------------


def test_newest_entries_across_the_end_of_the_array_in_two_reads() -> None:
    layout = ListLayout(74, "BT74", HISTORY_LIST, 14, 10)
    status = ListStatus(False, True, True, False, 10, 2, 50, 0)
    plan = plan_newest(layout, status, 5)
    assert [(r.first_element, r.count) for r in plan] == [(8, 2), (0, 3)]
    assert [r.read.offset for r in plan] == [11 + 8 * 14, 11]


@given(st.integers(1, 300), st.integers(1, 400), st.integers(0, 400), st.integers(0, 400))
def test_plans_cover_each_newest_entry_once_within_a_read(
    size: int, capacity: int, last: int, count: int
) -> None:
    layout = ListLayout(74, "BT74", HISTORY_LIST, size, capacity)
    status = ListStatus(False, False, True, False, capacity, last % capacity, 9, 0)
    plan = plan_newest(layout, status, count)
    elements = [(r.first_element + k) % capacity for r in plan for k in range(r.count)]
    newest = [(last % capacity - age) % capacity for age in range(min(count, capacity))]
    assert elements == newest[::-1]
    assert all(r.read.count <= MAX_READ_COUNT for r in plan)
    assert all(r.read.count == r.count * size for r in plan)


def test_a_header_that_does_not_fit_the_dimensions_is_a_decode_error() -> None:
    layout = ListLayout(74, "BT74", HISTORY_LIST, 14, 10)
    with pytest.raises(DecodeError):
        plan_newest(layout, ListStatus(False, False, True, False, 11, 2, 5, 0), 1)
    with pytest.raises(DecodeError):
        fitted(layout, ListStatus(False, False, True, False, 3, 7, 5, 0))
    assert fitted(layout, ListStatus(False, False, True, False, 3, 2, 5, 0)).capacity == 3


def test_bt26_prefix_reads_fit_and_hold_time_and_energy() -> None:
    dims = ActualRegister(*(False,) * 4, True, True, False, False, True, True, False, 0,
                          12, 19, 4, 0, 1, 8, 4, 84)  # fmt: skip
    assert self_read_entry_size(dims) > MAX_READ_COUNT  # a whole entry cannot be one read
    status = ListStatus(False, True, True, False, 12, 3, 20792, 1)
    plan = plan_self_reads(dims, status, 2)
    assert [r.first_element for r in plan] == [2, 3]
    assert all(r.read.count == 2 + 6 + 16 for r in plan)  # BIDN, time, season, 4 registers


# --- cursors ------------------------------------------------------------------------------------


def test_consecutive_backlog_wraps_with_the_uint16_and_counts_lost_entries() -> None:
    status = ListStatus(False, True, True, False, 12, 4, 5, 0)
    assert backlog(status, 65534, SMALL_LIST).new == 7
    assert backlog(status, 65500, SMALL_LIST).lost == 41 - 12
    assert backlog(status, None, SMALL_LIST).new == 12
    assert backlog(status, 40, SMALL_LIST).restarted  # the sequence went back
    assert sequence_at(status, 6, SMALL_LIST) == 65535


def _log(log: EventLog, capacity: int, sequences: list[int], overflow: bool = False) -> LogRead:
    """A log holding `sequences` (oldest first), the newest in element len-1 mod capacity."""
    layout = log_layout(log, capacity, ARG)
    kept = sequences[-capacity:]
    first = len(sequences) - len(kept)
    status = ListStatus(
        False,
        overflow,
        True,
        False,
        len(kept),
        (len(sequences) - 1) % capacity,
        kept[-1] if kept else 0,
        0,
    )
    when = datetime(2026, 12, 1)
    entries = {
        (first + k) % capacity: LogEntry(when, s & 0xFFFF, 1, 2, b"\0\0")
        for k, s in enumerate(kept)
    }
    table = encode_event_log(layout, status, entries)
    header = decode_log_status(log, table)
    reads = [
        (item, table[item.read.offset : item.read.offset + item.read.count])
        for item in plan_events_after(layout, header, None)
    ]
    return LogRead.of(log, layout, header, reads)


def test_two_logs_together_leave_no_gap() -> None:
    primary = _log(EventLog.PRIMARY, 100, [1, 2, 3, 6, 7])
    alternate = _log(EventLog.ALTERNATE, 50, [4, 5])
    batch = events_after(2, [primary, alternate])
    assert [e.sequence for e in batch.events] == [3, 4, 5, 6, 7]
    assert [e.log for e in batch.events][1:3] == [EventLog.ALTERNATE] * 2
    assert (batch.lost, batch.newest, batch.restarted) == ((), 7, False)
    # The alternate log's newest (5) is below the cursor: that is no restart.
    assert events_after(6, [primary, alternate]).events[0].sequence == 7


def test_a_wrapped_log_reports_the_numbers_it_lost_once() -> None:
    primary = _log(EventLog.PRIMARY, 4, list(range(65530, 65545)), overflow=True)
    batch = events_after(65532, [primary])
    assert [e.sequence for e in batch.events] == [65541, 65542, 65543, 65544]
    assert batch.lost == ((65533, 65540),)
    assert batch.lost_count == 8
    again = events_after(batch.newest, [primary])
    assert (again.events, again.lost) == ((), ())


def test_a_sequence_below_the_cursor_restarts_the_cursor() -> None:
    batch = events_after(900, [_log(EventLog.PRIMARY, 10, [1, 2, 3])])
    assert batch.restarted
    assert [e.sequence for e in batch.events] == [1, 2, 3]


# --- event codes --------------------------------------------------------------------------------


def test_event_codes_are_unique_and_assumed_ones_collide_with_no_real_event() -> None:
    names = [m.name for m in EVENT_CODES.values()]
    assert len(set(names)) == len(names)
    for meaning in EVENT_CODES.values():
        if meaning.provenance is Provenance.ASSUMED:
            assert meaning.code >= MANUFACTURER_FLAG + MANUFACTURER_EVENTS
            assert meaning.page is not None  # the guide names what mepd numbered
        else:
            assert meaning.code < MANUFACTURER_FLAG
    assert ASSUMED_BASE > MANUFACTURER_FLAG + MANUFACTURER_EVENTS


def test_every_condition_has_a_start_and_an_end() -> None:
    for condition in Condition:
        starts = [m for m in EVENT_CODES.values() if m.starts is condition]
        ends = [m for m in EVENT_CODES.values() if m.ends is condition]
        assert len(starts) == 1
        assert len(ends) == 1
        assert starts[0].category is ends[0].category


@given(st.integers(0, 0xFFFF))
def test_any_code_has_a_meaning(code: int) -> None:
    meaning = meaning_of(code)
    assert meaning.code == code & 0xFFF
    if meaning.provenance is Provenance.UNKNOWN:
        assert meaning.category is EventCategory.OTHER


def test_snapshot_energy_by_value_name() -> None:
    dims = ActualRegister(*(False,) * 11, 0, 12, 4, 0, 0, 0, 0, 0, 0)
    data = bytes.fromhex("1a 0c 01 00 00 00") + (1234).to_bytes(4, "little") + bytes(12)
    snapshot = decode_bt25(data, dims)
    assert isinstance(snapshot, BillingSnapshot)
    energy = snapshot.energy(ValueName.ENERGY_IMPORT)
    assert energy is not None
    assert energy.value == 1234
    assert energy.unit.symbol == "Wh"
    assert snapshot.time_basis is TimeBasis.LOCAL
    assert "BT53" in snapshot.time_basis.rule
    assert decode_list_status("BT26", bytes(6), SMALL_LIST).valid == 0


def test_a_list_that_moved_between_header_reads_is_seen() -> None:
    before = ListStatus(False, True, True, False, 10, 2, 50, 0)
    assert unchanged(before, before)
    assert not unchanged(before, ListStatus(False, True, True, False, 10, 3, 51, 0))
    with pytest.raises(DecodeError):
        full_sequence(ListStatus(False, False, True, False, 1, 0, 5, 0), 0xFFF0)
    layout = et81_layout(4)
    due = outages_after(layout, ListStatus(False, True, True, False, 4, 1, 9, 0), 3)
    assert (due.new, due.lost) == (4, 2)


# --- ET09 power quality -------------------------------------------------------------------------


def test_et09_fields_at_the_printed_offsets() -> None:
    # p.69-73 with ET04.53 = 1: A = 1 * 18 + 6 = 24; the guide prints "ET04.53 * 18 + n".
    data = bytearray(et09_size(1))
    data[6:12] = bytes.fromhex("1a 0c 01 10 28 21")  # power on 2026-12-01 16:40:33
    data[12] = 3  # reset cause: power failure
    data[14:18] = bytes.fromhex("1a 0c 01 10 04 35")  # power off 16:04:53
    data[20:24] = (2140).to_bytes(4, "little")
    a = 24
    data[a + 6 : a + 8] = (5).to_bytes(2, "little")  # "+12": L1 sag1 count
    data[a + 80] = 0b010  # "+86": phase L2 lost now
    data[a + 95 : a + 97] = (2).to_bytes(2, "little")  # "+101": L2 phase loss count
    data[a + 89 : a + 95] = bytes.fromhex("1a 0c 04 0d 2e 28")  # "+95": L2 phase loss time
    data[a + 105 : a + 109] = (195_000).to_bytes(4, "little")  # "+111": L1 sag voltage mV
    quality = decode_et09(bytes(data), 1)
    assert quality.cycles == (
        PowerCycle(datetime(2026, 12, 1, 16, 4, 53), datetime(2026, 12, 1, 16, 40, 33), 2140, 3),
    )
    assert quality.sags[0].count == 5
    assert quality.sags[0].latest is None
    assert quality.phase_lost_now == (False, True, False)
    assert quality.phase_losses[1] == PhaseEvents(datetime(2026, 12, 4, 13, 46, 40), 2)
    assert quality.sag_voltage_mv == (195_000, 0, 0)
    assert plan_et09(10).count == 324  # one read (p.8)
    assert decode_et09(encode_et09(quality, 1), 1) == quality


@given(st.binary(max_size=400), st.integers(0, 12))
def test_et09_garbage_raises_decode_error_or_decodes(garbage: bytes, records: int) -> None:
    with contextlib.suppress(DecodeError):
        decode_et09(garbage, records)


def test_an_event_in_both_logs_is_published_once() -> None:
    primary = _log(EventLog.PRIMARY, 10, [1, 2, 3])
    alternate = _log(EventLog.ALTERNATE, 10, [2])
    batch = events_after(None, [primary, alternate])
    assert [(e.sequence, e.log) for e in batch.events] == [
        (1, EventLog.PRIMARY),
        (2, EventLog.PRIMARY),
        (3, EventLog.PRIMARY),
    ]


@given(st.integers(1, 50), st.integers(0, 200))
def test_a_written_list_header_names_the_entries_it_holds(capacity: int, written: int) -> None:
    """The simulator's headers: after `written` entries (the k-th in element k % capacity),
    the newest `valid` elements, oldest first, are exactly those of the last entries written."""
    status = written_status(capacity, written, written)
    layout = ListLayout(26, "BT26", SMALL_LIST, 4, capacity)
    layout.check(status)
    held = [layout.element_of(status, age) for age in reversed(range(status.valid))]
    assert held == [k % capacity for k in range(written - min(written, capacity), written)]
    assert status.overflow == (written > capacity)
    assert backlog(status, None, SMALL_LIST).new == min(written, capacity)
