"""C12.18 packets and the CRC: golden bytes from a real NES session, any chunking, garbage."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mepd.protocol.c1218 import (
    Packet,
    PacketDecoder,
    PacketError,
    crc16_x25,
    decode_packet,
    split_message,
)
from mepd.protocol.c1218 import services as svc
from mepd.protocol.c1218.crc import GOOD_RESIDUE
from mepd.protocol.c1218.packets import Ack, Corrupt, Event, Nak, Received, Stray
from mepd.protocol.tables.bt00 import decode_bt00
from tests.protocol.c1218.golden import (
    BT00_PACKETS,
    SESSION_KEY,
    frame_bytes,
    golden,
    hexbytes,
    session_frames,
)


def test_crc_check_value_and_residue() -> None:
    check = golden()["crc_check"]
    assert crc16_x25(check["ascii"].encode()) == int(check["crc"], 16)
    for frame in session_frames("M") + session_frames("C"):
        assert crc16_x25(hexbytes(frame["hex"])) == int(check["residue"], 16) == GOOD_RESIDUE


@pytest.mark.parametrize("vector", golden()["crc_vectors"], ids=lambda v: v["wire"])
def test_crc_vectors_printed_by_other_projects(vector: dict[str, str]) -> None:
    frame = hexbytes(vector["frame"])
    assert crc16_x25(frame).to_bytes(2, "little") == hexbytes(vector["wire"])


REQUESTS = {
    "identify": svc.identify(),
    "negotiate": svc.negotiate(64, 2, (0x06,)),
    "logon": svc.logon(1, "mepd"),
    "security": svc.security(SESSION_KEY),
    "read_bt28_0_40": svc.partial_read(0x001C, 0, 40),
    "logoff": svc.logoff(),
    "terminate": svc.terminate(),
}


@pytest.mark.parametrize("frame", session_frames("C"), ids=lambda f: f"#{f['n']}")
def test_every_request_of_the_example_session_byte_for_byte(frame: dict[str, object]) -> None:
    packet = Packet(REQUESTS[str(frame["service"])], toggle=bool(frame["toggle"]))
    assert packet.encode() == hexbytes(str(frame["hex"]))


@pytest.mark.parametrize("vector", golden()["computed_requests"], ids=lambda v: v["what"])
def test_computed_requests(vector: dict[str, str]) -> None:
    wire = hexbytes(vector["hex"])
    message = {
        "negotiate 0x60 64/1": svc.negotiate(64, 1, ()),
        "full read BT00": svc.full_read(0),
        "full read BT01 toggle": svc.full_read(1),
        "partial read BT21 0/10": svc.partial_read(21, 0, 10),
        "partial read ET03 0/30": svc.partial_read(0x0803, 0, 30),
        "partial read BT52 0/7": svc.partial_read(52, 0, 7),
        "wait 5": svc.wait(5),
    }[vector["what"]]
    assert Packet(message, toggle=bool(wire[2] & 0x20)).encode() == wire


def test_captured_answers_decode_to_the_notes_values() -> None:
    identity = svc.parse_identify(decode_packet(frame_bytes(2)).data)
    assert (identity.standard, identity.version, identity.revision) == (0, 2, 0)
    assert identity.features == b""
    negotiated = svc.parse_negotiate(decode_packet(frame_bytes(4)).data)
    assert (negotiated.packet_size, negotiated.packets, negotiated.baud) == (64, 2, 6)
    assert negotiated.max_read == 108  # notes §0.6
    for ok in (6, 8, 12, 14):
        assert svc.check_ok("logon", decode_packet(frame_bytes(ok)).data) == b""
    data = svc.parse_read(decode_packet(frame_bytes(10)).data, expected=40)
    values = golden()["bt28_0_40_values"]
    assert list(struct.unpack("<10i", data)) == values["int32"]
    assert svc.table_checksum(data) == int(values["cksum"], 16)


def test_captured_bt00_two_packets_reassemble_and_decode() -> None:
    first, second = (decode_packet(raw) for raw in BT00_PACKETS)
    assert (first.multi, first.first, first.toggle, first.seq, len(BT00_PACKETS[0])) == (
        True,
        True,
        False,
        1,
        64,
    )
    assert (second.multi, second.first, second.toggle, second.seq) == (True, False, True, 0)
    data = svc.parse_read(first.data + second.data)
    facts = golden()["bt00"]
    assert len(data) == facts["count"]
    assert (first.data + second.data)[-1] == int(facts["cksum"], 16)
    config = decode_bt00(data)
    assert config.manufacturer == facts["manufacturer"]
    assert (
        config.dim_basic_tables_used,
        config.dim_extended_tables_used,
        config.dim_basic_procedures_used,
        config.dim_extended_procedures_used,
        config.manufacturer_status_length,
        config.pending_tables,
    ) == (
        facts["dim_std"],
        facts["dim_mfg"],
        facts["dim_proc"],
        facts["dim_mfg_proc"],
        facts["status_length"],
        facts["pending"],
    )


def test_one_complement_checksum_is_refused() -> None:
    answer = bytearray(decode_packet(frame_bytes(10)).data)
    answer[-1] = (answer[-1] - 1) & 0xFF  # TE's ~sum: wrong for NES (notes §10 #1)
    with pytest.raises(PacketError, match="checksum"):
        svc.parse_read(bytes(answer))


def test_a_corrupted_captured_frame_fails_its_crc() -> None:
    frame = bytearray(frame_bytes(2))
    frame[-1] = 0x00  # OH's test corrupts this byte; 5A is right
    with pytest.raises(PacketError, match="CRC"):
        decode_packet(bytes(frame))


def test_split_message_counts_down_and_toggles() -> None:
    message = bytes(range(100))
    parts = split_message(message, packet_size=64, toggle=False)
    assert [(p.multi, p.first, p.seq, p.toggle) for p in parts] == [
        (True, True, 1, False),
        (True, False, 0, True),
    ]
    assert b"".join(p.data for p in parts) == message


# --- the decoder: whole, split, byte by byte ----------------------------------------------------

STREAM_PARTS = [frame_bytes(2), b"\x06", *BT00_PACKETS, b"\x15", frame_bytes(10)]


def _feed(data: bytes, sizes: list[int]) -> list[Event]:
    decoder = PacketDecoder()
    events: list[Event] = []
    position = 0
    for size in sizes:
        events += decoder.feed(data[position : position + size])
        position += size
    return events + decoder.feed(data[position:])


def _essential(events: list[Event]) -> list[Event]:
    return [event for event in events if not isinstance(event, Stray)]


def test_stream_whole_halves_and_byte_by_byte() -> None:
    stream = b"".join(STREAM_PARTS)
    whole = _feed(stream, [])
    assert whole == _feed(stream, [len(stream) // 2]) == _feed(stream, [1] * len(stream))
    assert [type(e) for e in whole] == [Received, Ack, Received, Received, Nak, Received]
    assert [e.raw for e in whole if isinstance(e, Received)] == [
        frame_bytes(2),
        *BT00_PACKETS,
        frame_bytes(10),
    ]


def test_wake_up_bytes_and_noise_are_strays() -> None:
    events = PacketDecoder().feed(b"\x55\x55\x55\x55" + frame_bytes(14))
    assert events == [Stray(b"\x55" * 4), Received(decode_packet(frame_bytes(14)), frame_bytes(14))]


def test_a_corrupt_packet_resynchronises_on_the_next_packet() -> None:
    bad = bytearray(frame_bytes(10))
    bad[20] ^= 0x01
    events = PacketDecoder().feed(bytes(bad) + frame_bytes(14))
    assert isinstance(events[0], Corrupt)
    assert events[-1] == Received(decode_packet(frame_bytes(14)), frame_bytes(14))


def test_a_truncated_packet_then_a_whole_one() -> None:
    truncated = frame_bytes(10)[:30]
    events = PacketDecoder().feed(truncated + frame_bytes(10))
    assert isinstance(events[0], Corrupt)
    assert _essential(events)[-1] == Received(decode_packet(frame_bytes(10)), frame_bytes(10))


packets = st.builds(
    Packet,
    data=st.binary(max_size=120),
    toggle=st.booleans(),
    seq=st.integers(0, 255),
    multi=st.booleans(),
    first=st.booleans(),
)


@given(packets)
def test_packet_round_trip(packet: Packet) -> None:
    assert decode_packet(packet.encode()) == packet


@given(st.lists(packets, min_size=1, max_size=5), st.lists(st.integers(1, 40), max_size=20))
def test_any_chunking_gives_the_same_packets(chosen: list[Packet], sizes: list[int]) -> None:
    stream = b"".join(packet.encode() for packet in chosen)
    events = _feed(stream, sizes)
    assert [e.packet for e in events if isinstance(e, Received)] == chosen


@given(st.binary(max_size=300), st.lists(st.integers(1, 30), max_size=20))
def test_garbage_never_raises_and_every_byte_is_accounted(garbage: bytes, sizes: list[int]) -> None:
    decoder = PacketDecoder()
    events: list[Event] = []
    position = 0
    for size in sizes:
        events += decoder.feed(garbage[position : position + size])
        position += size
    events += decoder.feed(garbage[position:])
    accounted = 0
    for event in events:
        if isinstance(event, Received | Corrupt):
            accounted += len(event.raw)
        elif isinstance(event, Stray):
            accounted += len(event.data)
        else:
            accounted += 1
    assert accounted + decoder.pending == len(garbage)


@given(st.binary(max_size=80).map(lambda b: b.replace(b"\xee", b"")), packets)
def test_garbage_before_a_packet_does_not_hide_it(garbage: bytes, packet: Packet) -> None:
    """Noise without a start byte (wake-up bytes, a lone 00) never swallows the packet."""
    events = PacketDecoder().feed(garbage + packet.encode())
    assert events[-1] == Received(packet, packet.encode())
