"""Waiting for one answer as a state machine: the caller keeps the clock, this decides (p.21).

After a request's last byte has left the wire the meter has 500 ms to start its answer, i.e.
to send a plausible LEN (p.21). Once a LEN is in, the rest may take a full-size frame's time
on the wire with the meter's segment gaps (117-byte segments, 25 ms pauses, p.21) plus some
slack; a pause inside a frame is normal, so silence never ends a frame. When time runs out
the verdict is `Incomplete` if bytes other than alerts arrived (the meter answered and the
line lost part of it: it did process the request, so no identical resend, p.11) and
`Timeout` if nothing did (p.21: send the same packet once more).

After a verdict the answer may still come, late: before the next request the caller drains
the line until it is idle (`must_drain`, `drain_*`), so a late answer's tail is never read as
the start of the next answer, and the decoder discards the rest of a frame whose LEN it knew
(never alerts from the zeros in its table data).

It also says how long the caller may sleep without reading: bytes cannot come faster than
the baud rate, so while N bytes of a frame are missing, nothing useful can happen for most
of N byte times. Times are plain floats on whatever clock the caller uses.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from mepd.protocol.frames import LENGTH_BYTES, MAX_MESSAGE_BYTES
from mepd.protocol.stream import Discarded, Event, Frame, FrameDecoder
from mepd.protocol.timing import (
    DEFAULT_BAUD,
    RESPONSE_TIMEOUT_S,
    response_wire_seconds,
    wire_seconds,
)

# Once a plausible LEN has arrived, the rest may take a full-size frame's time on the wire
# with its segment gaps (p.21); this slack covers the meter and the OS in between.
FRAME_COMPLETION_SLACK_S = 0.3
# The nap ends this long before the frame could be complete: 50 ms of bytes covers what a
# UART FIFO or a USB adapter's latency timer (16 ms by default) can hold back, so the nap
# never makes a frame later.
FRAME_TAIL_S = 0.05
# Shorter naps are not worth a timer: read as the bytes come.
MIN_NAP_S = 0.01
# p.21: a meter mid-answer pauses 25 ms between 117-byte segments; four such gaps of silence
# mean it is not sending, so the line is idle and the next request may go.
DRAIN_IDLE_S = 0.1
# p.20 names delayed responses without a bound. For this long after a verdict a late answer
# is still expected, and every request first drains the line.
LATE_ANSWER_S = 2.0


@dataclass(frozen=True)
class Incomplete:
    """Bytes came but made no frame: an answer damaged on the line (p.11, p.21)."""

    dropped: int  # bytes of the unfinished frame given up


@dataclass(frozen=True)
class Timeout:
    """Nothing but alerts arrived within the response timeout (p.21)."""


Verdict = Incomplete | Timeout


class ResponseWait:
    """One request's wait for its answer: `sent()`, then `received()` until a frame or a verdict.

    It owns the frame decoder because the deadline moves when a LEN arrives, which is a state
    of the decoder and not an event it emits.
    """

    def __init__(
        self,
        baud: int = DEFAULT_BAUD,
        *,
        response_timeout_s: float = RESPONSE_TIMEOUT_S,
        completion_slack_s: float = FRAME_COMPLETION_SLACK_S,
        max_body: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self._baud = baud
        self._response_timeout_s = response_timeout_s
        # p.21: a frame of the largest size, with its segment gaps, plus slack.
        self._frame_time_s = completion_slack_s + response_wire_seconds(
            LENGTH_BYTES + max_body, baud
        )
        self._decoder = FrameDecoder(max_body)
        self._frames: deque[bytes] = deque()
        self._header_deadline = -math.inf
        self._frame_deadline: float | None = None
        self._heard = False  # bytes (not alerts) that made no frame arrived since `sent()`
        self._unsettled_until = -math.inf  # a late answer may come until then
        self._drain_start = -math.inf
        self._last_byte = -math.inf  # when the last byte arrived, drained or not

    def sent(self, end: float) -> int:
        """The request's last byte leaves the wire at `end`: the response timeout starts there.

        Whatever arrived before answers nobody and is dropped; returns how many bytes that was.
        """
        # A stale partial frame is abandoned, not forgotten: the rest of it is no answer either.
        stale = len(self._decoder.abandon()) + self._drop_frames()
        self._header_deadline = end + self._response_timeout_s
        self._frame_deadline = None
        self._heard = False
        return stale

    def reset(self) -> int:
        """Forget partial input and undelivered frames (after a reopen); return their bytes."""
        return len(self._decoder.reset()) + self._drop_frames()

    def _drop_frames(self) -> int:
        dropped = sum(LENGTH_BYTES + len(body) for body in self._frames)
        self._frames.clear()
        return dropped

    def received(self, data: bytes, now: float) -> list[Event]:
        """Bytes that arrived by `now`; returns the decoder's events (frames are kept too)."""
        if data:
            self._last_byte = now
        events = self._decoder.feed(data)
        for event in events:
            if isinstance(event, Frame):
                self._frames.append(event.body)
            elif isinstance(event, Discarded):
                self._heard = True
        if self._frame_deadline is None and self._decoder.header_seen:
            # p.21: the response timeout stops at the LEN; the frame gets its wire time.
            self._frame_deadline = now + self._frame_time_s
        return events

    def frame(self) -> bytes | None:
        """The next frame body that arrived, if any."""
        return self._frames.popleft() if self._frames else None

    def deadline(self) -> float:
        """When the wait is over: the response timeout, or the frame's once its LEN is in."""
        if self._frame_deadline is not None:
            return self._frame_deadline
        return self._header_deadline

    def nap(self, now: float) -> float:
        """Seconds the caller may sleep without reading: the missing rest of a frame cannot
        arrive faster than the baud rate. 0 when a nap is not worth it; never past the
        deadline (a frame that cannot be complete by then is late either way)."""
        nap = wire_seconds(self._decoder.missing, self._baud) - FRAME_TAIL_S
        if nap < MIN_NAP_S:
            return 0.0
        return min(nap, max(0.0, self.deadline() - now))

    def expired(self, now: float) -> Verdict | None:
        """The verdict once the deadline has passed with no frame, else None.

        A verdict ends the wait: the unfinished frame is given up (not counted as stale).
        """
        if self._frames or now < self.deadline():
            return None
        dropped = len(self._decoder.abandon())
        self._unsettled_until = now + LATE_ANSWER_S
        if dropped or self._heard:
            return Incomplete(dropped)
        return Timeout()

    # --- draining the line after a verdict -------------------------------------------------

    def must_drain(self, now: float) -> bool:
        """A late answer may still be on its way: drain before the next request."""
        return now < self._unsettled_until or self._decoder.tail > 0

    def drain_start(self, now: float) -> None:
        """The idle time counts from the last byte seen, so a silent line is idle at once."""
        self._drain_start = now

    def drained(self, data: bytes, now: float) -> int:
        """Bytes read while draining: they answer nobody. Returns how many."""
        if data:
            self._decoder.skip(len(data))
            self._last_byte = now
        return len(data)

    def drain_deadline(self) -> float:
        """When the drain is over: the line idle for `DRAIN_IDLE_S`, or at most a full frame's
        time (a line that never stops chattering does not stop the polling)."""
        return min(self._last_byte + DRAIN_IDLE_S, self._drain_start + self._frame_time_s)

    def drain_over(self, now: float) -> bool:
        """True once the drain is over; an idle line also ends an abandoned frame's tail."""
        if now < self.drain_deadline():
            return False
        if now >= self._last_byte + DRAIN_IDLE_S:
            self._decoder.reset()
        return True
