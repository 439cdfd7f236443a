"""The MEP client tables, laid out as the guide gives them: ET13, ET14, ET50-ET54, BT07, BT08.

ET13 and ET54 are built with their codecs; the tables no client decodes (ET14, ET50-ET52,
BT07, BT08) are bytes here, by offset, citing the guide.
"""

from __future__ import annotations

import struct

from mepd.drivers.simulator.profiles import MeterProfile
from mepd.protocol.tables.et13 import encode_et13
from mepd.protocol.tables.et54 import InterfaceCompatibility, encode_et54

MEP_ELEMENT = 35 + 6 * 6  # notes §6.16: ET50 element = 35 + 6 x ET11.22 (6)


def devices(profile: MeterProfile) -> int:
    return 6 if profile.generation >= 4 else 5


def _mep_clients(profile: MeterProfile) -> int:
    return 2 if profile.generation >= 4 else 1


def et13(profile: MeterProfile) -> bytes:
    """p.80-83: one 66-byte entry per device; entry 4 is MEP1, 5 is MEP2; no alerts pending."""
    return encode_et13(devices(profile))


def et14(profile: MeterProfile) -> bytes:
    """p.83-89: 6-byte header, then 36-byte entries."""
    return bytes(6 + 36 * devices(profile))


def et50(profile: MeterProfile) -> bytes:
    """p.124-127: one element per MEP client; not registered (offset 30 bit 0 clear)."""
    return bytes(MEP_ELEMENT * _mep_clients(profile))


def et51(profile: MeterProfile) -> bytes:
    """p.127-130: 10 bytes per MEP client with the guide's defaults."""
    element = bytes((0x01,)) + struct.pack("<HBHHB", 60, 30, 600, 300, 1) + b"\x00"
    return element * _mep_clients(profile)


def et52(profile: MeterProfile) -> bytes:
    """p.130: the MEP transaction request table, 769 bytes (ET11.7)."""
    return bytes(769)


def et54(profile: MeterProfile) -> bytes:
    """p.132-138: interface compatibility bit 8 = multiple MEP clients (gen4)."""
    return encode_et54(InterfaceCompatibility(0x0100 if profile.generation >= 4 else 0))


def bt07(profile: MeterProfile) -> bytes:
    return bytes(8)


def bt08(profile: MeterProfile) -> bytes:
    """p.165-166: procedure, PSN, result, 12 bytes of response data."""
    return bytes(16)
