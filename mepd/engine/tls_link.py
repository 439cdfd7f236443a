"""TLS mode as a `Link`: requests travel in a TLS-PSK session (p.8-9, p.18-19).

What happens on the line is `protocol.tls.channel`'s business: handshake when there is no
session, again after 0x0A (no session) or 0x01 (TLS error), `TlsKeyRejectedError` (an
`AuthenticationError`) on 0x03. One handshake serves every request until the link is reset
(after a reopen or power cycle) or the meter drops the session. The session around it paces
every frame, handshake flights included, as in RC4 mode (p.21, p.51).

The guide gives TLS no sequence number, so there is no 0x0C and no IDT-version signal (p.55)
in this mode; a lost session (0x0A, most likely a meter reset) counts as a resync instead, so
the poller re-checks ET04.116 as it does after one.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from mepd.engine.rc4_link import Attempt, Settled
from mepd.protocol import MepKey, Request
from mepd.protocol.tls.channel import TlsChannel, TlsExchange, TlsRetryBudget, split_read
from mepd.protocol.tls.codes import DEFAULT_CLIENT_ID, PskCredentials
from mepd.protocol.tls.engine import ClientEngineFactory, pure_client

log = logging.getLogger(__name__)


class TlsLink:
    """The TLS session with one meter, across requests."""

    def __init__(
        self,
        key: MepKey,
        *,
        client_id: int = DEFAULT_CLIENT_ID,
        engine: ClientEngineFactory = pure_client,
        budget: TlsRetryBudget | None = None,
    ) -> None:
        self.channel = TlsChannel(PskCredentials(key, client_id), engine, budget)
        self._sessions_seen = 0
        self._bad_records_seen = 0

    def parts(self, request: Request) -> list[Request]:
        # p.8: 476 bytes a frame leave 443 data bytes a TLS read; ask in pieces.
        return split_read(request)

    def attempt(self, request: Request, *, retry_damaged: bool = True) -> Attempt:
        budget = None if retry_damaged else replace(self.channel.budget, retry_damaged=False)
        exchange = self.channel.exchange(request, budget)
        return Attempt(exchange, lambda: self._settle(exchange))

    def reset(self) -> None:
        """After a reopen or power cycle the meter's session is gone or unknown: handshake."""
        self.channel.reset()

    def counters(self) -> dict[str, int]:
        counters = self.channel.counters
        return {
            "tls_handshakes": counters.handshakes,
            "tls_sessions": counters.sessions,
            "tls_lost_sessions": counters.lost_sessions,
            "tls_errors": counters.tls_errors,
            "tls_bad_records": counters.bad_records,
        }

    def _settle(self, exchange: TlsExchange) -> Settled:
        counters = self.channel.counters
        sessions = counters.sessions - self._sessions_seen
        bad_records = counters.bad_records - self._bad_records_seen
        self._sessions_seen, self._bad_records_seen = counters.sessions, counters.bad_records
        for reason in exchange.recovered:
            log.info("TLS session re-established: %s", reason)
        return Settled(
            corrupt=bad_records,
            # The meter's Finished verified under our PSK: it holds our key.
            key_proven=sessions > 0,
            resynced=exchange.lost_sessions > 0,
        )
