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
ET14 = extended_table(0x0E)
ET16 = extended_table(0x10)
ET36 = extended_table(0x24)
ET45 = extended_table(0x2D)
ET54 = extended_table(0x36)
ET55 = extended_table(0x37)
ET57 = extended_table(0x39)
ET70 = extended_table(0x46)
ET74 = extended_table(0x4A)
# History (issue 20): billing snapshots, event logs, outage log, disconnect relay.
BT25 = basic_table(25)
BT26 = basic_table(26)
BT71 = basic_table(71)
BT74 = basic_table(74)
ET09 = extended_table(0x09)
ET23 = extended_table(0x17)
ET46 = extended_table(0x2E)
ET79 = extended_table(0x4F)
ET81 = extended_table(0x51)
