"""The meter's MEP port, sans-I/O: bytes and host time in, timed transmissions out.

This is everything between the wire and `Meter.handle`: the guide's timing rules (p.20-21),
the transceiver, the optical port's claim on a gen3 UART, and the line faults. A driver feeds
it received bytes with `receive(data, now)`, calls `poll(now)` every few milliseconds, and
puts each returned `Transmission` on the line at `at`, paced at the baud rate.

Choices where the guide is not explicit:

- Too-close requests (p.21: "The meter throttles response such that there is no more than 1
  MEP request every 100ms"): a frame completing less than 100 ms after the last frame the
  meter handled is *dropped*, unanswered and unprocessed (its sequence number is not
  consumed). Throttling means the meter does not serve it; the guide defines no response code
  for "too fast", and a client that follows p.21 resends the identical frame after its 500 ms
  timeout, which is then served. Every frame closer than 100 ms to the previous received
  frame counts in `stats.too_close_requests`; each dropped one in `stats.throttled_requests`.
- Inter-byte gap (p.21): more than 50 ms between two bytes of a request drops what was
  received so far; the rest is then line garbage to the frame decoder.
- Alerts (p.17, p.21): when enabled, `00 00` once per second, held off for 1 s after each
  received frame and never in the middle of a response.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from mepd.drivers.simulator.faults import FaultSettings
from mepd.drivers.simulator.meter import Meter
from mepd.drivers.simulator.power import AlwaysPowered, TransceiverPower
from mepd.protocol.stream import ALERT_SEQUENCE, Discarded, Frame, FrameDecoder
from mepd.protocol.timing import (
    ALERT_HOLDOFF_S,
    ALERT_INTERVAL_S,
    DEFAULT_BAUD,
    MAX_INTER_BYTE_GAP_S,
    MIN_REQUEST_SPACING_S,
    RESPONSE_SEGMENT_BYTES,
    RESPONSE_SEGMENT_GAP_S,
    wire_seconds,
)

# The transceiver recovers from latch-up only after its supply was off this long.
POWER_CYCLE_S = 1.0
DEFAULT_RESPONSE_DELAY_S = (0.030, 0.060)
_OPTICAL_SEQUENCE_JUMP = (9, 200)


@dataclass(frozen=True)
class Transmission:
    """Bytes the meter starts sending at host time `at` (one segment of a response)."""

    at: float
    data: bytes


class MeterPort:
    def __init__(
        self,
        meter: Meter,
        *,
        rng: random.Random,
        epoch: float,
        baud: int = DEFAULT_BAUD,
        response_delay_s: tuple[float, float] = DEFAULT_RESPONSE_DELAY_S,
        alerts: bool = False,
        power: TransceiverPower | None = None,
        faults: FaultSettings | None = None,
    ) -> None:
        self.meter = meter
        self.stats = meter.stats
        self.baud = baud
        self.response_delay_s = response_delay_s
        self.alerts = alerts
        self.power = power or AlwaysPowered()
        self._rng = rng
        self._epoch = epoch  # host time of physics t = 0
        self._faults = faults or FaultSettings()
        self.set_faults(self._faults)
        self._decoder = FrameDecoder()
        self._last_byte_at: float | None = None
        self._last_frame_at: float | None = None
        self._last_handled_at: float | None = None
        self._busy_until = float("-inf")
        self._last_alert_at = float("-inf")
        self._last_poll_at: float | None = None
        self.latched = False
        self._power_off_since: float | None = None
        self._was_powered = True
        self.optical_until: float | None = None

    # --- knobs ------------------------------------------------------------------------------

    @property
    def faults(self) -> FaultSettings:
        return self._faults

    def set_faults(self, faults: FaultSettings | None = None, **changes: object) -> None:
        """Swap in new fault settings (tests flip knobs mid-run)."""
        settings = (faults or self._faults).replace(**changes)
        self._faults = settings
        self.meter.key_mismatch = settings.key_mismatch
        self.meter.reject_bt23_full_read = settings.reject_bt23_full_read
        self.meter.energy_offset_wh = round(settings.energy_offset_wh)
        self.meter.tables.history.events.set_primary_entries(round(settings.event_log_capacity))

    def latch_up(self) -> None:
        """The transceiver latches up: nothing passes until its power is cycled (>= 1 s off)."""
        if not self.latched:
            self.latched = True
            self.stats.latchups += 1

    def start_optical_session(self, now: float, seconds: float | None = None) -> None:
        """p.20 (gen 2/3): an optical session takes the shared UART; MEP goes silent."""
        if not self.meter.profile.shares_uart_with_optical:
            return
        self.optical_until = now + (self._faults.optical_seconds if seconds is None else seconds)
        self.stats.optical_takeovers += 1
        self._decoder.reset()

    def bump_idt_version(self) -> None:
        self.meter.bump_idt_version()

    def drop_tls_session(self) -> None:
        """The meter forgets its TLS session (as after a reset); the next 0x80 gets 0x0A."""
        if self.meter.tls is not None:
            self.meter.tls.drop_session()

    def physics_time(self, now: float) -> float:
        return now - self._epoch

    # --- the line ---------------------------------------------------------------------------

    def can_transmit(self, now: float) -> bool:
        """Whether bytes due now reach the wire (the driver asks before each chunk)."""
        self._observe(now)
        return not self._blocked()

    def receive(self, data: bytes, now: float) -> list[Transmission]:
        out = self.poll(now)
        if self._blocked():
            self.stats.bytes_blocked += len(data)
            return out
        data = self._line_faults(data, self._faults.rx_drop_rate, self._faults.rx_corrupt_rate)
        if not data:
            return out
        if (
            self._decoder.pending
            and self._last_byte_at is not None
            and now - self._last_byte_at > MAX_INTER_BYTE_GAP_S
        ):
            self._drop_partial()
        self._last_byte_at = now
        for event in self._decoder.feed(data):
            if isinstance(event, Frame):
                out += self._on_frame(event.body, now)
            elif isinstance(event, Discarded):
                self.stats.garbage_bytes += len(event.data)
        return out

    def poll(self, now: float) -> list[Transmission]:
        """Timers: power and latch-up, optical sessions, random events, the partial-frame
        timeout and alerts."""
        self._observe(now)
        elapsed = 0.0 if self._last_poll_at is None else max(0.0, now - self._last_poll_at)
        self._last_poll_at = now
        self._random_events(now, elapsed)
        if (
            self._decoder.pending
            and self._last_byte_at is not None
            and now - self._last_byte_at > MAX_INTER_BYTE_GAP_S
        ):
            self._drop_partial()
        return self._alert(now)

    # --- internals --------------------------------------------------------------------------

    def _blocked(self) -> bool:
        return self.latched or not self._was_powered or self.optical_until is not None

    def _observe(self, now: float) -> None:
        powered = bool(self.power.powered())
        if not powered and self._was_powered:
            self._power_off_since = now
            self._decoder.reset()
        elif powered and not self._was_powered:
            off_for = now - (self._power_off_since if self._power_off_since is not None else now)
            if self.latched and off_for >= POWER_CYCLE_S:
                self.latched = False
                self.stats.latchup_recoveries += 1
            self._power_off_since = None
        self._was_powered = powered
        if self.optical_until is not None and now >= self.optical_until:
            self.optical_until = None
            # The optical session used the meter's sequence machinery (p.20: clients see
            # sequence-number errors afterwards).
            self.meter.advance_sequence(self._rng.randint(*_OPTICAL_SEQUENCE_JUMP))

    def _random_events(self, now: float, elapsed: float) -> None:
        if elapsed <= 0:
            return
        faults = self._faults
        if self._happens(faults.latchup_rate, elapsed):
            self.latch_up()
        if self.optical_until is None and self._happens(faults.optical_takeover_rate, elapsed):
            self.start_optical_session(now)
        if self._happens(faults.idt_bump_rate, elapsed):
            self.bump_idt_version()
        if self.meter.tls is not None and self._happens(faults.tls_session_loss_rate, elapsed):
            self.drop_tls_session()
        if self._happens(faults.event_rate, elapsed):
            wall = self.meter.physics.start_wall + self.physics_time(now)
            self.meter.tables.history.events.log_live(wall, self._rng)

    def _happens(self, rate_per_s: float, elapsed: float) -> bool:
        if rate_per_s <= 0:
            return False
        chance: float = 1.0 - (1.0 - rate_per_s) ** elapsed
        return self._rng.random() < chance

    def _drop_partial(self) -> None:
        self._decoder.reset()
        self.stats.partial_requests_dropped += 1

    def _on_frame(self, body: bytes, now: float) -> list[Transmission]:
        stats = self.stats
        stats.frames_received += 1
        if stats.frames_received <= self._faults.corrupt_first_requests and body:
            body = body[:-1] + bytes([body[-1] ^ 0x01])  # the digest's last byte
        previous = self._last_frame_at
        self._last_frame_at = now  # p.21: alerts are held off after any received frame
        if previous is not None and now - previous < MIN_REQUEST_SPACING_S:
            stats.too_close_requests += 1
        if (
            self._last_handled_at is not None
            and now - self._last_handled_at < MIN_REQUEST_SPACING_S
        ):
            stats.throttled_requests += 1
            return []
        self._last_handled_at = now
        handled_before = stats.requests_handled
        response = self.meter.handle(body, self.physics_time(now), now)
        if stats.requests_handled > handled_before and self.meter.last_was_read:
            stats.record_read(now)
        return self._send(response, now)

    def _send(self, frame: bytes, now: float) -> list[Transmission]:
        faults, rng = self._faults, self._rng
        if faults.lose_response_rate and rng.random() < faults.lose_response_rate:
            self.stats.responses_lost += 1
            return []
        low, high = self.response_delay_s
        delay = rng.uniform(low, high)
        if faults.delay_response_rate and rng.random() < faults.delay_response_rate:
            delay += faults.delay_seconds
            self.stats.responses_delayed += 1
        start = max(now + delay, self._busy_until)
        out = []
        # p.21: responses over 117 bytes go out in 117-byte segments, 25 ms apart.
        for first in range(0, len(frame), RESPONSE_SEGMENT_BYTES):
            segment = frame[first : first + RESPONSE_SEGMENT_BYTES]
            wire = self._line_faults(segment, faults.tx_drop_rate, faults.tx_corrupt_rate)
            out.append(Transmission(start, wire))
            start += wire_seconds(len(segment), self.baud) + RESPONSE_SEGMENT_GAP_S
        self._busy_until = start - RESPONSE_SEGMENT_GAP_S
        self.stats.responses_sent += 1
        return out

    def _alert(self, now: float) -> list[Transmission]:
        if not self.alerts or self._blocked() or now < self._busy_until:
            return []
        if self._last_frame_at is not None and now - self._last_frame_at < ALERT_HOLDOFF_S:
            return []
        if now - self._last_alert_at < ALERT_INTERVAL_S:
            return []
        self._last_alert_at = now
        self._busy_until = now + wire_seconds(len(ALERT_SEQUENCE), self.baud)
        self.stats.alerts_sent += 1
        faults = self._faults
        return [
            Transmission(
                now, self._line_faults(ALERT_SEQUENCE, faults.tx_drop_rate, faults.tx_corrupt_rate)
            )
        ]

    def _line_faults(self, data: bytes, drop_rate: float, corrupt_rate: float) -> bytes:
        if not drop_rate and not corrupt_rate:
            return data
        rng, out = self._rng, bytearray()
        for byte in data:
            if drop_rate and rng.random() < drop_rate:
                self.stats.bytes_dropped += 1
                continue
            flip = 0
            if corrupt_rate and rng.random() < corrupt_rate:
                flip = 1 << rng.randrange(8)
                self.stats.bytes_corrupted += 1
            out.append(byte ^ flip)
        return bytes(out)
