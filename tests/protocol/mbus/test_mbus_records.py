"""EN 13757-3 records: a real gas meter's telegram, the guide's DRHs, round-trips and garbage."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mepd.protocol.errors import DecodeError
from mepd.protocol.mbus import (
    MBusUnit,
    MBusValue,
    MediumKind,
    Quantity,
    SkippedRecord,
    SkipReason,
    TimePoint,
    decode_records,
    decode_telegram,
    drh_length,
    parse_drh,
)
from mepd.protocol.mbus import encode as mbus
from mepd.protocol.mbus.records import value_information
from mepd.protocol.mbus.units import (
    PRIMARY,
    decode_bcd,
    decode_manufacturer,
    encode_bcd,
    encode_manufacturer,
)

# An Actaris (ACW) gas meter's RSP_UD user data, from the CI field on (CI, checksum and stop
# byte left out), as published with its field-by-field reading by W. Hottgenroth, "M-Bus
# Master, Part 4 (Gas)", 2013-09-11 (gitea.hottis.de/wn/homepage, posts/2013-09-11.01).
ACTARIS_GAS = bytes.fromhex(
    "43 60 52 00 77 04 14 03 CA 10 00 00"  # ID 00526043, ACW, version 0x14, gas, access, status
    "0C 78 76 03 01 10"  # fabrication number
    "0D 7C 08 44 49 20 2E 74 73 75 63 0A 30 30 30 30 30 30 30 30 30 30"  # "cust. ID" text
    "04 6D 38 15 AA 19"  # time point, type F
    "02 7C 09 65 6D 69 74 20 2E 74 61 62 22 0C"  # "bat. time"
    "04 13 C1 0E 00 00"  # volume, 10^-3 m³, 3777
    "04 93 7F 4E 01 00 00"  # volume with a manufacturer-specific VIFE
    "44 13 5D 08 00 00"  # storage 1
    "0F 01 00 1F"  # manufacturer-specific data
)


def test_a_real_gas_meter_telegram_gives_its_identity_volume_and_clock() -> None:
    telegram = decode_telegram(ACTARIS_GAS)
    assert telegram.identity.serial == "00526043"
    assert telegram.identity.manufacturer == "ACW"
    assert (telegram.identity.version, telegram.identity.medium) == (0x14, 3)
    assert telegram.identity.kind is MediumKind.GAS
    assert (telegram.access_number, telegram.status, telegram.signature) == (0xCA, 0x10, 0)
    assert telegram.values == (
        MBusValue(Quantity.VOLUME, Decimal("3.777"), MBusUnit.CUBIC_METRE, b"\x04\x13"),
    )
    assert telegram.first(Quantity.VOLUME) == telegram.values[0]
    assert telegram.first(Quantity.ENERGY) is None
    assert telegram.time_point == datetime(2013, 9, 10, 21, 56)
    assert [item.reason for item in telegram.skipped] == [
        SkipReason.UNKNOWN_VIF,  # fabrication number
        SkipReason.UNKNOWN_VIF,  # text unit
        SkipReason.UNKNOWN_VIF,  # text unit
        SkipReason.UNKNOWN_VIFE,
        SkipReason.STORED,
        SkipReason.MANUFACTURER,
    ]


def test_the_guides_et57_drh_is_uncorrected_litres_in_8_bcd_digits() -> None:
    """p.33: "0C 93 3A means 8-digit BCD representing non-temperature corrected cubic meters"."""
    header, used = parse_drh(bytes.fromhex("0C 93 3A 00"))
    assert used == 3 == drh_length(bytes.fromhex("0C 93 3A"))
    assert (header.data_field, header.vif, header.vifes) == (0xC, 0x93, (0x3A,))
    meaning = value_information(header)
    assert not isinstance(meaning, SkipReason)
    info, corrected = meaning
    assert (info.quantity, info.unit, info.exponent, corrected) == (
        Quantity.VOLUME,
        MBusUnit.CUBIC_METRE,
        -3,
        False,
    )
    (value,) = decode_records(bytes.fromhex("0C 93 3A 78 56 34 12"))
    assert isinstance(value, MBusValue)
    assert (value.value, value.corrected) == (Decimal("12345.678"), False)


def test_a_6_byte_time_stamp_is_skipped_not_fatal() -> None:
    """p.32 names DRH `06 6D` (a 6-byte date and time), a format mepd does not decode."""
    (item,) = decode_records(bytes.fromhex("06 6D 00 00 00 00 00 00"))
    assert item == SkippedRecord(b"\x06\x6d", SkipReason.TIME_FORMAT)


def test_manufacturer_ids_follow_the_guides_formula() -> None:
    """p.92: [ASCII(1st) - 64] x 32 x 32 + [ASCII(2nd) - 64] x 32 + [ASCII(3rd) - 64]."""
    assert encode_manufacturer("ACW") == (1 * 32 * 32 + 3 * 32 + 23) == 0x0477
    assert decode_manufacturer(0x0477) == "ACW"
    assert decode_manufacturer(0) == "???"
    with pytest.raises(ValueError, match="three letters"):
        encode_manufacturer("ac1")


@pytest.mark.parametrize(
    ("record", "quantity", "value", "unit"),
    [
        ("04 06 D2 04 00 00", Quantity.ENERGY, "1234", MBusUnit.KILOWATT_HOUR),  # 10^3 Wh
        ("04 03 D2 04 00 00", Quantity.ENERGY, "1.234", MBusUnit.KILOWATT_HOUR),  # Wh
        ("04 0E D2 04 00 00", Quantity.ENERGY, "1.234", MBusUnit.GIGAJOULE),  # 10^6 J
        ("02 FB 09 05 00", Quantity.ENERGY, "5", MBusUnit.GIGAJOULE),  # FB: 10^0 GJ
        ("02 FB 01 05 00", Quantity.ENERGY, "5000", MBusUnit.KILOWATT_HOUR),  # FB: 10^0 MWh
        ("0B 16 56 34 12", Quantity.VOLUME, "123456", MBusUnit.CUBIC_METRE),  # 6 BCD, m³
        ("0A 13 34 F2", Quantity.VOLUME, "-0.234", MBusUnit.CUBIC_METRE),  # F nibble: minus
        ("01 13 FF", Quantity.VOLUME, "-0.001", MBusUnit.CUBIC_METRE),  # type B is signed
        ("02 5A 2C 01", Quantity.FLOW_TEMPERATURE, "30.0", MBusUnit.CELSIUS),
        ("02 AB 7D 05 00", Quantity.POWER, "5000", MBusUnit.WATT),  # VIFE 7D: x 1000
        ("04 93 75 0A 00 00 00", Quantity.VOLUME, "0.0010", MBusUnit.CUBIC_METRE),  # x 10^-1
    ],
)
def test_units_and_exponents(record: str, quantity: Quantity, value: str, unit: MBusUnit) -> None:
    (item,) = decode_records(bytes.fromhex(record))
    assert isinstance(item, MBusValue)
    assert (item.quantity, item.value, item.unit) == (quantity, Decimal(value), unit)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("44 13 01 00 00 00", SkipReason.STORED),
        ("84 10 13 01 00 00 00", SkipReason.TARIFF),  # DIFE tariff 1
        ("84 40 13 01 00 00 00", SkipReason.SUBUNIT),
        ("14 13 01 00 00 00", SkipReason.FUNCTION),  # maximum
        ("0A 13 AB 00", SkipReason.NOT_BCD),
        ("05 13 00 00 80 3F", SkipReason.REAL),
        ("0D 13 02 01 02", SkipReason.VARIABLE),
        ("04 FD 17 00 00 00 00", SkipReason.UNKNOWN_VIF),
        ("04 6D 00 00 00 00", SkipReason.TIME_INVALID),  # day 0
        ("04 6D 80 00 21 01", SkipReason.TIME_INVALID),  # IV bit
        ("04 13 01 00", SkipReason.TRUNCATED),
        ("3F 13", SkipReason.RESERVED),
        ("0D 13 F9", SkipReason.RESERVED),  # reserved LVAR
    ],
)
def test_records_mepd_leaves_alone_say_why(record: str, reason: SkipReason) -> None:
    items = decode_records(bytes.fromhex(record))
    assert isinstance(items[-1], SkippedRecord)
    assert items[-1].reason is reason


def test_idle_fillers_are_not_records() -> None:
    items = decode_records(bytes.fromhex("2F 2F 01 13 05 2F"))
    assert [type(item) for item in items] == [MBusValue]


VOLUME_AND_ENERGY_VIFS = sorted(
    vif for vif, info in PRIMARY.items() if info.quantity in (Quantity.VOLUME, Quantity.ENERGY)
)


@given(
    vif=st.sampled_from(VOLUME_AND_ENERGY_VIFS),
    digits=st.sampled_from([None, 2, 4, 6, 8, 12]),
    size=st.sampled_from([1, 2, 3, 4, 6, 8]),
    number=st.integers(0, 10**12 - 1),
)
def test_encoded_records_decode_to_the_same_value(
    vif: int, digits: int | None, size: int, number: int
) -> None:
    limit = 10**digits if digits else 1 << (8 * size - 1)
    number %= limit
    record = mbus.encode_record(vif, number, bcd_digits=digits, size=size)
    (item,) = decode_records(record)
    assert isinstance(item, MBusValue)
    assert item.value == Decimal(number).scaleb(PRIMARY[vif].exponent)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
def test_type_f_time_points_round_trip(moment: datetime) -> None:
    moment = moment.replace(second=0, microsecond=0)
    (item,) = decode_records(mbus.encode_date_time(moment))
    assert item == TimePoint(moment, bytes((0x04, 0x6D)))


@given(st.integers(0, 10**8 - 1))
def test_bcd_round_trips(value: int) -> None:
    assert decode_bcd(encode_bcd(value, 4)) == value


@given(st.binary(max_size=300))
def test_garbage_records_never_raise(data: bytes) -> None:
    for item in decode_records(data):
        assert isinstance(item, MBusValue | TimePoint | SkippedRecord)


@given(st.binary(max_size=80))
def test_garbage_telegrams_raise_only_decode_errors(data: bytes) -> None:
    try:
        decode_telegram(data)
    except DecodeError:
        assert len(data) < 12
