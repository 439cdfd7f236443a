"""The request/response session: one request in flight, spaced and timed as the guide says.

Layering: a `Transport` moves bytes; `FrameDecoder` cuts them into frames; `Exchange` decides
resends and resynchronisations; this module adds the clock. It enforces p.21: at least 100 ms
between requests, and a 500 ms response timeout measured from the request's last byte on the
wire to the response's first two bytes. And p.51: every frame, resends included, is paced by
a token bucket, so the meter never sees more than one read a second on average.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Protocol

from mepd.drivers.transport import Transport
from mepd.protocol import (
    Alert,
    Complete,
    Discarded,
    Exchange,
    Frame,
    FrameDecoder,
    MepKey,
    Request,
    Response,
    RetryBudget,
    Send,
    SequenceCounter,
)
from mepd.protocol.errors import AuthenticationError, ResponseError, SequenceError
from mepd.protocol.exchange import Outcome, Retry
from mepd.protocol.frames import LENGTH_BYTES, MAX_MESSAGE_BYTES
from mepd.protocol.timing import (
    MIN_REQUEST_SPACING_S,
    RESPONSE_TIMEOUT_S,
    response_wire_seconds,
    wire_seconds,
)

log = logging.getLogger(__name__)

# Once a plausible LEN has arrived, the rest may take a full-size frame's time on the wire
# with its segment gaps (p.21); this slack covers the meter and the OS in between.
_FRAME_COMPLETION_SLACK_S = 0.3
# Once LEN has arrived, the rest of the frame cannot come faster than the baud rate: the
# session sleeps through all but the last 50 ms of it and then takes what arrived in one go,
# instead of waking for each few bytes the UART hands over (a 377-byte BT28 answer arrives
# in dozens of pieces). 50 ms of bytes covers what a UART FIFO or a USB adapter's latency
# timer (16 ms by default) can hold back, so the nap never makes a frame later.
_FRAME_TAIL_S = 0.05
_MIN_NAP_S = 0.01


# A token bucket of rate r and depth B lets at most B + r*T frames into any window of T
# seconds. The meter's budget is 1 read/s on average (p.51); with B = 12 (start-up reads in
# one go) and r = 0.8, no 60 s window ever holds more than 60 frames, retries included.
BUDGET_RATE_PER_S = 0.8
BUDGET_BURST = 12


class ReadBudget:
    """Every frame sent, resends included, costs the meter a read: pace them (p.51)."""

    def __init__(self, rate: float = BUDGET_RATE_PER_S, burst: int = BUDGET_BURST) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._stamp: float | None = None

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._stamp is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens < 1.0:
            await asyncio.sleep((1.0 - self._tokens) / self._rate)
            self._tokens = 1.0
            self._stamp = loop.time()
        self._tokens -= 1.0


class Steps(Protocol):
    """A request's retry state machine: `Exchange` in RC4 mode, `TlsExchange` in TLS mode."""

    def start(self) -> Send: ...
    def on_response(self, body: bytes) -> Complete | Send: ...
    def on_incomplete(self) -> Send: ...
    def on_timeout(self) -> Send: ...


@dataclass
class SessionStats:
    """Counters since start; the publisher turns them into diagnostic entities."""

    frames_sent: int = 0
    exchanges: int = 0
    timeouts: int = 0
    identical_resends: int = 0
    sequence_resyncs: int = 0
    corrupt_responses: int = 0
    authentication_failures: int = 0
    refusals: int = 0
    alerts: int = 0
    discarded_bytes: int = 0
    stale_bytes: int = 0

    def snapshot(self) -> dict[str, int]:
        return {field.name: getattr(self, field.name) for field in fields(self)}


class Session:
    """Sends requests to one meter and returns verified responses, or raises `MepdError`s."""

    def __init__(
        self,
        transport: Transport,
        key: MepKey,
        *,
        encrypt: bool = False,
        counter: SequenceCounter | None = None,
        spacing_s: float = MIN_REQUEST_SPACING_S,
        response_timeout_s: float = RESPONSE_TIMEOUT_S,
        budget: RetryBudget | None = None,
        read_budget: ReadBudget | None = None,
    ) -> None:
        self.transport = transport
        self._key = key
        self._encrypt = encrypt
        # p.11: no prior knowledge of the number is needed; the first answer is usually 0x0C.
        self._counter = counter or SequenceCounter(secrets.randbits(32))
        self._spacing_s = spacing_s
        self._response_timeout_s = response_timeout_s
        self._budget = budget or RetryBudget()
        self._read_budget = read_budget or ReadBudget()
        self._decoder = FrameDecoder()
        self._frames: deque[bytes] = deque()
        self._last_sent_end = float("-inf")
        self._heard = False  # bytes (not alerts) arrived since the last request was sent
        self.stats = SessionStats()
        self.key_proven = False  # a verified answer arrived since the link was (re)opened
        self.resync_listeners: list[Callable[[], None]] = []
        self.alert_listeners: list[Callable[[], None]] = []

    @property
    def last_request_at(self) -> float:
        """Loop time at which the last request left the wire."""
        return self._last_sent_end

    def reset_link(self) -> None:
        """Forget partial input; after a reopen or power cycle the key must prove itself again."""
        self._decoder.reset()
        self._frames.clear()
        self.key_proven = False

    async def read(self, request: Request) -> bytes:
        return (await self.request(request)).data

    async def request(self, request: Request) -> Response:
        exchange = Exchange(
            request, self._key, self._counter, encrypt=self._encrypt, budget=self._budget
        )
        self.stats.exchanges += 1
        try:
            result = await self.run_exchange(exchange)
            self.key_proven = True
            return result.response
        except AuthenticationError:
            self.stats.authentication_failures += 1
            raise
        except SequenceError:
            self.key_proven = True  # a verified 0x0C is signed with our key
            raise
        except ResponseError:
            self.key_proven = True
            self.stats.refusals += 1
            raise
        finally:
            self._account(exchange)

    async def run_exchange(self, exchange: Steps) -> Complete:
        """Send what `exchange` says, feed it each answer or silence, until it completes."""
        step = exchange.start()
        while True:
            await self._transmit(step.frame)
            body = await self._next_frame()
            if body is None:
                # Bytes that arrived but made no frame mean an answer damaged on the line;
                # only true silence counts as a timeout (p.21).
                heard = self._decoder.reset() or self._heard
                if heard:
                    step = exchange.on_incomplete()
                else:
                    step = exchange.on_timeout()
                    self.stats.identical_resends += step.retry is Retry.IDENTICAL
                continue
            result = exchange.on_response(body)
            if isinstance(result, Complete):
                return result
            step = result

    def _account(self, exchange: Exchange) -> None:
        counts = exchange.counts
        self.stats.timeouts += counts[Outcome.TIMEOUT]
        self.stats.sequence_resyncs += counts[Outcome.SEQUENCE]
        self.stats.corrupt_responses += counts[Outcome.CORRUPT]
        if counts[Outcome.SEQUENCE]:
            self.key_proven = True
            for listener in self.resync_listeners:
                listener()

    async def _transmit(self, frame: bytes) -> None:
        loop = asyncio.get_running_loop()
        await self._read_budget.acquire()
        # p.21: the meter handles at most one request per 100 ms.
        wait = self._last_sent_end + self._spacing_s - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        # Anything that arrived between exchanges answers nobody: drop it before asking.
        stale = self.transport.discard_input() + len(self._decoder.reset())
        stale += sum(len(body) + LENGTH_BYTES for body in self._frames)
        self._frames.clear()
        self.stats.stale_bytes += stale
        self._heard = False
        await self.transport.write(frame)
        self.stats.frames_sent += 1
        self._last_sent_end = loop.time() + wire_seconds(len(frame), self.transport.baud)

    async def _next_frame(self) -> bytes | None:
        """The next frame body, or None when the response timeout runs out (p.21)."""
        loop = asyncio.get_running_loop()
        baud = self.transport.baud
        header_deadline = self._last_sent_end + self._response_timeout_s
        frame_deadline: float | None = None
        while not self._frames:
            if frame_deadline is None and self._decoder.header_seen:
                frame_deadline = (
                    loop.time()
                    + _FRAME_COMPLETION_SLACK_S
                    + response_wire_seconds(LENGTH_BYTES + MAX_MESSAGE_BYTES, baud)
                )
            deadline = frame_deadline if frame_deadline is not None else header_deadline
            nap = wire_seconds(self._decoder.missing, baud) - _FRAME_TAIL_S
            if nap >= _MIN_NAP_S:
                # Never past the deadline: a frame that cannot be complete by then is late
                # either way.
                await asyncio.sleep(min(nap, max(0.0, deadline - loop.time())))
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            self._absorb(await self.transport.read(remaining))
        return self._frames.popleft()

    def _absorb(self, data: bytes) -> None:
        for event in self._decoder.feed(data):
            if isinstance(event, Frame):
                self._frames.append(event.body)
            elif isinstance(event, Alert):
                # p.17, notes §8: an unregistered reader drops alerts; the poller may look.
                self.stats.alerts += 1
                for listener in self.alert_listeners:
                    listener()
            elif isinstance(event, Discarded):
                self.stats.discarded_bytes += len(event.data)
                self._heard = True
