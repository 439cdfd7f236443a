"""Table numbers (p.55: ETnn = 2048 + nn)."""

from __future__ import annotations

from mepd.protocol.codes import basic_table, extended_table

BT00 = basic_table(0)
BT01 = basic_table(1)
BT20 = basic_table(20)
BT21 = basic_table(21)
BT22 = basic_table(22)
BT23 = basic_table(23)
BT27 = basic_table(27)
BT28 = basic_table(28)
BT52 = basic_table(52)
ET03 = extended_table(0x03)
ET04 = extended_table(0x04)
ET11 = extended_table(0x0B)
ET13 = extended_table(0x0D)
ET54 = extended_table(0x36)
ET55 = extended_table(0x37)
ET70 = extended_table(0x46)
BT61 = basic_table(61)
BT62 = basic_table(62)
BT63 = basic_table(63)
BT64 = basic_table(64)  # data set 1; BT65-BT67: data sets 2-4 (p.238)
ET21 = extended_table(0x15)
ET66 = extended_table(0x42)
