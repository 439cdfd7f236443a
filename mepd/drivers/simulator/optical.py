"""The meter's optical port, sans-I/O: C12.18 packets in, timed packets out (c1218 notes).

It serves the same tables as the simulated MEP port (`Meter.tables`, the same physics and the
same served history, so a soak compares values the same way), with the behaviour the notes
describe and a client must cope with:

- Gen 2/3 (`shares_uart_with_optical`): the first `EE` switches the shared UART and that first
  packet is lost: it is NAKed (OPG p.14, notes §1.3);
- the channel traffic timeout: 6 s without a valid packet drops the session (notes §3);
- session states Base / ID / Session; a service in the wrong state gets `isss` (notes §4);
- Security with a wrong password gets `err`; tables other than BT00, BT01 and ET03 need a
  password first (`isc`, OPG p.13, p.18-19);
- answers larger than one packet go in several packets of the negotiated size, each waiting
  for its ACK, resent on NAK or after 2 s, 3 attempts (notes §2.3, §2.7);
- a request packet equal to the last one (same toggle and CRC) is ACKed and not served again.

Fault knobs (`FaultSettings`): byte corruption and loss both ways, lost answers (ACK sent,
answer not), `nak_rate` (a good packet NAKed), `busy_rate` (`bsy` instead of a read's answer).

Driven like `MeterPort`: `receive(data, now)`, `poll(now)`, `can_transmit(now)`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.faults import FaultSettings
from mepd.drivers.simulator.history import ServedReading
from mepd.drivers.simulator.meter import Meter
from mepd.drivers.simulator.port import DEFAULT_RESPONSE_DELAY_S, Transmission
from mepd.drivers.simulator.profiles import MeterProfile
from mepd.drivers.simulator.tables import BT23, BT28, LiveState
from mepd.protocol.c1218 import PacketDecoder, split_message
from mepd.protocol.c1218.errors import C1218Code
from mepd.protocol.c1218.link import ACK_TIMEOUT_S, ATTEMPTS, INTERCHARACTER_TIMEOUT_S
from mepd.protocol.c1218.packets import (
    ACK,
    NAK,
    OVERHEAD_BYTES,
    Ack,
    Corrupt,
    Nak,
    Received,
    Stray,
)
from mepd.protocol.c1218.services import (
    READ_RESPONSE_OVERHEAD,
    Service,
    read_response,
)
from mepd.protocol.codes import extended_table
from mepd.protocol.keys import supplied_key_bytes
from mepd.protocol.timing import DEFAULT_BAUD, wire_seconds

CHANNEL_TRAFFIC_TIMEOUT_S = 6.0  # notes §3
OPEN_TABLES = frozenset({0, 1, extended_table(3)})  # OPG p.18-19, p.48: no key needed
DEFAULT_PACKET_SIZE = 64
MAX_PACKET_SIZE = 1024  # what this meter grants at most
MAX_PACKETS = 8


class State(Enum):
    BASE = "base"
    ID = "id"
    SESSION = "session"


@dataclass
class OpticalStats:
    """What the optical port saw: counters a test reads after the fact."""

    packets_received: int = 0
    first_frame_naks: int = 0
    naks_sent: int = 0
    naks_received: int = 0
    duplicates: int = 0
    resends: int = 0
    traffic_timeouts: int = 0
    sessions: int = 0
    security_failures: int = 0
    busy_answers: int = 0
    answers_lost: int = 0


class OpticalMeterPort:
    """One meter's optical port: the C12.18 server side of the link and the session."""

    def __init__(
        self,
        meter: Meter,
        password: bytes,
        *,
        rng: random.Random,
        epoch: float,
        baud: int = DEFAULT_BAUD,
        response_delay_s: tuple[float, float] = DEFAULT_RESPONSE_DELAY_S,
        faults: FaultSettings | None = None,
        traffic_timeout_s: float = CHANNEL_TRAFFIC_TIMEOUT_S,
    ) -> None:
        self.meter = meter
        self.stats = meter.stats
        self.optical = OpticalStats()
        self.baud = baud
        self.response_delay_s = response_delay_s
        self._password = password
        self._rng = rng
        self._epoch = epoch
        self.faults = faults or FaultSettings()
        self._traffic_timeout_s = traffic_timeout_s
        self._decoder = PacketDecoder()
        self.state = State.BASE
        self._awake = not meter.profile.shares_uart_with_optical
        self._secured = False
        self._packet_size = DEFAULT_PACKET_SIZE
        self._packets = 1
        self._last_request: bytes | None = None
        self._last_valid_at: float | None = None
        self._last_byte_at: float | None = None
        self._toggle = False
        self._outbox: list[bytes] = []  # packets of the answer not yet ACKed, first is in flight
        self._attempts = 0
        self._ack_due: float | None = None
        self._busy_until = float("-inf")

    def set_faults(self, faults: FaultSettings | None = None, **changes: object) -> None:
        self.faults = (faults or self.faults).replace(**changes)

    # --- the line (the driver's side) ----------------------------------------------------------

    def can_transmit(self, now: float) -> bool:
        return True

    def receive(self, data: bytes, now: float) -> list[Transmission]:
        out = self.poll(now)
        data = self._line_faults(data, self.faults.rx_drop_rate, self.faults.rx_corrupt_rate)
        if (
            self._decoder.pending
            and self._last_byte_at is not None
            and now - self._last_byte_at > INTERCHARACTER_TIMEOUT_S
        ):
            self._decoder.reset()
        self._last_byte_at = now
        for event in self._decoder.feed(data):
            out += self._on_event(event, now)
        return out

    def poll(self, now: float) -> list[Transmission]:
        if (
            self.state is not State.BASE
            and self._last_valid_at is not None
            and now - self._last_valid_at > self._traffic_timeout_s
        ):
            self.optical.traffic_timeouts += 1
            self._to_base()
        if self._ack_due is not None and now >= self._ack_due:
            return self._resend(now)
        return []

    # --- link ------------------------------------------------------------------------------------

    def _on_event(
        self, event: Received | Ack | Nak | Corrupt | Stray, now: float
    ) -> list[Transmission]:
        if isinstance(event, Stray):
            self.stats.garbage_bytes += len(event.data)
            return []
        if isinstance(event, Corrupt):
            self.stats.garbage_bytes += len(event.raw)
            return self._nak(now)
        if isinstance(event, Ack):
            return self._acked(now)
        if isinstance(event, Nak):
            self.optical.naks_received += 1
            return self._resend(now) if self._outbox else []
        return self._on_packet(event, now)

    def _on_packet(self, event: Received, now: float) -> list[Transmission]:
        self.optical.packets_received += 1
        self.stats.frames_received += 1
        if not self._awake:
            # OPG p.14: the first EE switches the shared UART; that frame arrives damaged.
            self._awake = True
            self.optical.first_frame_naks += 1
            return self._nak(now)
        if self.faults.nak_rate and self._rng.random() < self.faults.nak_rate:
            return self._nak(now)
        self._last_valid_at = now
        raw = event.raw
        last = self._last_request
        if last is not None and raw[2] == last[2] and raw[-2:] == last[-2:]:
            self.optical.duplicates += 1  # our ACK was lost: ACK again, do not serve twice
            return [self._transmit(now, bytes((ACK,)))]
        self._last_request = raw
        self._outbox, self._ack_due = [], None  # a new request ends any unfinished answer
        out = [self._transmit(now, bytes((ACK,)))]
        answer = self._serve(event.packet.data, now)
        packets = split_message(answer, packet_size=self._packet_size, toggle=self._toggle)
        self._toggle ^= len(packets) % 2 == 1
        self._outbox = [packet.encode() for packet in packets]
        self.stats.responses_sent += 1
        sent = self._send_next(now + self._rng.uniform(*self.response_delay_s))
        if self.faults.lose_response_rate and self._rng.random() < self.faults.lose_response_rate:
            # The answer is lost on the line: the meter waits for its ACK, and resends after
            # a NAK or its own ACK timeout.
            self.optical.answers_lost += 1
            self.stats.responses_lost += 1
            return out
        return out + sent

    def _acked(self, now: float) -> list[Transmission]:
        self._last_valid_at = now
        if not self._outbox or self._ack_due is None:
            return []
        self._outbox.pop(0)
        self._ack_due = None
        return self._send_next(now) if self._outbox else []

    def _send_next(self, at: float) -> list[Transmission]:
        self._attempts = 1
        return [self._transmit_packet(at)]

    def _resend(self, now: float) -> list[Transmission]:
        if not self._outbox or self._attempts >= ATTEMPTS:
            self._outbox, self._ack_due = [], None
            return []
        self._attempts += 1
        self.optical.resends += 1
        return [self._transmit_packet(now)]

    def _transmit_packet(self, at: float) -> Transmission:
        packet = self._outbox[0]
        sent = self._transmit(at, packet)
        self._ack_due = max(at, self._busy_until) + ACK_TIMEOUT_S
        return sent

    def _nak(self, now: float) -> list[Transmission]:
        self.optical.naks_sent += 1
        return [self._transmit(now, bytes((NAK,)))]

    def _transmit(self, at: float, data: bytes) -> Transmission:
        start = max(at, self._busy_until)
        self._busy_until = start + wire_seconds(len(data), self.baud)
        faults = self.faults
        return Transmission(
            start, self._line_faults(data, faults.tx_drop_rate, faults.tx_corrupt_rate)
        )

    # --- services ----------------------------------------------------------------------------

    def _serve(self, message: bytes, now: float) -> bytes:
        """The answer to one request message, by the service table and the session state."""
        if not message:
            return _code(C1218Code.ERR)
        # 0x60..0x6B are all Negotiate: the low nibble counts the baud codes (notes §5.2).
        negotiate = Service.NEGOTIATE <= message[0] <= Service.NEGOTIATE + 11
        service = _SERVICES.get(Service.NEGOTIATE if negotiate else message[0])
        if service is None:
            return _code(C1218Code.SNS)
        required, handler = service
        if required is not None and self.state is not required:
            return _code(C1218Code.ISSS)  # notes §4: not valid in this state
        return handler(self, message, now)

    def _identify(self, message: bytes, now: float) -> bytes:
        self.state = State.ID
        self._toggle = False  # the meter's toggle starts at 0 each session (notes §2.4)
        return bytes((C1218Code.OK, 0, 2, 0, 0))  # C12.18, version 2.0, no features (§5.1)

    def _terminate(self, message: bytes, now: float) -> bytes:
        self._to_base()
        return _code(C1218Code.OK)

    def _logon(self, message: bytes, now: float) -> bytes:
        if len(message) != 13:
            return _code(C1218Code.ERR)
        self.state = State.SESSION
        self.optical.sessions += 1
        return _code(C1218Code.OK)

    def _security(self, message: bytes, now: float) -> bytes:
        if message[1:] != self._password:
            self.optical.security_failures += 1
            self.stats.authentication_failures += 1
            return _code(C1218Code.ERR)  # notes §5.5: MS reads err on Security as a bad key
        self._secured = True
        return _code(C1218Code.OK)

    def _logoff(self, message: bytes, now: float) -> bytes:
        self.state, self._secured = State.ID, False
        return _code(C1218Code.OK)

    def _wait(self, message: bytes, now: float) -> bytes:
        return _code(C1218Code.OK)

    def _negotiate(self, message: bytes, now: float) -> bytes:
        if len(message) < 4:
            return _code(C1218Code.ERR)
        size = min(int.from_bytes(message[1:3], "big"), MAX_PACKET_SIZE)
        packets = min(message[3], MAX_PACKETS)
        if size <= OVERHEAD_BYTES + READ_RESPONSE_OVERHEAD or packets < 1:
            return _code(C1218Code.ONP)
        self._packet_size, self._packets = size, packets
        return bytes((C1218Code.OK,)) + size.to_bytes(2, "big") + bytes((packets, 0x06))

    def _read(self, message: bytes, now: float) -> bytes:
        if self.faults.busy_rate and self._rng.random() < self.faults.busy_rate:
            self.optical.busy_answers += 1
            return _code(C1218Code.BSY)
        code = message[0]
        table = int.from_bytes(message[1:3], "big")
        if not self._secured and table not in OPEN_TABLES:
            return _code(C1218Code.ISC)  # OPG p.13: every other table needs a key
        meter = self.meter
        truth = meter.physics.truth_at(now - self._epoch)
        data = meter.tables.read(table, truth, LiveState(meter.sequence, meter.idt_version))
        if data is None:
            return _code(C1218Code.IAR)  # OPG p.24: a table that is not there
        if code == Service.READ_PARTIAL:
            if len(message) != 8:
                return _code(C1218Code.ERR)
            offset = int.from_bytes(message[3:6], "big")
            count = int.from_bytes(message[6:8], "big")
            chunk = data[offset : offset + count]
            data = chunk + bytes(count - len(chunk))  # OPG p.9: zeros past the end
        limit = (self._packet_size - OVERHEAD_BYTES) * self._packets - READ_RESPONSE_OVERHEAD
        if len(data) > limit:
            return _code(C1218Code.ONP)
        meter.stats.requests_handled += 1
        meter.stats.record_read(now)
        if table in (BT23, BT28):
            meter.history.record(ServedReading(now, truth.wall, table, truth))
        return read_response(data)

    def _to_base(self) -> None:
        """Terminate, or the traffic timeout: Base state; a shared UART goes back to MEP."""
        self.state, self._secured = State.BASE, False
        self._packet_size, self._packets = DEFAULT_PACKET_SIZE, 1
        self._last_request = None
        self._awake = not self.meter.profile.shares_uart_with_optical

    def _line_faults(self, data: bytes, drop_rate: float, corrupt_rate: float) -> bytes:
        if not drop_rate and not corrupt_rate:
            return data
        out = bytearray()
        for byte in data:
            if drop_rate and self._rng.random() < drop_rate:
                self.stats.bytes_dropped += 1
                continue
            flip = 0
            if corrupt_rate and self._rng.random() < corrupt_rate:
                flip = 1 << self._rng.randrange(8)
                self.stats.bytes_corrupted += 1
            out.append(byte ^ flip)
        return bytes(out)


def _code(code: C1218Code) -> bytes:
    return bytes((code,))


Handler = Callable[[OpticalMeterPort, bytes, float], bytes]
# Each service: the state it is valid in (None: any) and its handler (notes §4, §5).
_SERVICES: dict[int, tuple[State | None, Handler]] = {
    Service.IDENTIFY: (State.BASE, OpticalMeterPort._identify),
    Service.NEGOTIATE: (State.ID, OpticalMeterPort._negotiate),
    Service.LOGON: (State.ID, OpticalMeterPort._logon),
    Service.SECURITY: (State.SESSION, OpticalMeterPort._security),
    Service.READ_FULL: (State.SESSION, OpticalMeterPort._read),
    Service.READ_PARTIAL: (State.SESSION, OpticalMeterPort._read),
    Service.WAIT: (State.SESSION, OpticalMeterPort._wait),
    Service.LOGOFF: (State.SESSION, OpticalMeterPort._logoff),
    Service.TERMINATE: (None, OpticalMeterPort._terminate),
}


def optical_meter(
    profile: MeterProfile,
    *,
    password: str = DEMO_MBK,
    seed: int = 0,
    epoch: float = 0.0,
    start_wall: float | None = None,
    baud: int = DEFAULT_BAUD,
    response_delay_s: tuple[float, float] = DEFAULT_RESPONSE_DELAY_S,
    faults: FaultSettings | None = None,
    history_limit: int = 10_000,
) -> OpticalMeterPort:
    """A meter behind its optical port; `password` is its optical key (20 characters or 40 hex
    digits, OPG p.13), the same text `mepd simulate --key` takes."""
    meter = simulated_meter(
        profile,
        mbk=password,
        seed=seed,
        epoch=epoch,
        start_wall=start_wall,
        baud=baud,
        history_limit=history_limit,
    ).meter
    return OpticalMeterPort(
        meter,
        supplied_key_bytes(password),
        rng=random.Random(seed + 1),
        epoch=epoch,
        baud=baud,
        response_delay_s=response_delay_s,
        faults=faults,
    )
