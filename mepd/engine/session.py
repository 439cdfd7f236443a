"""The request/response session: one request in flight, spaced and timed as the guide says.

Layering: a `Transport` moves bytes; a `Link` (RC4 frames or a TLS session, `link.py`) turns
each request into a step machine that decides resends and resynchronisations; `ResponseWait`
decides when an answer is late and whether it was silence or a damaged answer; this module
adds the clock and keeps the books. It enforces p.21: at least 100 ms between requests, and a
500 ms response timeout measured from the request's last byte on the wire to the response's
first two bytes. And p.51: every frame, resends and handshake flights included, is paced by a
token bucket, so the meter never sees more than one read a second on average.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Literal, Protocol

from mepd.drivers.transport import ReadPausing, Transport
from mepd.engine.rc4_link import Link, Rc4Link, Settled, Steps
from mepd.protocol import Alert, Complete, Discarded, MepKey, Request, Response, ResponseCode
from mepd.protocol.errors import (
    AuthenticationError,
    MepTimeoutError,
    ResponseError,
    SequenceError,
)
from mepd.protocol.exchange import Retry
from mepd.protocol.stream import Event
from mepd.protocol.timing import MIN_REQUEST_SPACING_S, RESPONSE_TIMEOUT_S, wire_seconds
from mepd.protocol.tls.codes import DEFAULT_CLIENT_ID
from mepd.protocol.tls.errors import TlsRefusedError
from mepd.protocol.waiting import Incomplete, ResponseWait, Timeout, Verdict

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

    def seconds_until(self, tokens: float, now: float) -> float:
        """How long until `tokens` frames could go out without waiting (0: now)."""
        level = self._tokens
        if self._stamp is not None:
            level = min(self._burst, level + (now - self._stamp) * self._rate)
        return max(0.0, (min(tokens, self._burst) - level) / self._rate)


@dataclass
class SessionStats:
    """Counters since start; the publisher turns them into diagnostic entities.

    One set per session, in either mode; the link adds its mode's own (`Link.counters`).
    """

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
    link_counters: Callable[[], dict[str, int]] = field(default=dict, repr=False, compare=False)

    def snapshot(self) -> dict[str, int]:
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "link_counters"}
        return {**own, **self.link_counters()}


# How an exchange that ended in an error is booked: the counter it adds to, and whether the
# answer proves the meter holds our key. First match wins: subclasses before their bases.
ERROR_BOOKS: tuple[tuple[type[ResponseError], str | None, bool], ...] = (
    (AuthenticationError, "authentication_failures", False),  # 0x0B (p.11), TLS 0x03 (p.9)
    (SequenceError, None, True),  # a verified 0x0C is signed with our key (p.11)
    (TlsRefusedError, "refusals", False),  # a bare TLS code (0x01, 0x0A): signed by nobody
    (ResponseError, "refusals", True),  # a refusal whose digest or record verified
)


class MeterSession(Protocol):
    """What the poller uses of a session: `Session` (MEP, RC4 or TLS) or the optical port's
    `OpticalSession` (ANSI C12.18)."""

    stats: SessionStats
    key_proven: bool
    resync_listeners: list[Callable[[], None]]
    alert_listeners: list[Callable[[], None]]

    def reset_link(self) -> None: ...
    async def read(
        self, request: Request, *, resend: bool = True, retry_damaged: bool = True
    ) -> bytes: ...
    def budget_wait(self, tokens: float) -> float: ...


class Session:
    """Sends requests to one meter and returns verified responses, or raises `MepdError`s."""

    def __init__(
        self,
        transport: Transport,
        link: Link,
        *,
        spacing_s: float = MIN_REQUEST_SPACING_S,
        response_timeout_s: float = RESPONSE_TIMEOUT_S,
        read_budget: ReadBudget | None = None,
    ) -> None:
        self.transport = transport
        self.link = link
        self._spacing_s = spacing_s
        self._read_budget = read_budget or ReadBudget()
        self._wait = ResponseWait(transport.baud, response_timeout_s=response_timeout_s)
        self._last_sent_end = float("-inf")
        self.stats = SessionStats(link_counters=link.counters)
        self.key_proven = False  # a verified answer arrived since the link was (re)opened
        self.resync_listeners: list[Callable[[], None]] = []
        self.alert_listeners: list[Callable[[], None]] = []

    def budget_wait(self, tokens: float) -> float:
        """Seconds until the read budget holds `tokens` frames: the poller keeps a reserve
        for recovery reads (an IDT change, a resync) by not spending the last ones on
        routine polls."""
        return self._read_budget.seconds_until(tokens, asyncio.get_running_loop().time())

    def reset_link(self) -> None:
        """Forget partial input; after a reopen or power cycle the key must prove itself again."""
        self._wait.reset()
        self.link.reset()
        self.key_proven = False

    async def read(
        self, request: Request, *, resend: bool = True, retry_damaged: bool = True
    ) -> bytes:
        """`resend=False`: a probe of a silent meter, one frame; silence raises at once
        (`MepTimeoutError`) instead of spending the identical resend (p.21) on it.
        `retry_damaged=False`: a damaged answer raises (`DamagedAnswerError`, a `FrameError`)
        instead of being asked again: a long read tried on a noisy line, whose frames the
        budget (p.51) had better spend on short reads. The link's step machine decides."""
        return (await self.request(request, resend=resend, retry_damaged=retry_damaged)).data

    async def request(
        self, request: Request, *, resend: bool = True, retry_damaged: bool = True
    ) -> Response:
        parts = self.link.parts(request)
        if len(parts) == 1:
            return await self._request_one(request, resend, retry_damaged)
        answers = [await self._request_one(part, resend, retry_damaged) for part in parts]
        return Response(ResponseCode.OK, b"".join(answer.data for answer in answers))

    async def _request_one(
        self, request: Request, resend: bool = True, retry_damaged: bool = True
    ) -> Response:
        attempt = self.link.attempt(request, retry_damaged=retry_damaged)
        self.stats.exchanges += 1
        try:
            result = await self._run(attempt.steps, resend)
        except ResponseError as error:
            self._book(error)
            raise
        else:
            self.key_proven = True
            return result.response
        finally:
            self._settle(attempt.settle())

    def _book(self, error: ResponseError) -> None:
        for kind, counter, proves_key in ERROR_BOOKS:
            if isinstance(error, kind):
                if counter is not None:
                    setattr(self.stats, counter, getattr(self.stats, counter) + 1)
                self.key_proven = self.key_proven or proves_key
                return

    def _settle(self, settled: Settled) -> None:
        self.stats.sequence_resyncs += settled.resyncs
        self.stats.corrupt_responses += settled.corrupt
        if settled.key_proven:
            self.key_proven = True
        if settled.resynced:
            for listener in self.resync_listeners:
                listener()

    async def _run(self, steps: Steps, resend: bool = True) -> Complete:
        """Send what `steps` says, feed it each answer or silence, until it completes."""
        step = steps.start()
        while True:
            await self._transmit(step.frame)
            answer = await self._answer()
            if isinstance(answer, Timeout):
                self.stats.timeouts += 1
                if not resend:
                    raise MepTimeoutError("no answer to a probe within 500 ms (p.21)")
                step = steps.on_timeout()
                self.stats.identical_resends += step.retry is Retry.IDENTICAL
                continue
            if isinstance(answer, Incomplete):
                # Bytes that made no frame: an answer damaged on the line, not silence (p.21).
                step = steps.on_incomplete()
                continue
            result = steps.on_response(answer)
            if isinstance(result, Complete):
                return result
            step = result

    async def _transmit(self, frame: bytes) -> None:
        loop = asyncio.get_running_loop()
        await self._read_budget.acquire()
        # p.21: the meter handles at most one request per 100 ms.
        wait = self._last_sent_end + self._spacing_s - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        await self._drain()
        # Anything that arrived between exchanges answers nobody: drop it before asking.
        stale = self.transport.discard_input()
        await self.transport.write(frame)
        self.stats.frames_sent += 1
        self._last_sent_end = loop.time() + wire_seconds(len(frame), self.transport.baud)
        self.stats.stale_bytes += stale + self._wait.sent(self._last_sent_end)

    async def _drain(self) -> None:
        """After a verdict the answer may still come: wait until the line is idle, so its
        tail is not read as the start of the next answer (or as alerts)."""
        loop = asyncio.get_running_loop()
        wait = self._wait
        if not wait.must_drain(loop.time()):
            return
        wait.drain_start(loop.time())
        while not wait.drain_over(now := loop.time()):
            data = await self.transport.read(wait.drain_deadline() - now)
            self.stats.stale_bytes += wait.drained(data, loop.time())

    async def _answer(self) -> bytes | Verdict:
        """The next frame body, or the verdict when none came in time (p.21)."""
        loop = asyncio.get_running_loop()
        wait = self._wait
        while (body := wait.frame()) is None:
            nap = wait.nap(loop.time())
            if nap > 0:
                await self._nap(nap)
            now = loop.time()
            verdict = wait.expired(now)
            if verdict is not None:
                return verdict
            data = await self.transport.read(wait.deadline() - now)
            self._count(wait.received(data, loop.time()))
        return body

    async def _nap(self, seconds: float) -> None:
        """Sleep through bytes that cannot complete a frame sooner; a transport that can
        stops taking them from the OS meanwhile, so no chunk wakes the process."""
        transport = self.transport
        if not isinstance(transport, ReadPausing):
            await asyncio.sleep(seconds)
            return
        transport.pause_reading()
        try:
            await asyncio.sleep(seconds)
        finally:
            transport.resume_reading()

    def _count(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Alert):
                # p.17, notes §8: an unregistered reader drops alerts; the poller may look.
                self.stats.alerts += 1
                for listener in self.alert_listeners:
                    listener()
            elif isinstance(event, Discarded):
                self.stats.discarded_bytes += len(event.data)


Security = Literal["rc4", "tls"]


def session_for(
    security: Security,
    transport: Transport,
    key: MepKey,
    *,
    encrypt: bool = False,
    tls_client_id: int = DEFAULT_CLIENT_ID,
    tls_engine: str = "pure",
    read_budget: ReadBudget | None = None,
) -> Session:
    """A session in `security` mode: RC4 frames (`encrypt` applies) or a TLS-PSK session with
    the named engine (`drivers/tls_engine.py`; `ConfigError` if it is not installed)."""
    link: Link
    if security == "tls":
        # Loaded here: the TLS engine pulls in AES-GCM, which an RC4 daemon should not pay for.
        from mepd.drivers.tls_engine import client_engine_factory  # noqa: PLC0415
        from mepd.engine.tls_link import TlsLink  # noqa: PLC0415

        engine = client_engine_factory(tls_engine)
        link = TlsLink(key, client_id=tls_client_id, engine=engine)
    else:
        link = Rc4Link(key, encrypt=encrypt)
    return Session(transport, link, read_budget=read_budget)
