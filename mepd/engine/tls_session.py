"""The request/response session in TLS mode: `Session`'s surface and clock, TLS inside.

`TlsSession` is a `Session` whose requests travel in a TLS-PSK session (p.8-9, p.18-19)
instead of RC4 frames: the same `read()`/`request()`/`reset_link()`/`stats`/`key_proven`, the
same pacing (100 ms between frames, p.21; `ReadBudget` on every frame, handshake flights
included, p.51), the same 500 ms response timeout and frame deadlines. What happens on the
line is `protocol.tls.channel`'s business: handshake when there is no session, again after
0x0A (no session) or 0x01 (TLS error), `TlsKeyRejectedError` (an `AuthenticationError`) on
0x03. One handshake serves every request until the link is reset (`reset_link()`, after a
reopen or power cycle) or the meter drops the session.

The guide gives TLS no sequence number, so there is no 0x0C and no IDT-version signal (p.55)
in this mode; a lost session (0x0A, most likely a meter reset) calls the resync listeners
instead, so the poller re-checks ET04.116 as it does after a resync.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mepd.drivers.transport import Transport
from mepd.engine.session import ReadBudget, Session, SessionStats
from mepd.protocol import MepKey, Request, Response, ResponseCode
from mepd.protocol.errors import AuthenticationError, ResponseError
from mepd.protocol.timing import MIN_REQUEST_SPACING_S, RESPONSE_TIMEOUT_S
from mepd.protocol.tls.channel import TlsChannel, TlsExchange, TlsRetryBudget, split_read
from mepd.protocol.tls.codes import DEFAULT_CLIENT_ID, PskCredentials
from mepd.protocol.tls.engine import ClientEngineFactory, pure_client
from mepd.protocol.tls.errors import TlsRefusedError

log = logging.getLogger(__name__)


@dataclass
class TlsSessionStats(SessionStats):
    """`SessionStats` plus the TLS layer's counters (same `snapshot()`)."""

    tls_handshakes: int = 0
    tls_sessions: int = 0
    tls_lost_sessions: int = 0
    tls_errors: int = 0
    tls_bad_records: int = 0


class TlsSession(Session):
    """Sends requests to one meter inside TLS and returns verified responses, or raises."""

    def __init__(
        self,
        transport: Transport,
        key: MepKey,
        *,
        client_id: int = DEFAULT_CLIENT_ID,
        engine: ClientEngineFactory = pure_client,
        spacing_s: float = MIN_REQUEST_SPACING_S,
        response_timeout_s: float = RESPONSE_TIMEOUT_S,
        read_budget: ReadBudget | None = None,
        tls_budget: TlsRetryBudget | None = None,
    ) -> None:
        super().__init__(
            transport,
            key,
            spacing_s=spacing_s,
            response_timeout_s=response_timeout_s,
            read_budget=read_budget,
        )
        self.channel = TlsChannel(PskCredentials(key, client_id), engine, tls_budget)
        self.tls_stats = TlsSessionStats()
        self.stats = self.tls_stats
        self._sessions_seen = 0

    def reset_link(self) -> None:
        """After a reopen or power cycle: forget partial input and the TLS session."""
        super().reset_link()
        self.channel.reset()

    async def request(self, request: Request) -> Response:
        parts = split_read(request)
        if len(parts) == 1:
            return await self._request_one(request)
        # p.8: 476 bytes a frame leaves 443 data bytes a TLS read; ask in pieces.
        data = b"".join([(await self._request_one(part)).data for part in parts])
        return Response(ResponseCode.OK, data)

    async def terminate(self) -> None:
        """End the TLS session with 0x57 (p.8), e.g. before handing the port to RC4."""
        frame = self.channel.terminate()
        if frame is None:
            return
        for _ in range(2):  # p.21: the same packet once more if nothing came back
            await self._transmit(frame)
            if await self._next_frame() is not None:
                return  # whatever it says: the session is over on our side

    async def _request_one(self, request: Request) -> Response:
        exchange = self.channel.exchange(request)
        self.stats.exchanges += 1
        try:
            return (await self.run_exchange(exchange)).response
        except AuthenticationError:
            self.stats.authentication_failures += 1
            raise
        except TlsRefusedError:
            self.stats.refusals += 1
            raise
        except ResponseError:
            self.stats.refusals += 1  # a C12.18 refusal inside a verified session
            raise
        finally:
            self._account_tls(exchange)

    def _account_tls(self, exchange: TlsExchange) -> None:
        counters = self.channel.counters
        stats = self.tls_stats
        stats.timeouts += exchange.timeouts
        stats.tls_handshakes = counters.handshakes
        stats.tls_sessions = counters.sessions
        stats.tls_lost_sessions = counters.lost_sessions
        stats.tls_errors = counters.tls_errors
        stats.tls_bad_records = counters.bad_records
        stats.corrupt_responses = counters.bad_records
        if counters.sessions > self._sessions_seen:
            # The meter's Finished verified under our PSK: it holds our key.
            self._sessions_seen = counters.sessions
            self.key_proven = True
        for reason in exchange.recovered:
            log.info("TLS session re-established: %s", reason)
        if exchange.lost_sessions:
            for listener in self.resync_listeners:
                listener()
