"""The gen4-mbus profile: gas and water sub-meters whose tables decode to the simulator's truth."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from mepd.drivers.simulator import mbus as sim
from mepd.drivers.simulator.mbus_tables import billing_read
from mepd.drivers.simulator.physics import PhysicsModel
from mepd.drivers.simulator.profiles import GEN4_MBUS, MBUS_SUB_METERS, PROFILES
from mepd.drivers.simulator.tables import LiveState, MeterTables
from mepd.protocol import PartialRead
from mepd.protocol.mbus import MediumKind, Quantity
from mepd.protocol.tables import assemble
from mepd.protocol.tables.et14 import decode_et14, plan_et14
from mepd.protocol.tables.et16 import decode_billing_read, decode_et16
from mepd.protocol.tables.et36 import LogDimensions, decode_et45_dimensions, plan_et45_dimensions
from mepd.protocol.tables.et45 import (
    RecurringRead,
    decode_entry,
    decode_log_header,
    pending_entries,
    plan_entry,
    plan_log_header,
    rest_of_entry,
    still_held,
)
from mepd.protocol.tables.et57 import decode_et57, plan_et57
from mepd.protocol.tables.ids import ET16

from .conftest import MakeClient

SETUP = MBUS_SUB_METERS
GAS, WATER = SETUP.devices
WALL = 1_796_083_200.0 + 5 * 86_400 + 3_700  # 2026-12-06 01:01:40 UTC


class Tables:
    """The profile's tables at a wall time, read the way a client plans its reads."""

    def __init__(self, wall: float) -> None:
        physics = PhysicsModel(start_wall=wall)
        self.tables = MeterTables(GEN4_MBUS, physics)
        self.truth = physics.truth_at(0)

    def read(self, plan: tuple[PartialRead, ...]) -> bytes:
        answers = []
        for part in plan:
            data = self.tables.read(part.table, self.truth, LiveState(0, 0))
            assert data is not None
            answers.append(data[part.offset : part.offset + part.count])
        return assemble(plan, answers)

    def dimensions(self) -> LogDimensions:
        return decode_et45_dimensions(self.read(plan_et45_dimensions()))

    def entry(self, element: int, dims: LogDimensions) -> RecurringRead:
        data = self.read(plan_entry(element, dims))
        return decode_entry(data + self.read(rest_of_entry(element, dims, data)), element)


def _matches(entry: RecurringRead, truth: sim.ScheduledRead) -> None:
    assert entry.succeeded
    assert entry.handle == truth.device.handle
    assert entry.read is not None
    assert entry.read.timestamp == truth.local_time
    assert entry.read.telegram is not None
    volume = entry.read.telegram.first(Quantity.VOLUME)
    assert volume is not None
    assert volume.value == truth.volume_m3


def test_the_profile_is_listed_with_two_commissioned_sub_meters() -> None:
    assert PROFILES["gen4-mbus"] is GEN4_MBUS
    assert [(d.slot, d.handle, d.medium) for d in SETUP.devices] == [(1, 101, 3), (2, 102, 7)]


def test_et14_says_which_slots_hold_which_handles() -> None:
    status = decode_et14(Tables(WALL).read(plan_et14()))
    assert [(slot.slot, slot.handle) for slot in status.devices] == [(1, 101), (2, 102)]
    assert status.occupancy == 0b11
    latest = sim.read_at(SETUP, GAS, sim.periods_done(SETUP, GAS, WALL) - 1)
    assert status.devices[0].status_read_time == latest.local_time


def test_et16_gives_each_devices_identity_and_latest_read() -> None:
    tables = Tables(WALL)
    reads = decode_et16(tables.read((PartialRead(ET16, 0, 465), PartialRead(ET16, 465, 52))))
    gas = reads[0]
    assert gas.identity is not None
    assert (gas.identity.kind, gas.identity.manufacturer) == (MediumKind.GAS, "ACW")
    assert gas.identity.serial == f"{GAS.serial:08d}"
    assert gas.telegram is not None
    volume = gas.telegram.first(Quantity.VOLUME)
    assert volume is not None
    assert volume.corrected is False  # the guide's `0C 93 3A` (p.33)
    latest = sim.read_at(SETUP, GAS, sim.periods_done(SETUP, GAS, WALL) - 1)
    assert volume.value == latest.volume_m3


def test_et45_holds_the_truths_reads_in_order() -> None:
    tables = Tables(WALL)
    dims = tables.dimensions()
    assert (dims.entry_size, dims.current_entries) == (525, 96)
    header = decode_log_header(tables.read(plan_log_header()))
    pending = pending_entries(header, dims.current_entries, None)
    truth = sim.reads_until(SETUP, WALL)
    assert len(pending.entries) == len(truth) == 96
    for (element, _), expected in list(zip(pending.entries, truth, strict=True))[-6:]:
        _matches(tables.entry(element, dims), expected)


def test_a_cursor_kept_across_three_hours_reads_exactly_the_new_reads() -> None:
    before = Tables(WALL)
    dims = before.dimensions()
    cursor = decode_log_header(before.read(plan_log_header())).last_sequence
    later = WALL + 3 * 3600
    after = Tables(later)
    header = decode_log_header(after.read(plan_log_header()))
    pending = pending_entries(header, dims.current_entries, cursor)
    new = sim.reads_until(SETUP, later)[-6:]
    assert (len(pending.entries), pending.lost) == (6, 0)
    for (element, sequence), expected in zip(pending.entries, new, strict=True):
        _matches(after.entry(element, dims), expected)
        assert still_held(header, sequence, dims.current_entries)


def test_et57_maps_the_devices_drhs() -> None:
    types = decode_et57(Tables(WALL).read(plan_et57()))
    assert [(t.mdt, t.drh.hex()) for t in types] == [(1, "0c933a"), (2, "0413"), (3, "046d")]


@given(index=st.integers(0, 200_000), seed=st.integers(0, 9))
def test_every_logged_read_decodes_to_its_truth(index: int, seed: int) -> None:
    read = sim.logged_read(SETUP, index, seed)
    decoded = decode_billing_read(billing_read(read))
    assert decoded.timestamp == read.local_time
    assert decoded.telegram is not None
    assert decoded.telegram.identity.serial == f"{read.device.serial:08d}"
    assert decoded.telegram.access_number == read.access_number
    volume = decoded.telegram.first(Quantity.VOLUME)
    assert volume is not None
    assert volume.value == read.volume_m3


@given(st.floats(0, 3 * 365 * 86_400), st.floats(0, 86_400))
def test_volume_never_falls(offset: float, step: float) -> None:
    wall = SETUP.commissioned + offset
    for device in SETUP.devices:
        assert device.litres_at(wall + step) >= device.litres_at(wall)


def test_daily_consumption_looks_like_a_household() -> None:
    """Gas about 2.6 m³ a day with heating peaks, water about 320 L with nothing at night."""
    midnight = 1_796_083_200.0
    for device in SETUP.devices:
        day = device.litres_at(midnight + 86_400) - device.litres_at(midnight)
        assert 0.7 * device.daily_litres < day < 1.3 * device.daily_litres
    night = WATER.litres_at(midnight + 4 * 3600) - WATER.litres_at(midnight + 1)
    assert night == 0
    evening = GAS.litres_at(midnight + 19 * 3600) - GAS.litres_at(midnight + 18 * 3600)
    small_hours = GAS.litres_at(midnight + 3 * 3600) - GAS.litres_at(midnight + 2 * 3600)
    assert evening > 5 * small_hours


def test_the_log_reads_through_the_mep_protocol(make_client: MakeClient) -> None:
    """One ET45 entry over MEP frames (the meter port), equal to the truth."""
    client = make_client("gen4-mbus", seed=7, start_wall=WALL)
    response = client.request(plan_log_header()[0])
    header = decode_log_header(response.data)
    dims = LogDimensions(0x82D, 525, 253, 96, True)
    element = header.last_element
    entry = decode_entry(client.request(plan_entry(element, dims)[0]).data, element)
    truth = sim.reads_until(SETUP, WALL + client.now, seed=7)[-1]
    _matches(entry, truth)
    assert truth.volume_m3 > Decimal(0)
