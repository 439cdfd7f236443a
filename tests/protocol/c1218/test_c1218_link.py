"""The C12.18 link machine: the example session with Gen 2/3's first NAK, retries, duplicates,
multi-packet answers, damaged packets, an echoing head. Bytes and timeouts in, outputs out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mepd.errors import MepdError
from mepd.protocol.c1218 import (
    Answer,
    C1218Link,
    Echo,
    OpticalTimeoutError,
    Packet,
    Phase,
    Write,
)
from mepd.protocol.c1218 import services as svc
from mepd.protocol.c1218.link import Output
from mepd.protocol.c1218.packets import decode_packet
from tests.protocol.c1218.golden import BT00_PACKETS, SESSION_KEY, frame_bytes

ACK, NAK = Write(b"\x06"), Write(b"\x15")


def phase_of(link: C1218Link) -> Phase:
    """The link's phase now (a call, so a type checker does not keep an earlier narrowing)."""
    return link.phase


def _answer(outputs: list[Output]) -> bytes:
    assert outputs[0] == ACK
    assert isinstance(outputs[-1], Answer)
    return outputs[-1].message


def test_the_example_session_with_the_first_frame_naked() -> None:
    link = C1218Link()
    requests = [
        (svc.identify(), 1, 2),
        (svc.negotiate(), 3, 4),
        (svc.logon(), 5, 6),
        (svc.security(SESSION_KEY), 7, 8),
        (svc.partial_read(0x1C, 0, 40), 9, 10),
        (svc.logoff(), 11, 12),
        (svc.terminate(), 13, 14),
    ]
    answers = []
    for message, sent, answered in requests:
        assert link.send(message) == [Write(frame_bytes(sent))]
        if sent == 1:  # Gen 2/3: the first EE switches the UART; the frame is NAKed (OPG p.14)
            assert link.receive(b"\x15") == [Write(frame_bytes(1))]
        assert link.receive(b"\x06") == []
        assert phase_of(link) is Phase.AWAIT_ANSWER
        answers.append(_answer(link.receive(frame_bytes(answered))))
        assert phase_of(link) is Phase.IDLE
    assert svc.parse_read(answers[4], expected=40)[:4] == bytes.fromhex("EF000000")
    assert link.counters.naks_received == 1
    assert link.counters.resends == 1


def test_the_captured_bt00_answer_reassembles_byte_by_byte() -> None:
    link = C1218Link()
    link.negotiated(64)
    link.send(svc.full_read(0))
    outputs: list[Output] = []
    for byte in b"\x06" + b"".join(BT00_PACKETS):
        outputs += link.receive(bytes((byte,)))
    assert outputs[:2] == [ACK, ACK]  # every packet is ACKed
    assert isinstance(outputs[2], Answer)
    assert len(svc.parse_read(outputs[2].message)) == 79


def test_a_lost_ack_makes_the_meter_repeat_and_we_ack_again() -> None:
    link = C1218Link()
    link.send(svc.partial_read(0x1C, 0, 40))
    link.receive(b"\x06")
    _answer(link.receive(frame_bytes(10)))
    # Our ACK was lost: the meter sends #10 again, same toggle, same CRC (notes §6).
    assert link.receive(frame_bytes(10)) == [ACK]
    link.send(svc.logoff())
    assert link.receive(frame_bytes(10)) == [ACK]  # still the duplicate, still waiting for 06
    assert phase_of(link) is Phase.AWAIT_ACK
    assert link.counters.duplicates == 2


def test_a_duplicate_first_packet_of_a_multi_packet_answer() -> None:
    link = C1218Link()
    link.send(svc.full_read(0))
    link.receive(b"\x06")
    assert link.receive(BT00_PACKETS[0]) == [ACK]
    assert link.receive(BT00_PACKETS[0]) == [ACK]  # our ACK lost: discarded
    assert isinstance(link.receive(BT00_PACKETS[1])[-1], Answer)


def test_a_corrupt_answer_is_naked_and_the_resent_one_taken() -> None:
    link = C1218Link()
    link.send(svc.partial_read(0x1C, 0, 40))
    link.receive(b"\x06")
    bad = bytearray(frame_bytes(10))
    bad[12] ^= 0x40
    assert link.receive(bytes(bad)) == [NAK]
    assert len(svc.parse_read(_answer(link.receive(frame_bytes(10))))) == 40


def test_a_truncated_answer_is_naked_at_the_intercharacter_timeout() -> None:
    link = C1218Link()
    link.send(svc.partial_read(0x1C, 0, 40))
    link.receive(b"\x06")
    assert link.receive(frame_bytes(10)[:20]) == []
    assert link.timeout_s() == 0.5
    assert link.timeout() == [NAK]
    _answer(link.receive(frame_bytes(10)))


def test_silence_resends_identical_three_times_then_raises() -> None:
    link = C1218Link()
    frame = link.send(svc.identify())
    assert link.timeout_s() == 2.0
    assert link.timeout() == frame
    assert link.receive(b"\x15") == frame
    with pytest.raises(OpticalTimeoutError):
        link.timeout()
    assert phase_of(link) is Phase.IDLE


def test_a_lost_answer_is_naked_not_requested_again() -> None:
    """After the ACK, silence: a NAK asks for the packet again; a resent request would be a
    duplicate the meter drops (notes §2.4, §2.7)."""
    link = C1218Link()
    link.send(svc.partial_read(0x1C, 0, 40))
    link.receive(b"\x06")
    assert link.timeout() == [NAK]
    assert len(svc.parse_read(_answer(link.receive(frame_bytes(10))))) == 40
    link.send(svc.logoff())
    link.receive(b"\x06")
    assert [link.timeout() for _ in range(6)] == [[NAK]] * 6
    # The meter gave up after its 3 attempts: the request again, as a new packet.
    (again,) = link.timeout()
    assert isinstance(again, Write)
    assert again.data == Packet(svc.logoff(), toggle=False).encode()
    link.receive(b"\x06")
    assert [link.timeout() for _ in range(6)] == [[NAK]] * 6
    with pytest.raises(OpticalTimeoutError, match="no answer"):
        link.timeout()


def test_a_lone_zero_is_an_ack_only_after_a_retransmission() -> None:
    link = C1218Link()
    link.send(svc.logoff())
    assert link.receive(b"\x00") == []
    assert phase_of(link) is Phase.AWAIT_ACK
    link.timeout()
    link.receive(b"\x00")
    assert phase_of(link) is Phase.AWAIT_ANSWER
    assert link.counters.zero_acks == 1


def test_an_answer_before_the_ack_means_the_ack_was_lost() -> None:
    link = C1218Link()
    link.send(svc.terminate())
    assert svc.check_ok("terminate", _answer(link.receive(frame_bytes(14)))) == b""


def test_toggles_alternate_and_reset_starts_at_zero() -> None:
    link = C1218Link()
    toggles = []
    for _ in range(3):
        (write,) = link.send(svc.logoff())
        assert isinstance(write, Write)
        toggles.append(decode_packet(write.data).toggle)
        link.receive(b"\x06" + frame_bytes(12 if toggles[-1] else 14))
    link.reset()
    (write,) = link.send(svc.identify())
    assert isinstance(write, Write)
    assert toggles == [False, True, False]
    assert not decode_packet(write.data).toggle


def _exchange(link: C1218Link, incoming: bytes, chunk: int) -> list[Output]:
    outputs: list[Output] = []
    for start in range(0, len(incoming), chunk):
        outputs += link.receive(incoming[start : start + chunk])
    return outputs


@pytest.mark.parametrize("echo", [Echo.AUTO, Echo.ON])
@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_an_echoing_head_is_filtered(echo: Echo, chunk: int) -> None:
    link = C1218Link(echo=echo)
    written = 0
    for _ in range(2):
        (frame,) = link.send(svc.partial_read(0x1C, 0, 40))
        assert isinstance(frame, Write)
        written += len(frame.data) + 1  # and our ACK
        outputs = _exchange(link, frame.data + b"\x06" + frame_bytes(10), chunk)
        assert len(svc.parse_read(_answer(outputs))) == 40
        link.receive(b"\x06")  # our ACK's echo
        link.reset()
    assert link.counters.echo_bytes == written
    assert link.counters.echo_detected == (echo is Echo.AUTO)
    assert link.echo is Echo.ON  # detected, or said


@pytest.mark.parametrize("chunk", [1, 2, 1000])
def test_auto_never_drops_a_meter_byte(chunk: int) -> None:
    # Our ACK was lost and the meter sends its packet again, which starts like our request
    # (EE 00 ...): the bytes matched so far are held back, then passed on whole.
    link = C1218Link()
    (frame,) = link.send(svc.identify())
    assert isinstance(frame, Write)
    assert frame.data[:2] == frame_bytes(2)[:2]
    outputs = _exchange(link, frame_bytes(2), chunk)
    assert outputs[0] == ACK
    assert isinstance(outputs[-1], Answer)
    assert (link.counters.echo_bytes, link.counters.echo_detected) == (0, 0)
    assert link.echo is Echo.AUTO


def test_on_drops_a_damaged_echo_and_off_drops_nothing() -> None:
    for echo, dropped in ((Echo.ON, True), (Echo.OFF, False)):
        link = C1218Link(echo=echo)
        (frame,) = link.send(svc.partial_read(0x1C, 0, 40))
        assert isinstance(frame, Write)
        damaged = frame.data[:5] + bytes((frame.data[5] ^ 0x10,)) + frame.data[6:]
        outputs = link.receive(damaged + b"\x06" + frame_bytes(10))
        assert len(svc.parse_read(_answer(outputs[outputs.index(ACK) :]))) == 40
        # OFF: the head's copy reached the link as a damaged packet, and was NAKed
        assert (NAK in outputs) is not dropped
        assert link.counters.echo_bytes == (len(frame.data) if dropped else 0)


@given(st.binary(max_size=200), st.lists(st.integers(1, 50), max_size=10))
def test_garbage_never_breaks_the_machine(garbage: bytes, sizes: list[int]) -> None:
    """Whatever arrives, the link answers with ACK/NAK/resends or raises a MepdError."""
    link = C1218Link()
    link.send(svc.identify())
    position = 0
    try:
        for size in [*sizes, len(garbage)]:
            for output in link.receive(garbage[position : position + size]):
                assert isinstance(output, Write | Answer)
            position += size
            if phase_of(link) is Phase.IDLE:
                break
    except MepdError:
        pass  # the only kind of error allowed out: anything else fails the test
