"""The load disconnect relay: ET46 Control Output Read-Only Data (p.121-122) and its state.

ET46 holds the disconnect's configuration, not its position:

    0..10 reserved   11 UINT8 Disconnect Control Type (0 power, 1 current)   12 reserved
    fw 3.70+: 13 INT32 Prepay Negative Credit (Wh)
              17 LTIME_DATE the last time the contactor opened on a power/current limit

The position is ET23.94 "Disconnect Internal Status" (p.99): the commanded state, 0 closed,
1 closing, 2 opened, 3 opening ("only meaningful for OSGP meters"; read it every few seconds,
p.99). The guide prints ET46 as "(2046, 0x07FE)": ET46 is 2048 + 46 = 2094 (p.55's rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from mepd.protocol.errors import DecodeError
from mepd.protocol.frames import PartialRead
from mepd.protocol.tables._wire import (
    LTIME_DATE_BYTES,
    decode_optional_datetime,
    encode_datetime,
    int32,
    pack_int32,
    require_size,
)
from mepd.protocol.tables.ids import ET23
from mepd.protocol.tables.meter_time import TimeBasis

TABLE = "ET46"
ET46_SHORT_SIZE = 13  # before fw 3.70: up to the reserved byte at 12
ET46_SIZE = 23  # fw 3.70+: + INT32 credit + LTIME_DATE
_CONTROL_TYPE = 11
_CREDIT = 13
_OPEN_TIME = 17
DISCONNECT_STATUS_OFFSET = 94  # ET23.94 (p.99)


class DisconnectControl(IntEnum):
    POWER = 0
    CURRENT = 1


class DisconnectState(IntEnum):
    CLOSED = 0
    CLOSING = 1
    OPENED = 2
    OPENING = 3


@dataclass(frozen=True)
class ControlOutput:
    control_type: DisconnectControl
    prepay_negative_credit_wh: int | None = None  # fw 3.70+
    last_limit_open: datetime | None = None  # fw 3.70+; None: never (all zero)
    time_basis: TimeBasis = TimeBasis.UTC  # [?] the guide does not say; LTIME_DATE as BT52


def decode_et46(data: bytes) -> ControlOutput:
    data = bytes(data)
    if len(data) != ET46_SHORT_SIZE:
        require_size(TABLE, data, ET46_SIZE, f"or {ET46_SHORT_SIZE} before fw 3.70")
    raw_type = data[_CONTROL_TYPE]
    if raw_type not in set(DisconnectControl):
        raise DecodeError(f"{TABLE}: disconnect control type {raw_type} is neither 0 nor 1")
    if len(data) == ET46_SHORT_SIZE:
        return ControlOutput(DisconnectControl(raw_type))
    stamp = data[_OPEN_TIME : _OPEN_TIME + LTIME_DATE_BYTES]
    return ControlOutput(
        DisconnectControl(raw_type),
        int32(data, _CREDIT),
        decode_optional_datetime(TABLE, stamp),
    )


def encode_et46(output: ControlOutput) -> bytes:
    data = bytearray(ET46_SIZE)
    data[_CONTROL_TYPE] = int(output.control_type)
    data[_CREDIT : _CREDIT + 4] = pack_int32(output.prepay_negative_credit_wh or 0, "ET46 credit")
    if output.last_limit_open is not None:
        data[_OPEN_TIME:] = encode_datetime(output.last_limit_open, LTIME_DATE_BYTES, "ET46 time")
    return bytes(data)


def plan_disconnect_status() -> PartialRead:
    return PartialRead(ET23, DISCONNECT_STATUS_OFFSET, 1)


def decode_disconnect_status(data: bytes) -> DisconnectState:
    """ET23.94 alone, as `plan_disconnect_status` reads it."""
    data = bytes(data)
    require_size("ET23", data, 1, "Disconnect Internal Status")
    if data[0] not in set(DisconnectState):
        raise DecodeError(f"ET23: disconnect status {data[0]} is not 0-3 (p.99)")
    return DisconnectState(data[0])
