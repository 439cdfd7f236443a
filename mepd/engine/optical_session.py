"""The optical port's session: C12.18 Identify ... Terminate around the poller's reads.

Why its own class and not a third `Link` for `Session`: a `Link` hands `Session` frames that
`ResponseWait` decodes as MEP frames (LEN-prefixed, digested), one answer per request. The
optical port speaks another framing (`EE` packets, single-byte ACK/NAK, answers in several
packets) and needs a session around the reads (Identify, Negotiate, Logon, Security, ...
Logoff, Terminate). So this class composes `C1218Link` (the pure link machine) with the clock
and the port, and offers the surface the poller uses: `read()`, `request()`, `reset_link()`,
`stats`, `key_proven`, `resync_listeners`, `alert_listeners`, plus `close()`.

Session policy (notes §7.9; ARCHITECTURE.md): the meter's session is kept open while requests
come less than `keep_open_s` (4 s) apart, under the 6 s channel traffic timeout (notes §3);
after that much quiet it is ended cleanly (Logoff, Terminate), so a Gen 2/3 meter, whose MEP
and optical ports share one UART (OPG p.13-14), never stays blocked by a session nobody uses.
A session is renewed before 540 s, under the ET51/ET55 600 s D.O.S. cut (notes §7.3).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from mepd.drivers.transport import Transport
from mepd.engine.security import Mode
from mepd.engine.session import MeterSession, SessionStats, session_for
from mepd.errors import MepdError
from mepd.protocol import FullRead, PartialRead, Request, Response, ResponseCode
from mepd.protocol.c1218 import Answer, C1218Link, Echo, Write
from mepd.protocol.c1218 import services as svc
from mepd.protocol.c1218.errors import (
    RETRYABLE,
    SESSION_LOST,
    C1218Code,
    PacketError,
    ServiceError,
)
from mepd.protocol.c1218.services import Negotiated
from mepd.protocol.errors import FrameError
from mepd.protocol.timing import wire_seconds
from mepd.settings import MeterSettings

log = logging.getLogger(__name__)

KEEP_OPEN_S = 4.0  # notes §7.9: keep one session while polls come at most 4 s apart
RENEW_AFTER_S = 540.0  # notes §0.10: HB starts a new session every 540 s (600 s D.O.S. cut)
# notes §3, §7.7: HB (which runs on real NES meters) keeps >= 100 ms between requests and
# >= 50 ms of quiet after the last byte it received; the standard turnaround is 175 us (EP).
REQUEST_SPACING_S = 0.1
QUIET_AFTER_S = 0.05
WAKE_UP = b"\x55"  # notes §1.3: a byte that is not EE, then 50 ms for a shared UART to switch
WAKE_UP_COUNT = 2
WAKE_UP_GAP_S = 0.05
# Negotiate offers, best first (notes §5.2, §0.6). Every NES client offers 64-byte packets x 2
# (108 table bytes a read): a BT28 of 84 values then takes 4 reads about 1 s apart, whose
# parts come from different instants (the phase sum no longer matches the total). The packet
# size stays the one NES is seen to honour; more packets per message let one read carry a
# whole BT28 (444 table bytes). The meter answers with what it will use, maybe less; one that
# refuses the offer gets the proven one.
NEGOTIATE_OFFERS = ((svc.NEGOTIATED_PACKET_SIZE, 8), (svc.NEGOTIATED_PACKET_SIZE, 2))
BUSY_RETRIES = 5  # notes §2.7: bsy/dnr are retried after 2 s (MS: up to 20 times)
BUSY_PAUSE_S = 2.0


class OpticalSession:
    """Reads tables through the optical port, opening and ending the C12.18 session itself."""

    def __init__(
        self,
        transport: Transport,
        password: bytes,
        *,
        echo: Echo = Echo.AUTO,
        user_id: int = svc.DEFAULT_USER_ID,
        user: str = svc.DEFAULT_USER,
        keep_open_s: float = KEEP_OPEN_S,
        renew_after_s: float = RENEW_AFTER_S,
        spacing_s: float = REQUEST_SPACING_S,
        link: C1218Link | None = None,
    ) -> None:
        if len(password) != svc.PASSWORD_BYTES:
            raise FrameError(f"the optical password is {svc.PASSWORD_BYTES} bytes")
        self.transport = transport
        self._password = password
        self._user_id, self._user = user_id, user
        self._keep_open_s = keep_open_s
        self._renew_after_s = renew_after_s
        self._spacing_s = spacing_s
        self.link = link or C1218Link(echo=echo)
        self.stats = SessionStats(link_counters=self._counters)
        self.key_proven = False
        self.resync_listeners: list[Callable[[], None]] = []
        self.alert_listeners: list[Callable[[], None]] = []  # no alerts on the optical port
        self.identity: svc.Identity | None = None
        self.negotiated = Negotiated()
        self._opened_at: float | None = None  # loop time the meter's session began
        self._last_traffic = float("-inf")
        self._last_sent = float("-inf")  # when our last byte (a packet, ACK or NAK) left
        self._last_request = float("-inf")  # when our last request packet began
        self._lock = asyncio.Lock()
        self._idle: asyncio.Task[None] | None = None
        self.sessions = 0
        self._clean = True  # the meter is in Base state as far as we know

    # --- the poller's surface --------------------------------------------------------------------

    def reset_link(self) -> None:
        """After a reopen or power cycle: the meter's session is gone; log on again."""
        self._cancel_idle()
        self.link.reset(keep_toggle=True)
        self._opened_at = None
        self.key_proven = False

    async def read(
        self, request: Request, *, resend: bool = True, retry_damaged: bool = True
    ) -> bytes:
        """`resend`, `retry_damaged` are the MEP session's (a probe sends one frame); the
        C12.18 link's own retries (NAK, 3 attempts) are what a lost packet gets here."""
        del resend, retry_damaged
        return (await self.request(request)).data

    def budget_wait(self, tokens: float) -> float:
        """The MEP read budget (p.51) does not govern the optical port: no reserve to keep."""
        del tokens
        return 0.0

    async def request(self, request: Request) -> Response:
        self._cancel_idle()
        async with self._lock:
            try:
                await self._ensure_open()  # first: the parts fit what this session negotiated
                data = b"".join([await self._read(message) for message in self._parts(request)])
            except MepdError:
                self._opened_at = None  # the next request starts from Identify
                raise
        self._idle = asyncio.get_running_loop().create_task(self._close_when_idle())
        return Response(ResponseCode.OK, data)

    async def close(self) -> None:
        """End the meter's session now (Logoff, Terminate), if one is open."""
        self._cancel_idle()
        async with self._lock:
            await self._end()

    # --- the meter's session -------------------------------------------------------------------

    async def _read(self, message: tuple[bytes, int | None]) -> bytes:
        await self._ensure_open()
        body, expected = message
        for attempt in range(BUSY_RETRIES + 1):
            try:
                return svc.parse_read(await self._exchange(body), expected)
            except ServiceError as error:
                if error.c1218_code in SESSION_LOST and attempt == 0:
                    # The meter dropped our session (traffic timeout, a reset): once more anew.
                    self._opened_at = None
                    await self._ensure_open()
                    continue
                if error.c1218_code not in RETRYABLE or attempt == BUSY_RETRIES:
                    self.stats.refusals += 1
                    raise
            await asyncio.sleep(BUSY_PAUSE_S)
        raise AssertionError("unreachable")

    def _parts(self, request: Request) -> list[tuple[bytes, int | None]]:
        """`request` as optical reads whose answers fit the negotiated packets (notes §2.5)."""
        if isinstance(request, FullRead):
            return [(svc.full_read(request.table), None)]
        if not isinstance(request, PartialRead):
            raise PacketError("mepd only reads through the optical port")
        limit, end = self.negotiated.max_read, request.offset + request.count
        counts = [(at, min(limit, end - at)) for at in range(request.offset, end, limit)]
        return [(svc.partial_read(request.table, at, count), count) for at, count in counts]

    async def _ensure_open(self) -> None:
        now = asyncio.get_running_loop().time()
        if self._opened_at is not None:
            too_old = now - self._opened_at >= self._renew_after_s
            quiet = now - self._last_traffic >= self._keep_open_s
            if not (too_old or quiet):
                return
            await self._end()
        await self._open()

    async def _open(self) -> None:
        """Identify, Negotiate, Logon, Security (notes §4, §8.4)."""
        # Toggle 0 only when the meter is known to be in Base state (link.reset's docstring).
        self.link.reset(keep_toggle=not self._clean)
        self._clean = False
        self.stats.stale_bytes += self.transport.discard_input()
        for n in range(WAKE_UP_COUNT):  # notes §1.3: Gen 2/3 switch their UART on the first EE
            await self.transport.write(WAKE_UP)
            if n + 1 < WAKE_UP_COUNT:
                await asyncio.sleep(WAKE_UP_GAP_S)
        await asyncio.sleep(WAKE_UP_GAP_S)
        # No meter answers the wake-up bytes; an echoing head gives them back (notes §1.4).
        self.stats.stale_bytes += self.transport.discard_input()
        try:
            self.identity = svc.parse_identify(await self._exchange(svc.identify()))
        except ServiceError as error:
            if error.c1218_code != C1218Code.ISSS:
                raise
            # Still in a session we lost track of (notes §4): Terminate it, then start over.
            await self._exchange(svc.terminate())
            self.identity = svc.parse_identify(await self._exchange(svc.identify()))
        try:
            await self._log_on()
        except ServiceError:
            with contextlib.suppress(MepdError):  # leave the meter in its base state
                await self._exchange(svc.terminate())
            raise
        self.key_proven = True
        self.sessions += 1
        self._opened_at = asyncio.get_running_loop().time()
        log.debug(
            "optical session %d open: %d-byte packets x %d",
            self.sessions,
            self.negotiated.packet_size,
            self.negotiated.packets,
        )

    async def _log_on(self) -> None:
        self.negotiated = await self._negotiate()
        self.link.negotiated(self.negotiated.packet_size)
        svc.check_ok("logon", await self._exchange(svc.logon(self._user_id, self._user)))
        svc.check_ok("security", await self._exchange(svc.security(self._password)))

    async def _negotiate(self) -> Negotiated:
        """The first offer the meter takes (`NEGOTIATE_OFFERS`); its answer is what both
        sides use, lower values included (notes §5.2). `sns`: the defaults (notes §2.5)."""
        for size, packets in NEGOTIATE_OFFERS:
            try:
                return svc.parse_negotiate(await self._exchange(svc.negotiate(size, packets)))
            except ServiceError as error:
                if error.c1218_code == C1218Code.SNS:
                    return Negotiated()  # 64-byte packets, one per message
                if (size, packets) == NEGOTIATE_OFFERS[-1]:
                    raise
                self.stats.refusals += 1  # still in the ID state: offer what every client does
        raise AssertionError("unreachable")

    async def _end(self) -> None:
        """Logoff and Terminate; a meter that does not answer has dropped the session anyway."""
        if self._opened_at is None:
            return
        self._opened_at = None
        with contextlib.suppress(MepdError):
            svc.check_ok("logoff", await self._exchange(svc.logoff()))
            svc.check_ok("terminate", await self._exchange(svc.terminate()))
            self._clean = True  # the meter is in Base state: the next session starts afresh

    async def _close_when_idle(self) -> None:
        await asyncio.sleep(self._keep_open_s)
        async with self._lock:
            await self._end()

    def _cancel_idle(self) -> None:
        if self._idle is not None and not self._idle.done():
            self._idle.cancel()
        self._idle = None

    # --- one request on the wire ----------------------------------------------------------------

    async def _exchange(self, message: bytes) -> bytes:
        """Send `message`, drive the link machine until its answer arrives (or it gives up)."""
        loop = asyncio.get_running_loop()
        # Our ACK of the answer's last packet follows its last byte at once: quiet after the
        # ACK is quiet after the meter's last byte.
        due = max(self._last_sent + QUIET_AFTER_S, self._last_request + self._spacing_s)
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        # Nothing before our request answers it: the echo of our last ACK (an echoing head),
        # a late resend. The link expects only what this request brings.
        self.stats.stale_bytes += self.transport.discard_input()
        self.stats.exchanges += 1
        self._last_request = loop.time()
        outputs = self.link.send(message)
        resends = self.link.counters.resends
        while True:
            for output in outputs:
                if isinstance(output, Write):
                    await self.transport.write(output.data)
                    self.stats.frames_sent += 1
                    on_wire = wire_seconds(len(output.data), self.transport.baud)
                    self._last_sent = loop.time() + on_wire
                else:
                    assert isinstance(output, Answer)
                    self._last_traffic = loop.time()
                    self.stats.identical_resends += self.link.counters.resends - resends
                    return output.message
            timeout = self.link.timeout_s()
            assert timeout is not None
            data = await self.transport.read(max(0.0, self._last_sent - loop.time()) + timeout)
            if data:
                outputs = self.link.receive(data)
            else:
                self.stats.timeouts += 1
                outputs = self.link.timeout()

    def _counters(self) -> dict[str, int]:
        return {**self.link.counters.snapshot(), "optical_sessions": self.sessions}


def session_for_meter(settings: MeterSettings, mode: Mode, transport: Transport) -> MeterSession:
    """The session a meter's settings ask for: the optical port's (`interface = "optical"`,
    the key's supplied bytes as its password) or a MEP session in `mode` (RC4 or TLS)."""
    if settings.interface == "optical":
        return OpticalSession(transport, settings.key.supplied, echo=Echo(settings.optical_echo))
    return session_for(
        mode,
        transport,
        settings.key,
        encrypt=settings.encrypt,
        tls_client_id=settings.tls_client_id,
        tls_engine=settings.tls_engine,
    )


async def end_session(session: MeterSession) -> None:
    """Before the port closes: the optical session's Logoff and Terminate, since a Gen 2/3
    meter's MEP port stays blocked until then (OPG p.14). A MEP session needs nothing."""
    if isinstance(session, OpticalSession):
        await session.close()
