"""The incremental decoder: any chunking, alerts, garbage, bounded memory (p.10, p.17, p.21)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mepd.protocol import Alert, Discarded, Frame, FrameDecoder
from mepd.protocol.frames import MAX_MESSAGE_BYTES
from mepd.protocol.stream import Event
from tests.conftest import vectors_of

GUIDE_FRAMES = [bytes.fromhex(v["frame_hex"]) for v in vectors_of("response_digest")]


def _feed_in_chunks(data: bytes, sizes: list[int]) -> tuple[list[Event], int]:
    decoder = FrameDecoder()
    events: list[Event] = []
    position = 0
    for size in sizes:
        events += decoder.feed(data[position : position + size])
        position += size
    events += decoder.feed(data[position:])
    return events, decoder.pending


def _essential(events: list[Event]) -> list[Event]:
    """Frames and alerts; how skipped garbage is grouped depends on the chunking."""
    return [event for event in events if not isinstance(event, Discarded)]


def _accounted_bytes(events: list[Event]) -> bytes:
    out = bytearray()
    for event in events:
        if isinstance(event, Frame):
            out += len(event.body).to_bytes(2, "big") + event.body
        elif isinstance(event, Alert):
            out += b"\x00\x00"
        else:
            out += event.data
    return bytes(out)


def test_guide_frames_whole_halves_and_byte_by_byte() -> None:
    stream = b"".join(GUIDE_FRAMES)
    whole, _ = _feed_in_chunks(stream, [])
    halves, _ = _feed_in_chunks(stream, [len(stream) // 2])
    single, _ = _feed_in_chunks(stream, [1] * len(stream))
    expected = [Frame(frame[2:]) for frame in GUIDE_FRAMES]
    assert whole == halves == single == expected


def test_alert_sequence_is_an_event_not_a_frame() -> None:
    frame = GUIDE_FRAMES[0]
    events = FrameDecoder().feed(b"\x00\x00" + frame + b"\x00\x00")
    assert events == [Alert(), Frame(frame[2:]), Alert()]


def test_garbage_before_a_frame_is_skipped() -> None:
    frame = GUIDE_FRAMES[1]
    events = FrameDecoder().feed(b"\xff\xfe\x07\x77" + frame)
    assert _essential(events) == [Frame(frame[2:])]
    # 0xFFFE, 0xFE07, 0x0777 and 0x7700 all exceed 476: skipped until `00 37` (p.8).
    assert events[0] == Discarded(b"\xff\xfe\x07\x77")


def test_header_seen_tracks_a_plausible_length() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"\x00")
    seen = decoder.header_seen  # a local: mypy would keep the attribute narrowed to False
    assert not seen
    decoder.feed(b"\x37\x00")
    assert decoder.header_seen
    assert decoder.reset() == b"\x00\x37\x00"
    assert decoder.pending == 0


def test_missing_counts_what_the_frame_still_needs() -> None:
    decoder = FrameDecoder()
    assert decoder.missing == 0
    decoder.feed(b"\xff\x00")  # 0xFF00 is no length; 0x00 alone is no header yet
    assert decoder.missing == 0
    decoder.feed(b"\x05ab")
    assert decoder.missing == 3
    decoder.feed(b"cde")
    assert decoder.missing == 0
    assert decoder.pending == 0


def test_an_impossible_length_is_never_waited_for() -> None:
    decoder = FrameDecoder()
    assert decoder.feed((MAX_MESSAGE_BYTES + 1).to_bytes(2, "big")) == [Discarded(b"\x01")]
    assert decoder.pending == 1


frames = st.binary(min_size=1, max_size=MAX_MESSAGE_BYTES).map(
    lambda body: len(body).to_bytes(2, "big") + body
)
pieces = st.lists(st.one_of(frames, st.just(b"\x00\x00")), max_size=6)


@given(pieces=pieces, cuts=st.lists(st.integers(1, 80), max_size=30))
def test_clean_streams_decode_the_same_in_any_chunking(
    pieces: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(pieces)
    expected, _ = _feed_in_chunks(stream, [])
    chunked, pending = _feed_in_chunks(stream, cuts)
    assert chunked == expected
    assert pending == 0
    assert len(expected) == len(pieces)


@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(1, 600), max_size=20))
def test_garbage_never_raises_and_every_byte_is_accounted_for(data: bytes, cuts: list[int]) -> None:
    decoder = FrameDecoder()
    events: list[Event] = []
    position = 0
    for size in [*cuts, len(data)]:
        events += decoder.feed(data[position : position + size])
        position += size
        assert decoder.pending <= 2 + MAX_MESSAGE_BYTES
    leftover = decoder.reset()
    assert _accounted_bytes(events) + leftover == data


@given(garbage=st.binary(max_size=40), body=st.binary(min_size=9, max_size=120))
def test_resynchronises_on_the_frame_after_garbage(garbage: bytes, body: bytes) -> None:
    # Garbage may swallow the next frame (MEP has no start marker); it can never swallow
    # more than one, and a reset after the response timeout always recovers.
    frame = len(body).to_bytes(2, "big") + body
    decoder = FrameDecoder()
    decoder.feed(garbage)
    decoder.reset()
    assert decoder.feed(frame) == [Frame(body)]


def test_a_huge_single_feed_keeps_the_buffer_bounded() -> None:
    decoder = FrameDecoder()
    events = decoder.feed(b"\xff" * 100_000)
    assert decoder.pending <= 2 + MAX_MESSAGE_BYTES
    assert sum(len(e.data) for e in events if isinstance(e, Discarded)) + decoder.pending == (
        100_000
    )


def test_the_rest_of_an_abandoned_frame_is_never_alerts() -> None:
    """Issue 18 item 7: zeros in a late answer's table data are not `00 00` alerts."""
    decoder = FrameDecoder()
    decoder.feed(b"\x00\x10" + b"\x00" * 4)  # LEN 16, 4 bytes in: 12 missing
    assert decoder.abandon() == b"\x00\x10" + b"\x00" * 4
    assert decoder.tail == 12
    assert decoder.feed(b"\x00" * 8) == [Discarded(b"\x00" * 8)]
    # The tail ends where LEN said; what follows is decoded again.
    assert decoder.feed(b"\x00" * 4 + b"\x00\x00") == [Discarded(b"\x00" * 4), Alert()]
    assert decoder.tail == 0


def test_a_reset_line_forgets_the_tail_and_drained_bytes_use_it_up() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"\x00\x10\x01")
    decoder.abandon()
    decoder.skip(5)
    assert decoder.tail == 10
    decoder.reset()  # the line was idle: the tail is not coming
    assert decoder.tail == 0
    assert decoder.feed(b"\x00\x00") == [Alert()]
