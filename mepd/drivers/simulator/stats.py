"""What the simulated meter saw a client do: counters a test can read after the fact."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from mepd.protocol.timing import MAX_AVERAGE_READS_PER_S

READ_RATE_WINDOW_S = 60.0
# `LinkStats.serving` while the meter answers anything but a table read (the optical
# session's Identify ... Terminate, writes, procedures): their bytes are counted here.
NOT_A_READ = -1


@dataclass
class LinkStats:
    """Counters of the meter's line and protocol layers (mutable: the meter updates it)."""

    frames_received: int = 0
    requests_handled: int = 0
    # p.21: requests closer than 100 ms to the previous frame, and those the meter dropped.
    too_close_requests: int = 0
    throttled_requests: int = 0
    # p.51, p.259: reads beyond an average of one per second over `read_rate_window_s`.
    read_rate_violations: int = 0
    read_rate_window_s: float = READ_RATE_WINDOW_S
    # p.21: partial requests dropped after a > 50 ms gap between two of their bytes.
    partial_requests_dropped: int = 0
    garbage_bytes: int = 0
    authentication_failures: int = 0
    sequence_errors: int = 0
    unparseable_requests: int = 0
    responses_sent: int = 0
    responses_lost: int = 0
    responses_delayed: int = 0
    bytes_corrupted: int = 0
    bytes_dropped: int = 0
    bytes_blocked: int = 0  # arrived or due while latched up, unpowered or optical
    alerts_sent: int = 0
    latchups: int = 0
    latchup_recoveries: int = 0
    optical_takeovers: int = 0
    idt_bumps: int = 0
    # TLS mode (p.8-9): 0x58 flights, sessions established, answers 0x01/0x03/0x0A, RC4
    # requests refused (0x0B) because TLS is required or a TLS session is on.
    tls_handshakes: int = 0
    tls_sessions: int = 0
    tls_errors: int = 0
    tls_key_failures: int = 0
    tls_no_session: int = 0
    tls_sessions_dropped: int = 0
    tls_terminations: int = 0
    rc4_refused: int = 0
    # Bytes on the line, counted by the driver as they arrive and as they are written (resends,
    # ACK/NAK and alerts included), in all and by what the meter was serving when they passed:
    # the table of the read being answered (`NOT_A_READ` otherwise), {table: [received, sent]}.
    # A request's bytes count for the read it asks for; the client's ACK after an answer for
    # that answer's read. What one reading costs on the wire, without guessing.
    bytes_received: int = 0
    bytes_sent: int = 0
    serving: int = NOT_A_READ
    bytes_by_table: dict[int, list[int]] = field(default_factory=dict)
    _reads: deque[float] = field(default_factory=deque, repr=False)

    def count_received(self, count: int) -> None:
        """`count` bytes came in (after the port handled them, so a request's own bytes
        count for the read it asked for)."""
        self.bytes_received += count
        self.bytes_by_table.setdefault(self.serving, [0, 0])[0] += count

    def count_sent(self, count: int) -> None:
        self.bytes_sent += count
        self.bytes_by_table.setdefault(self.serving, [0, 0])[1] += count

    def record_read(self, now: float) -> None:
        reads = self._reads
        reads.append(now)
        while reads and reads[0] <= now - self.read_rate_window_s:
            reads.popleft()
        if len(reads) > self.read_rate_window_s * MAX_AVERAGE_READS_PER_S:
            self.read_rate_violations += 1

    def average_read_rate(self, now: float) -> float:
        """Reads per second over the last window (p.51: keep it at or below 1)."""
        recent = sum(1 for at in self._reads if at > now - self.read_rate_window_s)
        return recent / self.read_rate_window_s
