"""ET70 RAM Only Status (0x0846; p.173-174): which MEP port this client is on (Gen 4).

Only offset 142 is defined; read it with a 1-byte partial read and `offset=142`. On fw 3.x
the field is "N/A" (p.174): a failed read there means the only port, MEP1.
"""

from __future__ import annotations

from dataclasses import dataclass

from mepd.protocol.tables._window import Layout, Window

TABLE = "ET70"
CURRENT_CHANNEL = 142  # UINT8: 1 = MEP1, 2 = MEP2
ET70_SIZE = 156  # p.174: reserved 143..155


@dataclass(frozen=True)
class RamOnlyStatus:
    current_comm_channel_index: int  # 1 = MEP1, 2 = MEP2 (other values are passed through)


def decode_et70(data: bytes, *, offset: int = 0) -> RamOnlyStatus:
    window = Window(TABLE, data, offset, {CURRENT_CHANNEL: 1})
    channel = window.uint(CURRENT_CHANNEL, 1)
    assert channel is not None  # Window guarantees the only field is inside
    return RamOnlyStatus(channel)


def encode_et70(status: RamOnlyStatus, size: int = ET70_SIZE) -> bytes:
    table = Layout(TABLE, size)
    table.put_uint(CURRENT_CHANNEL, 1, status.current_comm_channel_index, "channel index")
    return table.bytes()
