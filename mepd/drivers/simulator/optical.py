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

This module owns the link side: packets, ACK/NAK, toggle, resends, timeouts, line faults and
the shared-UART wake-up. The C12.18 services and session states are in `optical_services`
(`State` and `OpticalStats` are re-exported here, where callers import them).
"""

from __future__ import annotations

import random

from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.faults import FaultSettings
from mepd.drivers.simulator.meter import Meter
from mepd.drivers.simulator.optical_services import OpticalServices, OpticalStats, State
from mepd.drivers.simulator.port import DEFAULT_RESPONSE_DELAY_S, Transmission
from mepd.drivers.simulator.profiles import MeterProfile
from mepd.protocol.c1218 import PacketDecoder, split_message
from mepd.protocol.c1218.link import ACK_TIMEOUT_S, ATTEMPTS, INTERCHARACTER_TIMEOUT_S
from mepd.protocol.c1218.packets import (
    ACK,
    NAK,
    Ack,
    Corrupt,
    Nak,
    Received,
    Stray,
)
from mepd.protocol.keys import supplied_key_bytes
from mepd.protocol.timing import DEFAULT_BAUD, wire_seconds

CHANNEL_TRAFFIC_TIMEOUT_S = 6.0  # notes §3

__all__ = [
    "CHANNEL_TRAFFIC_TIMEOUT_S",
    "OpticalMeterPort",
    "OpticalStats",
    "State",
    "optical_meter",
]


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
        self._rng = rng
        self.faults = faults or FaultSettings()
        self._traffic_timeout_s = traffic_timeout_s
        self._decoder = PacketDecoder()
        self.services = OpticalServices(
            meter,
            password,
            rng=rng,
            epoch=epoch,
            optical=self.optical,
            faults=lambda: self.faults,
            restart_toggle=self._restart_toggle,
            terminate=self._to_base,
        )
        self._awake = not meter.profile.shares_uart_with_optical
        self._last_request: bytes | None = None
        self._last_valid_at: float | None = None
        self._last_byte_at: float | None = None
        self._toggle = False
        self._outbox: list[bytes] = []  # packets of the answer not yet ACKed, first is in flight
        self._attempts = 0
        self._ack_due: float | None = None
        self._busy_until = float("-inf")

    @property
    def state(self) -> State:
        """The C12.18 session state (notes §4), kept by the services."""
        return self.services.state

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
        answer = self.services.serve(event.packet.data, now)
        size = self.services.packet_size
        packets = split_message(answer, packet_size=size, toggle=self._toggle)
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

    def _restart_toggle(self) -> None:
        self._toggle = False

    def _to_base(self) -> None:
        """Terminate, or the traffic timeout: Base state; a shared UART goes back to MEP."""
        self.services.reset()
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
