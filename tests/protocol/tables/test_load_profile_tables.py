"""Load profile codecs (p.93-98, p.171, p.233-241): golden bytes laid out by the guide's offsets,
round trips through the simulator's encoders, garbage, and read planning within 465 bytes."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mepd.protocol.errors import DecodeError
from mepd.protocol.frames import MAX_READ_COUNT
from mepd.protocol.tables.codes_lp import CommonFlag
from mepd.protocol.tables.ids import BT64
from mepd.protocol.tables.lp_config import (
    ActualLoadProfile,
    ChannelControl,
    DataSetDims,
    DataSetStatus,
    LoadProfileControl,
    LoadProfileInternal,
    channel_source,
    decode_bt61,
    decode_bt62,
    decode_bt63,
    decode_et21,
    decode_et66,
    encode_bt61,
    encode_bt62,
    encode_bt63,
    encode_et21,
)
from mepd.protocol.tables.lp_data import (
    BlockLayout,
    decode_block_header,
    decode_block_start,
    decode_intervals,
    encode_block,
    interval_end,
    plan_intervals,
)
from mepd.protocol.tables.names import ValueName

# BT61 for one data set (p.233-234): memory length 7816, flags 0x0C40 (extended and simple
# status always on, bit 6: scalars and divisors for set 1), INT32 (bit 5), then 8 blocks of
# 96 intervals, 2 channels, 15 minutes.
BT61_GOLDEN = bytes.fromhex("881e0000 400c 20 0800 6000 02 0f")
# BT63 (p.237-238): flags 0x26 (overflow, circular, active), 8 valid blocks, last block 5,
# block sequence 20717, 8 unread, 56 valid intervals.
BT63_GOLDEN = bytes.fromhex("26 0800 0500 ed500000 0800 3800")
# One interval of a 2-channel set (p.239-240): extended status 2 bytes (high nibble of byte 0
# common: power fail = bit 1; low nibble channel 0; byte 1 high nibble channel 1 = 4 skipped),
# then INT32 values 1000 and -2.
INTERVAL_GOLDEN = bytes.fromhex("20 40 e8030000 feffffff")


def test_bt61_golden() -> None:
    table = decode_bt61(BT61_GOLDEN)
    assert table.sets == (DataSetDims(8, 96, 2, 15),)
    assert table.scalar_divisor == (True, False, False, False)
    assert table.int32_supported
    assert not table.end_readings
    assert table.sets[0].interval_s == 900
    assert encode_bt61(table) == BT61_GOLDEN


def test_a_24_hour_interval_is_code_84() -> None:
    assert DataSetDims(1, 1, 1, 84).interval_s == 86_400
    with pytest.raises(DecodeError):
        decode_bt61(BT61_GOLDEN[:-1] + bytes((61,)))


def test_bt63_golden() -> None:
    (status,) = decode_bt63(BT63_GOLDEN)
    assert status == DataSetStatus(True, True, 8, 5, 20717, 8, 56)
    assert encode_bt63((status,))[1:] == BT63_GOLDEN[1:]


def test_an_interval_golden() -> None:
    dims = DataSetDims(1, 1, 2, 15)
    layout = BlockLayout.of(dims)
    assert (layout.interval_size, layout.channel0_offset) == (10, 2)
    (interval,) = decode_intervals(INTERVAL_GOLDEN, layout, 0)
    assert interval.common == frozenset({CommonFlag.POWER_OUTAGE})
    assert interval.channel_status == ("ok", "skipped")
    assert interval.values == (1000, -2)


def test_block_layout_follows_the_guide_offsets() -> None:
    """p.238-239: end time 5 bytes, simple status (96 + 7) // 8 = 12, intervals after."""
    layout = BlockLayout.of(DataSetDims(8, 96, 2, 15))
    assert layout.simple_status_offset == 5
    assert layout.simple_status_size == 12
    assert layout.interval0_offset == 17
    assert layout.block_size == 17 + 96 * 10


def test_channels_name_their_energy_register() -> None:
    assert channel_source(0).name == ValueName.ENERGY_IMPORT
    assert channel_source(1).name == ValueName.ENERGY_EXPORT
    # p.30: 112..163 are mapped through ET66; p.31: 0x4001 is M-Bus device 0, MDT 1.
    mapped = channel_source(112, decode_et66(bytes.fromhex("0140")))
    assert mapped.name == "lp_source_0x4001"
    assert channel_source(113, ()).name == "lp_mapped_113"


@st.composite
def layouts(draw: st.DrawFn) -> tuple[BlockLayout, DataSetDims]:
    dims = DataSetDims(
        draw(st.integers(1, 40)),
        draw(st.integers(1, 200)),
        draw(st.integers(1, 16)),
        draw(st.sampled_from((1, 5, 15, 30, 60, 84))),
    )
    return BlockLayout.of(dims), dims


@given(layouts(), st.data())
def test_blocks_round_trip(drawn: tuple[BlockLayout, DataSetDims], data: st.DataObject) -> None:
    layout, dims = drawn
    count = data.draw(st.integers(1, dims.intervals_per_block))
    flags = st.frozensets(st.sampled_from(list(CommonFlag)))
    values = st.tuples(*[st.integers(-(2**31), 2**31 - 1)] * dims.channels)
    intervals = tuple((index, data.draw(flags), data.draw(values)) for index in range(count))
    end = datetime(2026, 12, 6, 3, 15)
    block = encode_block(layout, end, intervals)
    assert len(block) == layout.block_size
    header = decode_block_header(block, layout)
    assert header.end == end
    assert header.last_processed == count - 1
    assert header.processed == tuple(i < count for i in range(dims.intervals_per_block))
    decoded = decode_intervals(block[layout.interval0_offset :], layout, 0)
    for (index, common, raw), got in zip(intervals, decoded, strict=False):
        assert (got.index, got.common, got.values) == (index, common, raw)
    length = dims.interval_s
    assert interval_end(header, 0, timedelta(seconds=length)) <= end


@given(layouts(), st.data())
def test_a_block_start_read_gives_its_header_and_whole_intervals(
    drawn: tuple[BlockLayout, DataSetDims], data: st.DataObject
) -> None:
    layout, dims = drawn
    none: frozenset[CommonFlag] = frozenset()
    intervals = tuple((i, none, (i,) * dims.channels) for i in range(dims.intervals_per_block))
    block = encode_block(layout, datetime(2026, 12, 6, 3, 15), intervals)
    whole = data.draw(st.integers(0, dims.intervals_per_block))
    read = block[: layout.interval0_offset + whole * layout.interval_size]
    header, got = decode_block_start(read, layout)
    assert header == decode_block_header(block, layout)
    assert [i.index for i in got] == list(range(whole))
    cut = read + block[len(read) : len(read) + layout.interval_size - 1]
    if len(cut) > len(read):  # a partial interval: a planned read never ends so
        with pytest.raises(DecodeError):
            decode_block_start(cut, layout)
        assert decode_block_start(cut, layout, cut_short=True)[1] == got


@given(layouts(), st.data())
def test_plans_cover_whole_intervals_within_465_bytes(
    drawn: tuple[BlockLayout, DataSetDims], data: st.DataObject
) -> None:
    layout, dims = drawn
    block = data.draw(st.integers(0, dims.blocks - 1))
    first = data.draw(st.integers(0, dims.intervals_per_block - 1))
    count = data.draw(st.integers(1, dims.intervals_per_block - first))
    plan = plan_intervals(BT64, layout, block, first, count)
    assert plan[0].offset == layout.interval_offset(block, first)
    assert sum(read.count for read in plan) == count * layout.interval_size
    for read, after in itertools.pairwise(plan):
        assert after.offset == read.offset + read.count
    assert all(
        read.count <= MAX_READ_COUNT and read.count % layout.interval_size == 0 for read in plan
    )


@given(
    st.lists(
        st.tuples(st.integers(0, 255), st.integers(1, 9), st.integers(1, 9)),
        min_size=1,
        max_size=16,
    ),
    st.booleans(),
)
def test_bt62_round_trips(channels: list[tuple[int, int, int]], scaled: bool) -> None:
    dims = DataSetDims(2, 96, len(channels), 15)
    bt61 = ActualLoadProfile(0, False, (scaled, False, False, False), True, (dims,))
    controls = tuple(
        ChannelControl(s, k if scaled else 1, d if scaled else 1) for s, k, d in channels
    )
    table = LoadProfileControl((controls,))
    assert decode_bt62(encode_bt62(table, bt61), bt61) == table


@given(st.integers(1, 2**16 - 1), st.integers(0, 1439), st.integers(1, 16))
def test_et21_round_trips(blocks: int, last: int, channels: int) -> None:
    table = LoadProfileInternal(
        block_size=1234,
        block_header_size=17,
        valid_blocks=blocks,
        valid_intervals=last + 1,
        last_block=blocks - 1,
        last_interval=last,
        simple_status_offset=5,
        simple_status_size=12,
        interval0_offset=17,
        interval_size=10,
        channel0_offset=2,
        channels=channels,
        interval_code=15,
        config_id=7,
        interval_end_utc=datetime(2026, 12, 6, 4, 0),
    )
    assert decode_et21(encode_et21(table, (0, 1))) == table


@pytest.mark.parametrize("decoder", [decode_bt61, decode_bt63, decode_et21])
@given(raw=st.binary(max_size=140))
def test_garbage_raises_decode_error_or_decodes(
    decoder: Callable[[bytes], object], raw: bytes
) -> None:
    with contextlib.suppress(DecodeError):
        decoder(raw)


@given(st.binary(max_size=600), st.integers(1, 16))
def test_garbage_blocks_raise_decode_error_or_decode(raw: bytes, channels: int) -> None:
    layout = BlockLayout.of(DataSetDims(1, 96, channels, 15))
    for decode in (
        lambda: decode_block_header(raw, layout),
        lambda: decode_intervals(raw, layout, 0),
        lambda: decode_bt62(
            raw, ActualLoadProfile(0, False, (True,) * 4, True, (DataSetDims(1, 96, channels, 15),))
        ),
    ):
        with contextlib.suppress(DecodeError):
            decode()


def test_an_inconsistent_et21_layout_is_refused() -> None:
    dims = DataSetDims(8, 96, 2, 15)
    good = BlockLayout.of(dims)
    et21 = LoadProfileInternal(
        block_size=good.block_size - 1,
        block_header_size=good.header_size,
        valid_blocks=8,
        valid_intervals=1,
        last_block=0,
        last_interval=0,
        simple_status_offset=5,
        simple_status_size=12,
        interval0_offset=17,
        interval_size=10,
        channel0_offset=2,
        channels=2,
        interval_code=15,
        config_id=1,
        interval_end_utc=None,
    )
    with pytest.raises(DecodeError):
        BlockLayout.from_et21(et21, dims)
