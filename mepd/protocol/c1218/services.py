"""C12.18 services: the request bytes and what their answers mean (notes §5).

All protocol fields (table, offset, count, packet size, user id) are big-endian; table data is
the meter's own (LSB first on NES, OPG p.48). Every answer starts with a response code; a
non-ok code raises `ServiceError` (`SecurityRejectedError` for Security).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from mepd.protocol.c1218.errors import (
    C1218Code,
    PacketError,
    SecurityRejectedError,
    ServiceError,
)
from mepd.protocol.c1218.packets import DEFAULT_PACKET_SIZE, OVERHEAD_BYTES

PASSWORD_BYTES = 20  # notes §5.5: NES keys are 20 ASCII characters, sent whole
USER_BYTES = 10
DEFAULT_USER_ID = 1  # notes §5.4: FFFD-FFFF are reserved in the BT74 event log
DEFAULT_USER = "mepd"
BAUD_9600 = 0x06  # notes §5.2 baud codes; only 06 is used on NES
# What every NES client asks for: 64-byte packets, 2 per message (notes §0.6).
NEGOTIATED_PACKET_SIZE = 64
NEGOTIATED_PACKETS = 2
READ_RESPONSE_OVERHEAD = 4  # response code, count (2), checksum (notes §2.5)


class Service(IntEnum):
    IDENTIFY = 0x20
    TERMINATE = 0x21
    READ_FULL = 0x30
    READ_PARTIAL = 0x3F
    LOGON = 0x50
    SECURITY = 0x51
    LOGOFF = 0x52
    NEGOTIATE = 0x60  # 0x60 + number of baud codes
    WAIT = 0x70


def identify() -> bytes:
    return bytes((Service.IDENTIFY,))


def negotiate(
    packet_size: int = NEGOTIATED_PACKET_SIZE,
    packets: int = NEGOTIATED_PACKETS,
    bauds: tuple[int, ...] = (BAUD_9600,),
) -> bytes:
    """`6n <size (2)> <packets (1)> <baud>xn`; `60` keeps the current speed (notes §5.2)."""
    if not OVERHEAD_BYTES < packet_size <= 0xFFFF or not 1 <= packets <= 0xFF:
        raise PacketError(f"cannot negotiate {packets} packets of {packet_size} bytes")
    if len(bauds) > 11:
        raise PacketError("at most 11 baud codes")
    head = bytes((Service.NEGOTIATE + len(bauds),)) + packet_size.to_bytes(2, "big")
    return head + bytes((packets, *bauds))


def logon(user_id: int = DEFAULT_USER_ID, user: str = DEFAULT_USER) -> bytes:
    """`50 <user-id (2)> <user (10, space padded)>` (notes §5.4); carries no password."""
    name = user.encode("ascii")[:USER_BYTES].ljust(USER_BYTES, b" ")
    return bytes((Service.LOGON,)) + user_id.to_bytes(2, "big") + name


def security(password: bytes) -> bytes:
    """`51 <password (20)>` (notes §5.5). Never logged: the password travels in clear."""
    if len(password) != PASSWORD_BYTES:
        raise PacketError(f"the optical password is {PASSWORD_BYTES} bytes")
    return bytes((Service.SECURITY,)) + password


def full_read(table: int) -> bytes:
    """`30 TT TT`: unlike MEP's full read there is no length field (notes §5.7)."""
    return bytes((Service.READ_FULL,)) + table.to_bytes(2, "big")


def partial_read(table: int, offset: int, count: int) -> bytes:
    """`3F TT TT OO OO OO CC CC` (notes §5.7), the same bytes as MEP's."""
    return (
        bytes((Service.READ_PARTIAL,))
        + table.to_bytes(2, "big")
        + offset.to_bytes(3, "big")
        + count.to_bytes(2, "big")
    )


def logoff() -> bytes:
    return bytes((Service.LOGOFF,))


def terminate() -> bytes:
    return bytes((Service.TERMINATE,))


def wait(seconds: int) -> bytes:
    """`70 <seconds>`: keep the session through that much silence (notes §5.3, untested on NES)."""
    if not 1 <= seconds <= 0xFF:
        raise PacketError("wait is 1 to 255 s")
    return bytes((Service.WAIT, seconds))


# --- answers -----------------------------------------------------------------------------------


def check_ok(service: str, answer: bytes) -> bytes:
    """The answer's bytes after an ok code; raises `ServiceError` for any other code."""
    if not answer:
        raise PacketError(f"empty answer to {service}")
    if answer[0] != C1218Code.OK:
        if service == "security" and answer[0] == C1218Code.ERR:
            # MS classifies err on Security as a wrong password (notes §5.5); isss or bsy
            # there say nothing about the password.
            raise SecurityRejectedError(service, answer[0])
        raise ServiceError(service, answer[0])
    return answer[1:]


@dataclass(frozen=True)
class Identity:
    """Identify's answer: `00 <std> <ver> <rev> <features…> 00` (notes §5.1)."""

    standard: int
    version: int
    revision: int
    features: bytes = b""


def parse_identify(answer: bytes) -> Identity:
    rest = check_ok("identify", answer)
    if len(rest) < 3:
        raise PacketError("identify answer too short")
    features = rest[3:]
    end = features.find(0)  # features until the 00 that ends them; NES sends none
    return Identity(rest[0], rest[1], rest[2], features[: end if end >= 0 else len(features)])


@dataclass(frozen=True)
class Negotiated:
    """What the meter will use: possibly less than asked (notes §5.2)."""

    packet_size: int = DEFAULT_PACKET_SIZE
    packets: int = 1
    baud: int | None = None

    @property
    def max_read(self) -> int:
        """The most table bytes one read can return: (size - 8) x packets - 4 (notes §2.5)."""
        return (self.packet_size - OVERHEAD_BYTES) * self.packets - READ_RESPONSE_OVERHEAD


def parse_negotiate(answer: bytes) -> Negotiated:
    rest = check_ok("negotiate", answer)
    if len(rest) < 3:
        raise PacketError("negotiate answer too short")
    size, packets = int.from_bytes(rest[:2], "big"), rest[2]
    if size <= OVERHEAD_BYTES + READ_RESPONSE_OVERHEAD or packets < 1:
        raise PacketError(f"meter negotiated {packets} packets of {size} bytes")
    return Negotiated(size, packets, rest[3] if len(rest) > 3 else None)  # MS: baud optional


def table_checksum(data: bytes) -> int:
    """Two's complement of the byte sum: data + checksum sum to 0 mod 256 (notes §5.7)."""
    return -sum(data) & 0xFF


def parse_read(answer: bytes, expected: int | None = None) -> bytes:
    """`00 <count (2)> <data> <cksum>` → data, its count and checksum verified (notes §5.7)."""
    rest = check_ok("read", answer)
    if len(rest) < 3:
        raise PacketError("read answer too short")
    count = int.from_bytes(rest[:2], "big")
    if len(rest) != 2 + count + 1:
        raise PacketError(f"read answer says {count} bytes but carries {len(rest) - 3}")
    data = rest[2 : 2 + count]
    if table_checksum(data) != rest[-1]:
        raise PacketError("read answer's table checksum does not verify")
    if expected is not None and count != expected:
        raise PacketError(f"asked for {expected} bytes, the meter returned {count}")
    return data


def read_response(data: bytes) -> bytes:
    """The meter's side of a read: `00 <count> <data> <cksum>`."""
    return b"\x00" + len(data).to_bytes(2, "big") + data + bytes((table_checksum(data),))
