"""BT53/BT55 (p.225, p.229): the offsets that make a local meter time UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mepd.protocol.errors import DecodeError
from mepd.protocol.tables.local_clock import (
    BT53_SIZE,
    LocalClock,
    decode_bt53,
    decode_dst_now,
    encode_bt53,
    encode_bt55,
    plausible_offset,
)
from mepd.protocol.tables.meter_time import TimeBasis

LOCAL = datetime(2026, 7, 1, 2, 30)  # naive: as the meter writes it


def test_golden_bt53_bytes() -> None:
    # DST effective 02:00:00, 60 minutes, UTC+1 (60 = 3C 00): p.225's order
    assert decode_bt53(bytes.fromhex("0200003c3c00")) == (60, 60)
    assert decode_bt53(bytes.fromhex("00000000c4ff")) == (-60, 0)  # INT16 -60


@given(st.integers(-12 * 60, 14 * 60), st.integers(0, 255))
def test_bt53_round_trip(zone: int, dst: int) -> None:
    data = encode_bt53(zone, dst)
    assert len(data) == BT53_SIZE
    assert decode_bt53(data) == (zone, dst)
    assert plausible_offset(zone)


def test_an_offset_outside_the_firmwares_range_is_not_plausible() -> None:
    assert not plausible_offset(15 * 60)
    assert not plausible_offset(-13 * 60)


@pytest.mark.parametrize("dst", [False, True])
def test_bt55_dst_flag(dst: bool) -> None:
    assert decode_dst_now(encode_bt55(LOCAL, dst_now=dst)) is dst


def test_short_tables_are_decode_errors() -> None:
    with pytest.raises(DecodeError):
        decode_bt53(b"\x00" * 5)
    with pytest.raises(DecodeError):
        decode_dst_now(b"\x00" * 6)


def test_local_time_to_utc_takes_zone_and_dst() -> None:
    summer = LocalClock(zone_offset_min=60, dst_adjust_min=60, dst_now=True)
    assert summer.to_utc(LOCAL, TimeBasis.LOCAL) == datetime(2026, 7, 1, 0, 30, tzinfo=UTC)
    winter = LocalClock(zone_offset_min=60, dst_adjust_min=60, dst_now=False)
    assert winter.to_utc(LOCAL, TimeBasis.LOCAL) == datetime(2026, 7, 1, 1, 30, tzinfo=UTC)
    # A time already written in UTC (event logs, p.242) is left alone.
    assert summer.to_utc(LOCAL, TimeBasis.UTC) == LOCAL.replace(tzinfo=UTC)
