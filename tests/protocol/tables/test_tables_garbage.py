"""Decoders given garbage or cut-short data raise DecodeError or decode; nothing else escapes."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mepd.protocol.errors import DecodeError
from mepd.protocol.tables import (
    ActualRegister,
    DataSelection,
    FirmwareVersion,
    GeneralConfiguration,
    ManufacturerInfo,
    MfgDimensions,
    PresentRegisterSelection,
    RamOnlyStatus,
    SystemInformation,
    UtcClock,
    UtilityInformation,
    decode_bt00,
    decode_bt01,
    decode_bt21,
    decode_bt22,
    decode_bt23,
    decode_bt23_summations,
    decode_bt27,
    decode_bt28,
    decode_bt52,
    decode_et03,
    decode_et04,
    decode_et11,
    decode_et70,
    encode_bt00,
    encode_bt01,
    encode_bt21,
    encode_bt22,
    encode_bt23,
    encode_bt28,
    encode_bt52,
    encode_et03,
    encode_et04,
    encode_et11,
    encode_et70,
)
from mepd.protocol.tables.bt23 import bt23_size
from mepd.protocol.tables.bt28 import bt28_size
from tests.protocol.tables.strategies_tables import (
    actual_registers,
    current_register_data,
    data_selections,
    ltime_dates,
    present_register_data,
)

SPEC_BT21 = decode_bt21(bytes.fromhex("3F 0E 0C 0F 08 00 01 04 08 1A"))


def decodes_or_rejects(decode: Callable[[], Any]) -> None:
    """Decoding either works or raises DecodeError naming its table; nothing else escapes."""
    try:
        decode()
    except DecodeError as error:
        message = str(error)
    else:
        return
    assert re.match(r"(BT|ET)\d\d: ", message), message


NO_DIMS: list[tuple[str, Callable[[bytes], Any]]] = [
    ("BT00", decode_bt00),
    ("BT01", decode_bt01),
    ("BT21", decode_bt21),
    ("BT52", decode_bt52),
    ("ET03", decode_et03),
    ("ET04", decode_et04),
    ("ET11", decode_et11),
    ("ET70", decode_et70),
]


@pytest.mark.parametrize(("table", "decode"), NO_DIMS, ids=[t for t, _ in NO_DIMS])
@given(data=st.binary(max_size=300))
def test_tables_without_dimensions_take_any_bytes(
    table: str, decode: Callable[[bytes], Any], data: bytes
) -> None:
    decodes_or_rejects(lambda: decode(data))


@given(data=st.binary(max_size=200), offset=st.integers(0, 200))
def test_windowed_tables_take_any_window(data: bytes, offset: int) -> None:
    decodes_or_rejects(lambda: decode_et04(data, offset=offset))
    decodes_or_rejects(lambda: decode_et11(data, offset=offset))
    decodes_or_rejects(lambda: decode_et70(data, offset=offset))


@given(st.data())
def test_dimensioned_tables_take_any_bytes(data: st.DataObject) -> None:
    dims = data.draw(actual_registers())
    size = bt23_size(dims)
    raw = data.draw(st.one_of(st.binary(max_size=700), st.binary(min_size=size, max_size=size)))
    selection = data.draw(st.one_of(st.none(), data_selections(dims)))
    decodes_or_rejects(lambda: decode_bt22(raw, dims))
    decodes_or_rejects(lambda: decode_bt23(raw, dims, selection))
    decodes_or_rejects(lambda: decode_bt23_summations(raw, dims, selection))
    decodes_or_rejects(lambda: decode_bt27(raw, dims))
    decodes_or_rejects(lambda: decode_bt27(raw, dims, offset=dims.present_demands))
    decodes_or_rejects(lambda: decode_bt28(raw[: bt28_size(dims)], dims))


@given(dims=actual_registers(), garbage=st.binary(min_size=1, max_size=20))
def test_bt23_with_random_demand_times_rejects_invalid_dates(
    dims: ActualRegister, garbage: bytes
) -> None:
    raw = (garbage * (bt23_size(dims) // len(garbage) + 1))[: bt23_size(dims)]
    decodes_or_rejects(lambda: decode_bt23(raw, dims))


def every_truncation(valid: bytes, decode: Callable[[bytes], Any]) -> None:
    for end in range(len(valid)):
        decodes_or_rejects(partial(decode, valid[:end]))


@given(st.data())
def test_truncated_dimensioned_tables(data: st.DataObject) -> None:
    dims = data.draw(actual_registers(max_tiers=2))
    selection = data.draw(data_selections(dims))
    bt22 = encode_bt22(selection)
    bt23 = encode_bt23(data.draw(current_register_data(dims, selection)), dims)
    bt28 = (
        encode_bt28(data.draw(present_register_data(dims, None)), dims)
        if (dims.present_values <= 84)
        else b""
    )
    every_truncation(bt22, lambda d: decode_bt22(d, dims))
    every_truncation(bt23, lambda d: decode_bt23(d, dims, selection))
    every_truncation(bt23, lambda d: decode_bt23_summations(d, dims, selection))
    every_truncation(bt28, lambda d: decode_bt28(d, dims))
    every_truncation(encode_bt21(dims), decode_bt21)


@given(moment=ltime_dates)
def test_truncated_clock(moment: datetime) -> None:
    every_truncation(encode_bt52(UtcClock(moment)), decode_bt52)


def test_truncated_fixed_tables() -> None:
    config = GeneralConfiguration(False, 1, 2, 1, False, 0, 8, 8, "NES", 2, 0, 255, 12, 1, 0,
                                  10, 13, 2, 12, 9, 2, reserved=bytes(5))  # fmt: skip
    every_truncation(encode_bt00(config), decode_bt00)
    info = ManufacturerInfo("NES", "MTR3000", 1, 2, FirmwareVersion(3, 10, 21), "0012345678901234")
    every_truncation(encode_bt01(info), decode_bt01)
    every_truncation(encode_et03(UtilityInformation("1234567", 0xBEEF)), decode_et03)
    every_truncation(encode_et04(SystemInformation(idt_version=3)), decode_et04)
    every_truncation(encode_et11(MfgDimensions(number_of_devices=6)), decode_et11)
    every_truncation(encode_et70(RamOnlyStatus(1)), decode_et70)


def test_short_data_names_table_and_sizes() -> None:
    with pytest.raises(DecodeError, match=r"BT21: expected 10 bytes, got 9"):
        decode_bt21(bytes(9))
    with pytest.raises(DecodeError, match=r"BT23: expected 981 bytes.*got 980"):
        decode_bt23(bytes(980), SPEC_BT21)
    with pytest.raises(DecodeError, match=r"BT28: expected 136 bytes.*got 137"):
        decode_bt28(bytes(137), SPEC_BT21)
    with pytest.raises(DecodeError, match=r"BT23: expected at least 1 bytes"):
        decode_bt23_summations(b"", SPEC_BT21)
    with pytest.raises(DecodeError, match=r"BT23: 982 bytes is more than the 981-byte table"):
        decode_bt23_summations(bytes(982), SPEC_BT21)


def test_inconsistent_selection_is_a_decode_error() -> None:
    wrong = PresentRegisterSelection(tuple(range(25)), tuple(range(8)))
    with pytest.raises(DecodeError, match=r"BT27 lists 25 present values, BT21\.9 says 26"):
        decode_bt28(bytes(136), SPEC_BT21, wrong)
    selection = DataSelection(tuple(range(11)), (), (), (), ())
    with pytest.raises(DecodeError, match="BT22 lists"):
        decode_bt23(bytes(981), SPEC_BT21, selection)


def test_invalid_dates_are_decode_errors() -> None:
    with pytest.raises(DecodeError, match="BT52"):
        decode_bt52(bytes.fromhex("04 0D 10 0F 3B 37"))  # month 13
    with pytest.raises(DecodeError, match="BT52"):
        decode_bt52(bytes.fromhex("04 02 1E 0F 3B 37"))  # 30 February
    with pytest.raises(DecodeError, match="BT52"):
        decode_bt52(bytes.fromhex("04 02 10 18 3B 37"))  # hour 24
