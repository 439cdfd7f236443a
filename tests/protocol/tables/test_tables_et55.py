"""ET55 Energy Register Unit: its offset from the guide's formula, golden bytes, round-trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mepd.protocol.errors import DecodeError
from mepd.protocol.tables import (
    EnergyRegisterUnit,
    decode_et55_energy_unit,
    encode_et55,
    energy_unit_offset,
    may_have_energy_unit,
)


def test_offsets_follow_the_guide() -> None:
    # p.155: A = 146 + 4 * (BT20.7 - 1) on 3.X, 147 + ... on 4.0+; p.158: the unit at A + 39.
    assert energy_unit_offset(4, gen4=False) == 146 + 12 + 39 == 197
    assert energy_unit_offset(4, gen4=True) == 198
    assert energy_unit_offset(8, gen4=True) == 147 + 28 + 39 == 214
    assert energy_unit_offset(1, gen4=False) == 185  # no step tariff thresholds at all
    with pytest.raises(ValueError, match=r"BT20\.7"):
        energy_unit_offset(0, gen4=False)


def test_golden_one_byte_read() -> None:
    # p.158's example: with units of 10, a register value of 10 is 100 Wh.
    assert decode_et55_energy_unit(b"\x0a", offset=197, max_tiers=4, gen4=False).multiplier == 10
    assert decode_et55_energy_unit(b"\x64", offset=214, max_tiers=8, gen4=True).multiplier == 100
    assert decode_et55_energy_unit(b"\x01", offset=198, max_tiers=4, gen4=True).multiplier == 1


def test_a_unit_the_guide_does_not_allow_has_no_multiplier() -> None:
    for raw in (0, 2, 5, 50, 255):
        assert (
            decode_et55_energy_unit(bytes((raw,)), offset=197, max_tiers=4, gen4=False).multiplier
            is None
        )


def test_the_byte_is_found_inside_a_longer_read() -> None:
    table = encode_et55(EnergyRegisterUnit(100), max_tiers=4, gen4=False)
    assert len(table) == 198
    assert table[197] == 100
    assert not any(table[:197])
    assert decode_et55_energy_unit(table[150:], offset=150, max_tiers=4, gen4=False).raw == 100


def test_the_tier_count_moves_the_byte() -> None:
    # Four tiers on a 3.X meter put the unit at 197; eight would put it 16 bytes further.
    table = encode_et55(EnergyRegisterUnit(10), max_tiers=4, gen4=False, size=240)
    assert decode_et55_energy_unit(table, offset=0, max_tiers=8, gen4=False).raw == 0


def test_a_read_that_misses_the_byte_is_refused() -> None:
    with pytest.raises(DecodeError, match="ET55"):
        decode_et55_energy_unit(b"", offset=197, max_tiers=4, gen4=False)


def test_firmware_gate() -> None:
    # p.118, p.158: the field exists from fw 3.70.
    assert not may_have_energy_unit(3, 50)
    assert not may_have_energy_unit(3, 69)
    assert may_have_energy_unit(3, 70)
    assert may_have_energy_unit(4, 0)


@given(
    raw=st.integers(0, 255),
    max_tiers=st.integers(1, 8),
    gen4=st.booleans(),
    extra=st.integers(0, 40),
)
def test_round_trips(raw: int, max_tiers: int, gen4: bool, extra: int) -> None:
    at = energy_unit_offset(max_tiers, gen4=gen4)
    table = encode_et55(
        EnergyRegisterUnit(raw), max_tiers=max_tiers, gen4=gen4, size=at + 1 + extra
    )

    def decode(data: bytes, offset: int) -> EnergyRegisterUnit:
        return decode_et55_energy_unit(data, offset=offset, max_tiers=max_tiers, gen4=gen4)

    assert decode(table, 0).raw == raw
    assert decode(table[at : at + 1], at) == EnergyRegisterUnit(raw)
    with pytest.raises(DecodeError):  # one byte early: the field is not in the read
        decode(table[at - 1 : at], at - 1)
