"""The simulated load profile: a week held at start, the guide's layouts, and the physics' truth.

Decoded with the client's codecs (`protocol/tables/lp_*.py`), so the two agree on every layout.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from mepd.drivers.simulator.factory import simulated_meter, with_load_profile_faults
from mepd.drivers.simulator.faults import FaultSettings
from mepd.drivers.simulator.outages import outages_between
from mepd.drivers.simulator.profiles import PROFILES
from mepd.drivers.simulator.registers import meter_summation
from mepd.drivers.simulator.tables import LiveState, MeterTables
from mepd.protocol.tables.codes_lp import CommonFlag
from mepd.protocol.tables.ids import BT61, BT62, BT63, BT64, ET21
from mepd.protocol.tables.lp_config import (
    decode_bt61,
    decode_bt62,
    decode_bt63,
    decode_et21,
)
from mepd.protocol.tables.lp_data import BlockLayout, decode_block_header, decode_intervals

START = 1_790_000_000.0 - 1_790_000_000.0 % 60 + 37  # not on an interval boundary
WEEK_S = 7 * 86_400


def _tables(profile: str, faults: FaultSettings | None = None) -> MeterTables:
    port = simulated_meter(PROFILES[profile], start_wall=START, seed=3, faults=faults)
    return port.meter.tables


def _read(tables: MeterTables, table: int, t: float = 0.0) -> bytes:
    data = tables.read(table, tables.physics.truth_at(t), LiveState(0, 0))
    assert data is not None
    return data


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_holds_a_week_of_15_minute_intervals_at_start(profile: str) -> None:
    tables = _tables(profile)
    bt61 = decode_bt61(_read(tables, BT61))
    (dims,) = bt61.sets
    assert dims.interval_s == 900
    (status,) = decode_bt63(_read(tables, BT63))
    held_s = ((status.valid_blocks - 1) * dims.intervals_per_block + status.valid_intervals) * 900
    assert held_s >= WEEK_S
    et21 = decode_et21(_read(tables, ET21))
    assert et21.last_block == status.last_block
    assert et21.interval_end_utc == datetime.fromtimestamp(START - START % 900, UTC).replace(
        tzinfo=None
    )
    # The newest interval's snapshot is the live BT23 register at its end (one physics).
    lp = tables.load_profile
    newest = lp.last_closed(START)
    (control,) = decode_bt62(_read(tables, BT62), bt61).sets
    BlockLayout.from_et21(et21, dims).check()
    at_start = tables.physics.truth_at(0.0)
    for channel, stored in zip(control, lp.snapshot(newest), strict=True):
        now = meter_summation(tables.profile, at_start, channel.source_id)
        assert 0 <= (now - stored) * channel.scalar <= tables.profile.load.ceiling_va() * 900 / 3600


def test_the_week_before_start_follows_the_outage_timeline() -> None:
    tables = _tables("gen4")
    lp = tables.load_profile
    first, last = lp.oldest_held(START), lp.last_closed(START)
    snapshots = [lp.snapshot(g) for g in range(first, last + 1)]
    for before, after in itertools.pairwise(snapshots):  # no channel ever falls
        assert all(b >= a for a, b in zip(before, after, strict=True))
    outages = outages_between(START - WEEK_S, START, seed=3)
    assert outages  # one every 2.5 days
    for outage in outages:
        g = lp.interval_at(datetime.fromtimestamp(outage.start - outage.start % 900 + 900, UTC))
        if g >= first:
            assert CommonFlag.POWER_OUTAGE in lp.flags(g)
            inside = outage.overlap_s(lp._end(g - 1), lp._end(g))
            if inside == 900:  # out for the whole interval: nothing drawn
                assert lp.expected(g).energy_wh["energy_import"] == 0
    flagged = sum(bool(lp.flags(g)) for g in range(first, last + 1))
    assert 0 < flagged < 20


def test_the_stored_blocks_decode_to_the_truth() -> None:
    tables = _tables("gen4")
    dims = decode_bt61(_read(tables, BT61)).sets[0]
    et21 = decode_et21(_read(tables, ET21))
    layout = BlockLayout.from_et21(et21, dims)
    data = _read(tables, BT64)
    lp = tables.load_profile
    block = data[et21.last_block * layout.block_size :][: layout.block_size]
    header = decode_block_header(block, layout)
    assert header.last_processed == et21.last_interval
    intervals = decode_intervals(
        block[layout.interval0_offset :][: layout.interval_size * (et21.last_interval + 1)],
        layout,
        0,
    )
    first = lp.last_closed(START) - et21.last_interval
    for interval in intervals:
        assert interval.values == lp.snapshot(first + interval.index)
        assert interval.common == lp.flags(first + interval.index)


def test_new_intervals_close_on_the_wall_clock() -> None:
    tables = _tables("gen4")
    before = decode_et21(_read(tables, ET21, 0.0))
    after = decode_et21(_read(tables, ET21, 1800.0))
    assert before.interval_end_utc is not None
    assert after.interval_end_utc is not None
    assert (after.interval_end_utc - before.interval_end_utc).total_seconds() == 1800
    lp = tables.load_profile
    g = lp.last_closed(START + 1800.0)
    truth = tables.physics.truth_at(lp._end(g) - START)
    assert lp.snapshot(g)[0] == truth.energy.forward_wh  # the live register, exactly


def test_one_minute_intervals_and_a_wrapping_list_are_knobs() -> None:
    faults = FaultSettings(lp_interval_min=1, lp_blocks=2, lp_block_intervals=60)
    profile = with_load_profile_faults(PROFILES["gen4"], faults)
    assert profile.load_profile is not None
    assert profile.load_profile.interval_s == 60
    tables = _tables("gen4", faults)
    (dims,) = decode_bt61(_read(tables, BT61)).sets
    assert (dims.blocks, dims.intervals_per_block, dims.interval_s) == (2, 60, 60)
    lp = tables.load_profile
    # Two hours on, the intervals held at start are overwritten.
    assert lp.oldest_held(START + 7200) > lp.last_closed(START)
