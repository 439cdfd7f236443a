"""The C12.18 link layer as a state machine, h11-style: bytes and timeouts in, outputs out.

One request at a time (a reader's requests fit one packet, notes §2.3):

    IDLE --send()--> AWAIT_ACK --06--> AWAIT_ANSWER --last packet--> IDLE

The caller writes every `Write` it is given, waits at most `timeout_s()` for more bytes, feeds
them to `receive()`, and calls `timeout()` when the wait ran out. There is no clock here.

Rules (notes §2.4, §2.7, §2.8, §7.8):
* a request NAKed or not ACKed is resent identical (same toggle), 3 attempts in all; the first
  frame on a Gen 2/3 meter is usually NAKed (OPG p.14) and costs one of them;
* an ACKed request whose answer does not come, or comes damaged, is NAKed so the meter sends
  its packet again (MS): a resent request would be a duplicate the meter ACKs and drops; after
  6 NAKs (the meter gave up after its 3 attempts) the request is sent once more as a new
  packet, then the link gives up;
* a lone `00` where `06` belongs counts as ACK only after a retransmission (notes §10 #13);
* an answer packet whose CRC holds is ACKed; one that fails, or stops short, is NAKed;
* a packet equal to the last accepted one (same toggle, same CRC) is our lost ACK's echo from
  the meter: ACK it again, discard it;
* a packet while waiting for the ACK means the ACK was lost and the meter went ahead;
* multi-packet answers are reassembled: first packet has bits 7+6 and seq n-1, seq counts down
  to 0;
* an IR head that echoes what it is sent gives those bytes back first (notes §1.4): `Echo`
  says what is dropped; the default `AUTO` drops only an exact copy of what was just written,
  which no meter ever sends (its answer starts with `06`, its packets carry its own toggle,
  length and CRC), and after one whole packet came back so, knows the head echoes (`ON`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum

from mepd.protocol.c1218.errors import C1218Error, OpticalTimeoutError, PacketError
from mepd.protocol.c1218.packets import (
    ACK,
    CRC_BYTES,
    DEFAULT_PACKET_SIZE,
    NAK,
    OVERHEAD_BYTES,
    Ack,
    Corrupt,
    Nak,
    Packet,
    PacketDecoder,
    Received,
    Stray,
)

ATTEMPTS = 3  # notes §2.7: EP MAX_RETRY 3, MS LinkLayerRetries 3, HB, OH
ACK_TIMEOUT_S = 2.0  # notes §3: standard response (ACK) timeout
RESPONSE_TIMEOUT_S = 2.0  # notes §10 #9: 2 s standard; NES answers well inside 500 ms
INTERCHARACTER_TIMEOUT_S = 0.5  # notes §3, §10 #10
# NAKs for one answer before giving up: its packets (2 with 64 x 2) times the 3 attempts.
MAX_ANSWER_NAKS = 6


class Echo(Enum):
    """What the link drops of what comes back first after each write (notes §1.4, §11 #10)."""

    AUTO = "auto"  # exact copies only; after a whole packet's copy, as ON (the head echoes)
    ON = "on"  # the head echoes: the first bytes after a write, as many, damaged or not
    OFF = "off"  # nothing is dropped


class Phase(Enum):
    IDLE = "idle"
    AWAIT_ACK = "waiting for the ACK"
    AWAIT_ANSWER = "waiting for the answer"


@dataclass(frozen=True)
class Write:
    """Bytes the caller must put on the wire now (a packet, a resend, an ACK or a NAK)."""

    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Answer:
    """The meter's whole answer message, reassembled from its packets."""

    message: bytes = field(repr=False)


Output = Write | Answer


@dataclass
class LinkCounters:
    """What the link saw since start; published with the session's counters."""

    packets_sent: int = 0
    packets_received: int = 0
    resends: int = 0
    requests_repeated: int = 0
    naks_received: int = 0
    naks_sent: int = 0
    duplicates: int = 0
    zero_acks: int = 0
    stray_bytes: int = 0
    echo_bytes: int = 0
    echo_detected: int = 0  # 1 once `Echo.AUTO` saw a whole packet come back (the head echoes)
    bytes_sent: int = 0
    bytes_received: int = 0

    def snapshot(self) -> dict[str, int]:
        return {f"optical_{f.name}": getattr(self, f.name) for f in fields(self)}


class C1218Link:
    """The client's side of one optical link, across the requests of its sessions."""

    def __init__(
        self,
        *,
        echo: Echo = Echo.AUTO,
        attempts: int = ATTEMPTS,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        response_timeout_s: float = RESPONSE_TIMEOUT_S,
        intercharacter_timeout_s: float = INTERCHARACTER_TIMEOUT_S,
    ) -> None:
        self.echo = echo
        self._attempts_allowed = attempts
        self._ack_timeout_s = ack_timeout_s
        self._response_timeout_s = response_timeout_s
        self._intercharacter_timeout_s = intercharacter_timeout_s
        self.counters = LinkCounters()
        self._decoder = PacketDecoder()
        self.phase = Phase.IDLE
        self.packet_size = DEFAULT_PACKET_SIZE
        self._toggle = False
        self._last_accepted: bytes | None = None
        self._frame = b""
        self._attempts = 0
        self._answer_naks = 0
        self._heard = False
        self._message = b""
        self._asked_again = False
        self._parts: list[bytes] = []
        self._next_seq: int | None = None
        self._echo = b""  # what an echoing head gives back first: the last write
        self._echo_held = 0  # how much of it came back so far (held back, not yet passed on)

    def reset(self, *, keep_toggle: bool = False) -> None:
        """A new session (or a reopened port): nothing is pending, the toggle starts at 0.

        `keep_toggle`: after a session that failed, the meter may still hold our last packet
        (it forgets it only in Base state, after Terminate or 6 s of silence); an Identify with
        the toggle it last saw would be the same bytes, a "duplicate" it ACKs and drops
        (notes §2.4). Continuing the toggle makes the next packet differ from that one.
        """
        self._decoder.reset()
        self.phase = Phase.IDLE
        self.packet_size = DEFAULT_PACKET_SIZE
        if not keep_toggle:
            self._toggle = False
            self._last_accepted = None  # else a late resend of the last answer is a duplicate
        self._parts, self._next_seq = [], None
        self._echo, self._echo_held = b"", 0

    def negotiated(self, packet_size: int) -> None:
        """Negotiate's answer sets the packet size both sides use from now (notes §5.2)."""
        self.packet_size = packet_size

    def send(self, message: bytes) -> list[Output]:
        """Start a request: its packet, toggled from the last new one."""
        if self.phase is not Phase.IDLE:
            raise C1218Error(f"request while {self.phase.value}")
        if len(message) > self.packet_size - OVERHEAD_BYTES:
            raise PacketError("a request must fit one packet")
        self._message = message
        self._asked_again = False
        return self._new_packet(message)

    def _new_packet(self, message: bytes) -> list[Output]:
        self._frame = Packet(message, toggle=self._toggle).encode()
        self._toggle = not self._toggle
        self._attempts = 1
        self._answer_naks = 0
        self._heard = False
        self._parts, self._next_seq = [], None
        self.phase = Phase.AWAIT_ACK
        self.counters.packets_sent += 1
        return [self._write(self._frame)]

    def timeout_s(self) -> float | None:
        """How long the caller waits for more bytes before calling `timeout()`."""
        if self.phase is Phase.IDLE:
            return None
        if self._decoder.pending or self._heard:
            # Bytes came that made no packet: a damaged answer, NAKed once the line is quiet.
            return self._intercharacter_timeout_s
        if self.phase is Phase.AWAIT_ACK:
            return self._ack_timeout_s
        return self._response_timeout_s

    def timeout(self) -> list[Output]:
        """The wait given by `timeout_s()` passed with no new byte."""
        if self.phase is Phase.IDLE:
            return []
        damaged = self._decoder.pending or (self._heard and self.phase is Phase.AWAIT_ANSWER)
        self._heard = False
        self._decoder.reset()
        self._echo, self._echo_held = b"", 0
        if self.phase is Phase.AWAIT_ACK and not damaged:
            return self._resend("no ACK")
        # A packet cut short by the inter-character timeout, one whose start was lost (its
        # bytes came as strays), or silence after the ACK: NAK, and the meter sends its packet
        # again (notes §2.7, MS). Resending the request would be a duplicate the meter ACKs
        # and drops.
        self.phase = Phase.AWAIT_ANSWER
        if self._answer_naks >= MAX_ANSWER_NAKS:
            if not self._asked_again and not self._parts:
                # The meter gave its answer up after 3 attempts and waits for a request: ask
                # again, as a new packet (a same-toggle resend would be dropped as duplicate).
                self._asked_again = True
                self.counters.requests_repeated += 1
                return self._new_packet(self._message)
            self.phase = Phase.IDLE
            raise OpticalTimeoutError(
                f"no answer from the optical port after {self._answer_naks} NAKs"
            )
        self._answer_naks += 1
        self.counters.naks_sent += 1
        return [self._write(bytes((NAK,)))]

    def receive(self, data: bytes) -> list[Output]:
        self.counters.bytes_received += len(data)
        data = self._drop_echo(data)
        outputs: list[Output] = []
        for event in self._decoder.feed(data):
            if self.phase is Phase.IDLE:
                if isinstance(event, Received) and event.raw == self._last_accepted:
                    self.counters.duplicates += 1
                    outputs.append(self._write(bytes((ACK,))))
                else:
                    self.counters.stray_bytes += _size(event)
                continue
            if self.phase is Phase.AWAIT_ACK:
                outputs += self._while_awaiting_ack(event)
            else:
                outputs += self._while_awaiting_answer(event)
        return outputs

    # --- per phase ------------------------------------------------------------------------------

    def _while_awaiting_ack(self, event: Received | Ack | Nak | Corrupt | Stray) -> list[Output]:
        if isinstance(event, Ack):
            self.phase = Phase.AWAIT_ANSWER
            return []
        if isinstance(event, Nak):
            self.counters.naks_received += 1
            return self._resend("NAK")
        if isinstance(event, Stray):
            if event.data[:1] == b"\x00" and self._attempts > 1:
                # notes §7.8 #2: a lone 00 where 06 belongs; accepted after a retransmission.
                self.counters.zero_acks += 1
                self.counters.stray_bytes += len(event.data) - 1
                self.phase = Phase.AWAIT_ANSWER
                return []
            self.counters.stray_bytes += len(event.data)
            return []
        if isinstance(event, Received) and _same_packet(event.raw, self._last_accepted):
            self.counters.duplicates += 1  # the last answer again: our ACK was lost
            return [self._write(bytes((ACK,)))]
        # A packet (or a damaged one) before the ACK: our request got through, its ACK did not.
        self.phase = Phase.AWAIT_ANSWER
        return self._while_awaiting_answer(event)

    def _while_awaiting_answer(self, event: Received | Ack | Nak | Corrupt | Stray) -> list[Output]:
        if isinstance(event, Corrupt):
            self.counters.naks_sent += 1
            self.counters.stray_bytes += len(event.raw)
            return [self._write(bytes((NAK,)))]
        if not isinstance(event, Received):
            self.counters.stray_bytes += _size(event)
            self._heard = self._heard or isinstance(event, Stray)
            return []
        if _same_packet(event.raw, self._last_accepted):
            self.counters.duplicates += 1
            return [self._write(bytes((ACK,)))]
        packet = event.packet
        self._heard = False
        self.counters.packets_received += 1
        self._last_accepted = event.raw
        ack = self._write(bytes((ACK,)))
        if not packet.multi:
            return self._deliver(ack, packet.data)
        if packet.first:
            self._parts = [packet.data]
        elif self._next_seq is None or packet.seq != self._next_seq:
            self.phase = Phase.IDLE
            raise C1218Error("a multi-packet answer arrived out of order")
        else:
            self._parts.append(packet.data)
        if packet.seq == 0:
            return self._deliver(ack, b"".join(self._parts))
        self._next_seq = packet.seq - 1
        return [ack]

    def _deliver(self, ack: Write, message: bytes) -> list[Output]:
        self.phase = Phase.IDLE
        self._parts, self._next_seq = [], None
        return [ack, Answer(message)]

    def _resend(self, reason: str) -> list[Output]:
        if self._attempts >= self._attempts_allowed:
            self.phase = Phase.IDLE
            raise OpticalTimeoutError(
                f"{reason} from the optical port after {self._attempts} tries"
            )
        self._attempts += 1
        self.counters.resends += 1
        self.phase = Phase.AWAIT_ACK
        return [self._write(self._frame)]

    # --- bytes ----------------------------------------------------------------------------------

    def _write(self, data: bytes) -> Write:
        self.counters.bytes_sent += len(data)
        if self.echo is not Echo.OFF:
            # An echo comes back as the bytes leave, long before our next write (>= 50 ms).
            self._echo, self._echo_held = data, 0
        return Write(data)

    def _drop_echo(self, data: bytes) -> bytes:
        """An echoing IR head returns what was just sent first: drop it (notes §1.4).

        Bytes that match so far are held back until the copy is whole (dropped) or differs
        (passed on, held bytes first): split reads never lose a meter's byte. `Echo.ON` drops
        as many bytes as were written, so a damaged echo goes too."""
        expected, held = self._echo, self._echo_held
        if not expected or not data:
            return data
        if self.echo is Echo.ON:
            taken = min(len(data), len(expected) - held)
            self._echo_held += taken
            if self._echo_held == len(expected):
                self._echo = b""
            self.counters.echo_bytes += taken
            return data[taken:]
        matched = 0
        rest = expected[held:]
        while matched < min(len(data), len(rest)) and data[matched] == rest[matched]:
            matched += 1
        if matched == len(rest):  # the whole copy
            self._echo = b""
            self.counters.echo_bytes += len(expected)
            if len(expected) > 1 and self.echo is Echo.AUTO:
                self.echo = Echo.ON  # a whole packet came back: this head echoes
                self.counters.echo_detected = 1
            return data[matched:]
        if matched == len(data):
            self._echo_held += matched  # so far a copy: hold it back
            return b""
        self._echo, self._echo_held = b"", 0  # not an echo: the held bytes were the meter's
        return expected[:held] + data


def _same_packet(raw: bytes, last: bytes | None) -> bool:
    """Same toggle and same CRC as the last accepted packet: a duplicate (notes §2.4)."""
    if last is None:
        return False
    return raw[2] == last[2] and raw[-CRC_BYTES:] == last[-CRC_BYTES:]


def _size(event: Received | Ack | Nak | Corrupt | Stray) -> int:
    if isinstance(event, Received):
        return len(event.raw)
    if isinstance(event, Corrupt):
        return len(event.raw)
    if isinstance(event, Stray):
        return len(event.data)
    return 1
