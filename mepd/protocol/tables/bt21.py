"""BT21 Actual Register (0x0015; p.200-202): the dimensions BT22, BT23, BT27, BT28 decode by.

BT20 (Dimension Register) has the same layout with the maximum dimensions (OPG p.20-21).
Byte 7 is the number of tiers; byte 8 the present demands (p.202).
"""

from __future__ import annotations

from dataclasses import dataclass

from mepd.protocol.tables._wire import pack_uint, require_size

TABLE = "BT21"
BT21_SIZE = 10


@dataclass(frozen=True)
class ActualRegister:
    # Byte 0 (p.201)
    season_info: bool  # bit 0
    date_time_field: bool  # bit 1: STIME_DATEs in BT23 demand records
    demand_reset_counter: bool  # bit 2: 1 byte at the start of BT23
    demand_reset_lock: bool  # bit 3
    cumulative_demand: bool  # bit 4: INT32 per BT23 demand record
    continuous_cumulative_demand: bool  # bit 5: INT32 per BT23 demand record
    time_remaining: bool  # bit 6: TIME per BT28 present-demand record
    # Byte 1 (p.201)
    self_read_inhibit_overflow: bool  # bit 0
    self_read_sequence_number: bool  # bit 1
    daily_self_read: bool  # bit 2
    weekly_self_read: bool  # bit 3
    self_read_demand_reset: int  # UINT(4..5)
    # Bytes 2-9 (p.202)
    self_reads: int
    summations: int
    demands: int
    coincident_values: int
    occurrences: int
    tiers: int
    present_demands: int
    present_values: int


def decode_bt21(data: bytes, table: str = TABLE) -> ActualRegister:
    data = bytes(data)
    require_size(table, data, BT21_SIZE)
    b0, b1 = data[0], data[1]
    return ActualRegister(
        season_info=bool(b0 & 0x01),
        date_time_field=bool(b0 & 0x02),
        demand_reset_counter=bool(b0 & 0x04),
        demand_reset_lock=bool(b0 & 0x08),
        cumulative_demand=bool(b0 & 0x10),
        continuous_cumulative_demand=bool(b0 & 0x20),
        time_remaining=bool(b0 & 0x40),
        self_read_inhibit_overflow=bool(b1 & 0x01),
        self_read_sequence_number=bool(b1 & 0x02),
        daily_self_read=bool(b1 & 0x04),
        weekly_self_read=bool(b1 & 0x08),
        self_read_demand_reset=(b1 >> 4) & 0x03,
        self_reads=data[2],
        summations=data[3],
        demands=data[4],
        coincident_values=data[5],
        occurrences=data[6],
        tiers=data[7],
        present_demands=data[8],
        present_values=data[9],
    )


def decode_bt20(data: bytes) -> ActualRegister:
    """BT20 Dimension Register: the maximum dimensions, same layout (OPG p.20-21)."""
    return decode_bt21(data, table="BT20")


def encode_bt21(dims: ActualRegister) -> bytes:
    d = dims
    if not 0 <= d.self_read_demand_reset < 4:
        raise ValueError(f"BT21 self-read demand reset {d.self_read_demand_reset} is 2 bits")
    flags = (
        d.season_info,
        d.date_time_field,
        d.demand_reset_counter,
        d.demand_reset_lock,
        d.cumulative_demand,
        d.continuous_cumulative_demand,
        d.time_remaining,
    )
    b0 = sum(int(flag) << bit for bit, flag in enumerate(flags))
    b1 = (
        int(d.self_read_inhibit_overflow)
        | int(d.self_read_sequence_number) << 1
        | int(d.daily_self_read) << 2
        | int(d.weekly_self_read) << 3
        | d.self_read_demand_reset << 4
    )
    counts = (
        d.self_reads,
        d.summations,
        d.demands,
        d.coincident_values,
        d.occurrences,
        d.tiers,
        d.present_demands,
        d.present_values,
    )
    return bytes((b0, b1)) + b"".join(pack_uint(n, 1, "BT21 count") for n in counts)
