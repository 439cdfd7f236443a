"""The simulated meter's TLS mode (p.8-9, p.14-15, p.18-19): one session at a time.

Pure like `meter.py`: a request body in, a response frame out. The C12.18 request inside the
records is served by the meter's own table logic (`serve`), with the access level of the key
the PSK identity named (p.13: MBK or MAK).

What this meter answers, where the guide gives no code:

- 0x58 always starts afresh (p.8: "the session will be reset").
- A handshake that fails on the key (an identity naming a key the meter lacks, or a client
  Finished that does not decrypt or verify, i.e. another PSK): 0x03 (p.9); any other TLS
  failure: 0x01. Either ends the handshake. The answer is the bare code.
- 0x59 with no handshake in progress: 0x01. 0x80 without an established session: 0x0A (p.9).
- 0x80 whose records do not decrypt: 0x01, and the session is gone.
- 0x57: the session ends, answer 0x00 with no payload.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mepd.drivers.simulator.stats import LinkStats
from mepd.protocol.errors import FrameError
from mepd.protocol.keys import KeyId, MepKey
from mepd.protocol.tls.codes import (
    TlsRequestCode,
    TlsResponseCode,
    parse_psk_identity,
    tls_response_frame,
)
from mepd.protocol.tls.engine import PskLookup, TlsServerEngine
from mepd.protocol.tls.errors import TlsError

ServerFactory = Callable[[PskLookup], TlsServerEngine]
Serve = Callable[[bytes, KeyId], bytes]  # plain C12.18 request, key id -> plain response


@dataclass
class MeterTls:
    """The TLS side of one MEP port: the session in progress, if any."""

    factory: ServerFactory
    keys: Callable[[], list[MepKey]]  # the meter's keys now (the key-mismatch fault swaps them)
    stats: LinkStats
    server: TlsServerEngine | None = field(default=None, repr=False)

    @property
    def started(self) -> bool:
        """p.8: once a TLS session is started, RC4 requests are refused until it ends."""
        return self.server is not None

    @property
    def established(self) -> bool:
        return self.server is not None and self.server.established

    def drop_session(self) -> None:
        """The meter forgets its session (a reset): the next 0x80 gets 0x0A."""
        if self.server is not None:
            self.stats.tls_sessions_dropped += 1
        self.server = None

    def lookup(self, identity: bytes) -> bytes | None:
        try:
            _client_id, key_id = parse_psk_identity(identity)
        except FrameError:
            return None
        for key in self.keys():
            if key.key_id is key_id:
                return key.secret
        return None

    def handle(self, code: TlsRequestCode, payload: bytes, serve: Serve) -> bytes:
        if code is TlsRequestCode.TERMINATE:
            self.server = None
            self.stats.tls_terminations += 1
            return tls_response_frame(TlsResponseCode.SUCCESS)
        if code is TlsRequestCode.HANDSHAKE:
            self.server = self.factory(self.lookup)
            self.stats.tls_handshakes += 1
            return self._handshake(payload)
        if code is TlsRequestCode.HANDSHAKE_CONT:
            if self.server is None or self.server.established:
                self.stats.tls_errors += 1
                return tls_response_frame(TlsResponseCode.TLS_ERROR)
            return self._handshake(payload)
        return self._table(payload, serve)

    def _handshake(self, payload: bytes) -> bytes:
        server = self.server
        assert server is not None
        try:
            flight = server.receive(payload)
        except TlsError as error:
            self.server = None
            if error.about_the_key:
                self.stats.tls_key_failures += 1
                return tls_response_frame(TlsResponseCode.INVALID_IDENTITY_OR_KEY)
            self.stats.tls_errors += 1
            return tls_response_frame(TlsResponseCode.TLS_ERROR)
        if server.established:
            self.stats.tls_sessions += 1
        return tls_response_frame(TlsResponseCode.SUCCESS, flight)

    def _table(self, payload: bytes, serve: Serve) -> bytes:
        server = self.server
        if server is None or not server.established:
            self.stats.tls_no_session += 1
            return tls_response_frame(TlsResponseCode.NO_SESSION)
        try:
            plain = server.open(payload)
            _client_id, key_id = parse_psk_identity(server.identity or b"")
            return tls_response_frame(TlsResponseCode.SUCCESS, server.seal(serve(plain, key_id)))
        except (TlsError, FrameError):
            self.server = None
            self.stats.tls_errors += 1
            return tls_response_frame(TlsResponseCode.TLS_ERROR)
