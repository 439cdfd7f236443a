"""ANSI C12.18 over the optical port, sans-I/O: packets, CRC, the link machine, the services.

The optical port serves the same C12.19 tables as MEP (OPG chapter 2); only the envelope
differs (notes §8.3), so `mepd.protocol.tables` decodes what this package carries.
"""

from mepd.protocol.c1218.crc import crc16_x25, crc_bytes
from mepd.protocol.c1218.errors import (
    C1218Code,
    C1218Error,
    OpticalTimeoutError,
    PacketError,
    SecurityRejectedError,
    ServiceError,
)
from mepd.protocol.c1218.link import Answer, C1218Link, Echo, LinkCounters, Phase, Write
from mepd.protocol.c1218.packets import Packet, PacketDecoder, decode_packet, split_message

__all__ = [
    "Answer",
    "C1218Code",
    "C1218Error",
    "C1218Link",
    "Echo",
    "LinkCounters",
    "OpticalTimeoutError",
    "Packet",
    "PacketDecoder",
    "PacketError",
    "Phase",
    "SecurityRejectedError",
    "ServiceError",
    "Write",
    "crc16_x25",
    "crc_bytes",
    "decode_packet",
    "split_message",
]
