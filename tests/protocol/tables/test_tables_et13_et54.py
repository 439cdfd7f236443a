"""ET13 alert flags and ET54 interface compatibility: offsets from the guide, round-trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mepd.protocol.errors import DecodeError
from mepd.protocol.tables import (
    InterfaceCompatibility,
    alert_flags_offset,
    decode_et13_alert_flags,
    decode_et54,
    encode_et13,
    encode_et54,
)


def test_alert_flag_offsets_are_entry_4_and_5_plus_8() -> None:
    # p.80-83 and notes §6.13: MEP1 at 4 * 66 + 8, MEP2 at 5 * 66 + 8.
    assert alert_flags_offset(1) == 272
    assert alert_flags_offset(2) == 338
    with pytest.raises(ValueError, match="1 or 2"):
        alert_flags_offset(3)


def test_alert_flag_bits() -> None:
    flags = decode_et13_alert_flags(b"\x1b", channel=1)
    assert (flags.scheduled_read, flags.on_demand_request, flags.mbus_change) == (
        True,
        True,
        True,
    )
    assert flags.delta_data


@given(channel=st.sampled_from([1, 2]), raw=st.integers(0, 255))
def test_et13_round_trips_through_the_whole_table(channel: int, raw: int) -> None:
    table = encode_et13(6, {channel: raw})
    assert decode_et13_alert_flags(table, channel=channel, offset=0).raw == raw


def test_et13_read_that_misses_the_flags_is_refused() -> None:
    with pytest.raises(DecodeError):
        decode_et13_alert_flags(bytes(8), channel=1, offset=0)


def test_multiple_mep_clients_is_bit_8() -> None:
    # p.133: bit 8 of the LSB-first UINT16 is bit 0 of byte 1.
    assert decode_et54(b"\x00\x01").multiple_mep_clients
    assert not decode_et54(b"\xff\x00").multiple_mep_clients


@given(raw=st.integers(0, 0xFFFF))
def test_et54_round_trips(raw: int) -> None:
    assert decode_et54(encode_et54(InterfaceCompatibility(raw))).raw == raw


def test_et54_short_read_is_refused() -> None:
    with pytest.raises(DecodeError):
        decode_et54(b"\x00")
