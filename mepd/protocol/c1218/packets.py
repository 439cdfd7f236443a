"""C12.18 packets: `EE | identity | ctrl | seq | length (2, BE) | data | CRC (2, LE)` (notes §2).

`PacketDecoder` turns a byte stream into events, fed whole, split or byte by byte: a packet
whose CRC holds, a single-byte ACK (`06`) or NAK (`15`) outside any packet, a packet whose CRC
fails (to be NAKed), and bytes that belong to nothing. After a false start it resynchronises
on the next `EE` from the byte after the false one (notes §2.8), so one corrupt byte costs
one packet, not the buffer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mepd.protocol.c1218.crc import crc16_x25, crc_bytes
from mepd.protocol.c1218.errors import PacketError

STP = 0xEE
ACK = 0x06
NAK = 0x15
HEADER_BYTES = 6
CRC_BYTES = 2
OVERHEAD_BYTES = HEADER_BYTES + CRC_BYTES
IDENTITY = 0x00  # every NES client sends 00, every NES reply carries 00 (notes §2.1)

CTRL_MULTI = 0x80  # part of a multi-packet transmission
CTRL_FIRST = 0x40  # first packet of a multi-packet transmission
CTRL_TOGGLE = 0x20  # flips on every new packet a side sends (notes §2.4)
# Before Negotiate: 64-byte packets, one per message (notes §2.5); the grammar's ceiling.
DEFAULT_PACKET_SIZE = 64
MAX_PACKET_SIZE = 8192
MAX_DATA_BYTES = MAX_PACKET_SIZE - OVERHEAD_BYTES


@dataclass(frozen=True)
class Packet:
    """One packet; `data` is a whole message or a slice of one (notes §2.3)."""

    data: bytes = field(repr=False)
    toggle: bool = False
    seq: int = 0
    multi: bool = False
    first: bool = False
    identity: int = IDENTITY

    def __post_init__(self) -> None:
        if not 0 <= self.seq <= 0xFF:
            raise PacketError(f"sequence number {self.seq} does not fit a byte")
        if len(self.data) > MAX_DATA_BYTES:
            raise PacketError(f"a packet carries at most {MAX_DATA_BYTES} data bytes")

    @property
    def ctrl(self) -> int:
        return (
            (CTRL_MULTI if self.multi else 0)
            | (CTRL_FIRST if self.first else 0)
            | (CTRL_TOGGLE if self.toggle else 0)
        )

    def encode(self) -> bytes:
        head = bytes((STP, self.identity, self.ctrl, self.seq)) + len(self.data).to_bytes(2, "big")
        body = head + self.data
        return body + crc_bytes(body)


def decode_packet(raw: bytes) -> Packet:
    """One whole packet from its wire bytes; `PacketError` if anything is off."""
    if len(raw) < OVERHEAD_BYTES or raw[0] != STP:
        raise PacketError("not a C12.18 packet")
    length = int.from_bytes(raw[4:6], "big")
    if len(raw) != OVERHEAD_BYTES + length:
        raise PacketError(f"packet length field {length} does not match {len(raw)} bytes")
    if crc16_x25(raw[:-CRC_BYTES]) != int.from_bytes(raw[-CRC_BYTES:], "little"):
        raise PacketError("packet CRC does not verify")
    ctrl = raw[2]
    return Packet(
        raw[HEADER_BYTES:-CRC_BYTES],
        toggle=bool(ctrl & CTRL_TOGGLE),
        seq=raw[3],
        multi=bool(ctrl & CTRL_MULTI),
        first=bool(ctrl & CTRL_FIRST),
        identity=raw[1],
    )


def split_message(message: bytes, *, packet_size: int, toggle: bool) -> list[Packet]:
    """`message` as the packets of one transmission (notes §2.3); toggles flip per packet."""
    room = packet_size - OVERHEAD_BYTES
    slices = [message[i : i + room] for i in range(0, len(message), room)] or [b""]
    if len(slices) == 1:
        return [Packet(message, toggle=toggle)]
    count = len(slices)
    return [
        Packet(
            part,
            toggle=toggle ^ bool(i % 2),
            seq=count - 1 - i,
            multi=True,
            first=i == 0,
        )
        for i, part in enumerate(slices)
    ]


@dataclass(frozen=True)
class Received:
    """A packet whose CRC verified; `raw` is its wire bytes (for duplicate checks)."""

    packet: Packet
    raw: bytes = field(repr=False)


@dataclass(frozen=True)
class Ack:
    """`06` outside a packet."""


@dataclass(frozen=True)
class Nak:
    """`15` outside a packet."""


@dataclass(frozen=True)
class Corrupt:
    """A packet-shaped run whose CRC failed or whose length cannot be: NAK it."""

    raw: bytes = field(repr=False)


@dataclass(frozen=True)
class Stray:
    """Bytes outside any packet that are neither ACK nor NAK (wake-up, MEP traffic, noise)."""

    data: bytes = field(repr=False)


Event = Received | Ack | Nak | Corrupt | Stray


class PacketDecoder:
    """Bytes in, events out; keeps the unfinished packet between feeds."""

    def __init__(self, max_data: int = MAX_DATA_BYTES) -> None:
        self._max_data = max_data
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes of an unfinished packet held: nonzero means a packet stopped short."""
        return len(self._buffer)

    def reset(self) -> bytes:
        """Forget the unfinished packet; returns its bytes."""
        dropped = bytes(self._buffer)
        self._buffer.clear()
        return dropped

    def feed(self, data: bytes) -> list[Event]:
        self._buffer += data
        events: list[Event] = []
        while self._buffer:
            event = self._next()
            if event is None:
                break
            events.append(event)
        return _merge_strays(events)

    def _next(self) -> Event | None:
        buffer = self._buffer
        if buffer[0] != STP:
            return self._outside_packet()
        if len(buffer) < HEADER_BYTES:
            return None
        length = int.from_bytes(buffer[4:6], "big")
        if length > self._max_data:
            return self._false_start()
        total = OVERHEAD_BYTES + length
        if len(buffer) < total:
            return None
        raw = bytes(buffer[:total])
        try:
            packet = decode_packet(raw)
        except PacketError:
            return self._false_start()
        del buffer[:total]
        return Received(packet, raw)

    def _outside_packet(self) -> Event:
        """An ACK, a NAK, or the run of bytes up to the next byte that means something."""
        buffer = self._buffer
        first = buffer[0]
        if first in (ACK, NAK):
            del buffer[0]
            return Ack() if first == ACK else Nak()
        end = next((i for i, b in enumerate(buffer) if b in (STP, ACK, NAK)), len(buffer))
        stray = bytes(buffer[:end])
        del buffer[:end]
        return Stray(stray)

    def _false_start(self) -> Event:
        """The `EE` started no packet: report the run up to the next `EE`, keep the rest."""
        buffer = self._buffer
        end = buffer.find(STP, 1)
        end = len(buffer) if end < 0 else end
        raw = bytes(buffer[:end])
        del buffer[:end]
        return Corrupt(raw)


def _merge_strays(events: list[Event]) -> list[Event]:
    merged: list[Event] = []
    for event in events:
        if isinstance(event, Stray) and merged and isinstance(merged[-1], Stray):
            merged[-1] = Stray(merged[-1].data + event.data)
        else:
            merged.append(event)
    return merged
