"""The tables against the guide's own bytes (p.16, p.49-50, p.199, p.256)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mepd.protocol.tables import (
    DEFAULT_PRESENT_VALUE_SOURCES,
    DEFAULT_SUMMATION_SOURCES,
    ET11,
    ET70,
    ActualRegister,
    FirmwareVersion,
    Unit,
    bt23_size,
    bt28_size,
    decode_bt01,
    decode_bt20,
    decode_bt21,
    decode_bt23_summations,
    decode_bt28,
    decode_bt52,
    decode_et04,
    decode_et11,
    decode_et70,
)
from tests.conftest import vector

# p.49: the BT21 record inside the ET53 example.
SPEC_BT21 = bytes.fromhex("3F 0E 0C 0F 08 00 01 04 08 1A")


def et53_records() -> list[bytes]:
    """The table data of each response inside the ET53 example (p.49-50)."""
    message = bytes.fromhex(vector("txn_read_ET53_full_response")["response_message_hex"])
    assert message[0] == 0x00
    count = int.from_bytes(message[1:3], "big")
    data = message[3 : 3 + count]
    assert int.from_bytes(data[0:2], "little") == 111  # transaction size
    at, records = 5, []
    while at + 2 < len(data):
        length = int.from_bytes(data[at : at + 2], "little")
        body = data[at + 2 : at + 2 + length]
        assert body[0] == 0x00  # ok
        records.append(body[3 : 3 + int.from_bytes(body[1:3], "big")])
        at += 2 + length
    return records


def test_et53_example_holds_six_records() -> None:
    records = et53_records()
    assert [len(r) for r in records] == [10, 10, 10, 1, 12, 31]
    assert records[2] == SPEC_BT21


def test_bt21_from_the_et53_example() -> None:
    dims = decode_bt21(SPEC_BT21)
    # p.201: 0x3F = bits 0-5; 0x0E = sequence number, daily, weekly.
    byte0 = (
        dims.season_info,
        dims.date_time_field,
        dims.demand_reset_counter,
        dims.demand_reset_lock,
        dims.cumulative_demand,
        dims.continuous_cumulative_demand,
        dims.time_remaining,
    )
    assert byte0 == (True, True, True, True, True, True, False)
    byte1 = (
        dims.self_read_inhibit_overflow,
        dims.self_read_sequence_number,
        dims.daily_self_read,
        dims.weekly_self_read,
    )
    assert byte1 == (False, True, True, True)
    assert dims.self_read_demand_reset == 0
    assert (
        dims.self_reads,
        dims.summations,
        dims.demands,
        dims.coincident_values,
        dims.occurrences,
        dims.tiers,
        dims.present_demands,
        dims.present_values,
    ) == (12, 15, 8, 0, 1, 4, 8, 26)
    # Byte 7 is tiers (not byte 8, the present demands).
    assert dims.tiers == 4


def test_spec_meter_sizes() -> None:
    dims = decode_bt21(SPEC_BT21)
    # 1 + 5 x (15*4 + 8 x (5 + 4 + 4 + 4)) = 981: more than one read can carry.
    assert bt23_size(dims) == 981
    assert bt28_size(dims) == 8 * 4 + 26 * 4 == 136


def test_bt20_from_the_et53_example() -> None:
    maximum = decode_bt20(et53_records()[1])
    assert maximum.self_reads == 253
    assert maximum.summations == 15
    assert maximum.coincident_values == 16
    assert maximum.present_values == 26


def test_et11_from_the_et53_example_is_lsb_first() -> None:
    dims = decode_et11(et53_records()[0])
    assert dims.number_of_devices == 5
    assert dims.config_entry_size == 66
    assert dims.status_entry_size == 36
    assert dims.on_demand_queue_size == 5
    assert dims.on_demand_entry_size == 6
    assert dims.data_entry_size == 517  # `05 02`, the default on p.78
    assert dims.transaction_request_length == 769  # `01 03`
    # Bytes 9-10 straddle the end of the 10-byte read: not guessed at.
    assert dims.transaction_response_length is None
    assert dims.mep_channel_count is None


def test_et04_byte_55_from_the_et53_example() -> None:
    info = decode_et04(et53_records()[3], offset=55)
    assert info.max_te_registers == 4  # p.58 default
    assert info.idt_version is None
    assert info.rated_voltage is None


def bt21_without_demand(summations: int = 11, tiers: int = 4) -> ActualRegister:
    return ActualRegister(
        season_info=True, date_time_field=True, demand_reset_counter=False,
        demand_reset_lock=False, cumulative_demand=False, continuous_cumulative_demand=False,
        time_remaining=False, self_read_inhibit_overflow=False,
        self_read_sequence_number=False, daily_self_read=True, weekly_self_read=True,
        self_read_demand_reset=0, self_reads=12, summations=summations, demands=0,
        coincident_values=0, occurrences=0, tiers=tiers, present_demands=0, present_values=26,
    )  # fmt: skip


def test_bt23_rc4_example_one() -> None:
    """p.16: 44 bytes of BT23 read at offset 0 on a meter with BT21.0.2 = 0."""
    message = bytes.fromhex(vector("rc4_ex1_second_read_BT23_response")["response_message_hex"])
    assert message[:3] == bytes.fromhex("00 00 2C")
    data = message[3:]
    assert len(data) == 44
    dims = bt21_without_demand()
    assert bt23_size(dims) == 220  # 5 x 44 (notes §6.6)
    reading = decode_bt23_summations(data, dims)
    assert reading.demand_resets is None
    assert [m.raw for m in reading.summations] == [0, 0, 0, 0, 8, 3, 0, 0, 0, 0, 6]
    outage = reading.summations.get("power_outage_duration")
    assert outage is not None
    assert (outage.value, outage.unit) == (8, Unit.SECOND)
    count = reading.summations.get("power_outage_count")
    assert count is not None
    assert count.value == 3
    errors = reading.summations.get("error_count")
    assert errors is not None
    assert errors.value == 6
    energy = reading.summations.get("energy_import")
    assert energy is not None
    assert energy.unit is Unit.WATT_HOUR


def test_bt23_prefix_with_demand_reset_byte() -> None:
    """`3F 0017 000000 000D` on a meter with A = 1: the reset count and three summations."""
    dims = decode_bt21(SPEC_BT21)
    data = bytes([7]) + (1234).to_bytes(4, "little") + (-5).to_bytes(4, "little", signed=True)
    data += (99).to_bytes(4, "little")
    reading = decode_bt23_summations(data, dims)
    assert reading.demand_resets == 7
    assert [m.name for m in reading.summations] == [
        "energy_import", "energy_export", "reactive_energy_import",
    ]  # fmt: skip
    assert [m.value for m in reading.summations] == [1234, -5, 99]


def test_bt23_prefix_never_reads_a_partial_register() -> None:
    """16 bytes with A = 1: three whole summations; the 4th's last byte is not there."""
    dims = decode_bt21(SPEC_BT21)
    reading = decode_bt23_summations(bytes(16), dims)
    assert len(reading.summations) == 3


def test_bt23_energy_unit_scales_energy_only() -> None:
    dims = bt21_without_demand()
    data = b"".join((10).to_bytes(4, "little") for _ in range(11))
    reading = decode_bt23_summations(data, dims, energy_unit=100)
    values = {m.name: m.value for m in reading.summations}
    assert values["energy_import"] == 1000
    assert values["reactive_energy_export"] == 1000
    assert values["power_outage_duration"] == 10
    assert values["error_count"] == 10


def test_bt23_prefix_uses_bt22_meanings() -> None:
    dims = bt21_without_demand()
    data = (5).to_bytes(4, "little") + (6).to_bytes(4, "little")
    reading = decode_bt23_summations(data, dims, sources=[1, 0])
    assert [m.name for m in reading.summations] == ["energy_export", "energy_import"]


def test_bt01_firmware_version_is_packed_msb_first() -> None:
    assert str(FirmwareVersion.from_packed(0x3155)) == "3.10.21"  # p.199
    assert str(FirmwareVersion.from_packed(0x3018)) == "3.00.24"
    data = b"NES " + b"MTR3000 " + bytes([0x12, 0x34]) + bytes([0x31, 0x55])
    info = decode_bt01(data)
    assert info.manufacturer == "NES"
    assert info.model == "MTR3000"
    assert (info.hardware_version, info.hardware_revision) == (0x12, 0x34)
    assert info.firmware == FirmwareVersion(3, 10, 21)
    assert str(info.firmware) == "3.10.21"
    assert info.serial_number is None
    assert FirmwareVersion(4, 0, 0) > info.firmware


def test_bt01_serial_number_bcd() -> None:
    data = b"NES " + b"MTR1000\x00" + bytes(2) + bytes([0x40, 0x01])
    info = decode_bt01(data + bytes.fromhex("0012345678901234"))
    assert info.serial_number == "0012345678901234"
    assert info.model == "MTR1000"


def test_bt52_appendix_b_example() -> None:
    """p.256: `04 02 10 0F 3B 37` = 2004-02-16 15:59:55."""
    clock = decode_bt52(bytes.fromhex("04 02 10 0F 3B 37"))
    assert clock.time == datetime(2004, 2, 16, 15, 59, 55, tzinfo=UTC)
    assert clock.time.tzinfo is UTC
    assert clock.flags is None
    # 2004-02-16 was a Monday (1); bit 4 = GMT.
    full = decode_bt52(bytes.fromhex("04 02 10 0F 3B 37") + bytes([0x11]))
    assert full.flags is not None
    assert full.flags.day_of_week == 1
    assert full.flags.gmt
    assert not full.flags.dst_in_effect


def test_bt28_default_order_and_units() -> None:
    dims = decode_bt21(SPEC_BT21)
    values = [0] * 26
    values[0] = 1500  # W
    values[4] = 6250  # mA
    values[8] = 231456  # mV
    values[10] = -987  # PF L1 x 1/1000
    values[11] = 50012  # mHz
    demands = b"".join((n * 100).to_bytes(4, "little") for n in range(8))
    data = demands + b"".join(v.to_bytes(4, "little", signed=True) for v in values)
    reading = decode_bt28(data, dims)
    assert len(reading.demands) == 8
    assert reading.demands[1].value.raw == 100
    assert reading.demands[0].time_remaining is None

    def value(name: str) -> tuple[float, Unit]:
        found = reading.get(name)
        assert found is not None
        return found.value, found.unit

    assert value("power_import") == (1500, Unit.WATT)
    assert value("current_l1") == pytest.approx((6.25, Unit.AMPERE))
    assert value("voltage_l2") == pytest.approx((231.456, Unit.VOLT))
    assert value("power_factor_l1") == pytest.approx((-0.987, Unit.RATIO))
    assert value("frequency") == pytest.approx((50.012, Unit.HERTZ))
    assert reading.values[25].name == "reactive_power_q4"


def test_bt28_time_remaining_adds_three_bytes_per_demand() -> None:
    dims = bt21_without_demand()
    dims = ActualRegister(**{**dims.__dict__, "time_remaining": True, "present_demands": 2,
                             "present_values": 1})  # fmt: skip
    assert bt28_size(dims) == 2 * 7 + 4
    data = bytes([0, 4, 30]) + (11).to_bytes(4, "little")
    data += bytes([0, 0, 5]) + (22).to_bytes(4, "little") + (230000).to_bytes(4, "little")
    reading = decode_bt28(data, dims)
    assert [d.value.raw for d in reading.demands] == [11, 22]
    remaining = reading.demands[0].time_remaining
    assert remaining is not None
    assert remaining.total_seconds() == 270
    assert [m.raw for m in reading.values] == [230000]


def test_et70_channel_from_a_one_byte_read() -> None:
    assert decode_et70(b"\x02", offset=142).current_comm_channel_index == 2
    assert ET70 == 0x0846
    assert ET11 == 0x080B


def test_default_orders_match_the_guide() -> None:
    # p.208-210 and p.216-220.
    assert len(DEFAULT_SUMMATION_SOURCES) == 19
    assert [s.id for s in DEFAULT_SUMMATION_SOURCES[:11]] == [0, 1, 2, 3, 4, 5, 6, 7, 26, 27, 28]
    assert len(DEFAULT_PRESENT_VALUE_SOURCES) == 84
    ids = [s.id for s in DEFAULT_PRESENT_VALUE_SOURCES]
    assert ids[:22] == [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
                        81, 82, 83, 84]  # fmt: skip
    assert ids[22:26] == [104, 105, 106, 107]
    assert ids[26:41] == list(range(185, 200))
    assert ids[41:55] == list(range(202, 216))
    assert ids[55:72] == list(range(216, 233))
    assert ids[72:75] == [233, 234, 235]
    assert ids[75:] == list(range(236, 245))
