"""TLS mode over MEP as a sans-I/O state machine: one request until answered, handshaking
first when there is no session, and again when the meter lost it.

`TlsChannel` holds what lasts between requests (the current session's engine);
`TlsExchange` drives one request, like `exchange.Exchange` does in RC4 mode, and speaks the
same `Send`/`Complete` language so the session's I/O loop is the same.

Rules (p.8-9, notes §4), and where the guide is silent, what this module does:

- No session: handshake with 0x58 (ClientHello), then 0x59 (ClientKeyExchange, ChangeCipher-
  Spec, Finished in one frame, p.14), then send the request with 0x80.
- 0x0A (no session, p.9): the meter reset or dropped the session: handshake again, resend.
- 0x01 (TLS error): the session is gone either way: handshake again, resend, within budget.
- 0x03 (invalid identity or key): `TlsKeyRejectedError`, never retried here (back off).
- Silence (p.21): resend the identical frame once; if that is not answered either, the session
  state is unknown: drop it (the next request handshakes) and raise `MepTimeoutError`.
- An answer that stopped short, or records that do not decrypt: the meter did process the
  request and our record counters no longer match its own: handshake again and resend.
- A read answer holds at most 443 data bytes under the 476-byte limit (`split_read`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from mepd.protocol.codes import ResponseCode
from mepd.protocol.errors import DamagedAnswerError, FrameError, MepTimeoutError, ProtocolError
from mepd.protocol.exchange import Complete, Retry, Send
from mepd.protocol.frames import PartialRead, Request
from mepd.protocol.tls.codes import (
    MAX_TLS_READ_COUNT,
    PskCredentials,
    TlsRequestCode,
    TlsResponseCode,
    interpret_c1218,
    parse_tls_reply,
    terminate_frame,
    tls_request_frame,
)
from mepd.protocol.tls.engine import ClientEngineFactory, TlsClientEngine, pure_client
from mepd.protocol.tls.errors import (
    TlsError,
    TlsKeyRejectedError,
    TlsNotOfferedError,
    TlsRefusedError,
)


@dataclass(frozen=True)
class TlsRetryBudget:
    identical_resends: int = 1  # per frame (p.21)
    handshakes: int = 3  # per request: the first, one after a lost session, one spare
    # False: a damaged answer raises `DamagedAnswerError` (the next request handshakes)
    retry_damaged: bool = True


# p.10-11: an RC4-mode port's answer to a request it cannot verify; never a TLS-mode code.
RC4_AUTHENTICATION_FAILURE = bytes([ResponseCode.AUTHENTICATION_FAILURE])


class Phase(Enum):
    HANDSHAKE = "handshake"
    REQUEST = "request"


@dataclass
class TlsCounters:
    handshakes: int = 0  # 0x58 flights started
    sessions: int = 0  # handshakes completed (the meter's Finished verified)
    lost_sessions: int = 0  # 0x0A answers
    tls_errors: int = 0  # 0x01 answers
    key_rejections: int = 0  # 0x03 answers
    bad_records: int = 0  # answers cut short, or records that failed to decode or verify


class TlsChannel:
    """The TLS session with one meter, across requests. `reset()` after a reopen or reset."""

    def __init__(
        self,
        credentials: PskCredentials,
        engine_factory: ClientEngineFactory = pure_client,
        budget: TlsRetryBudget | None = None,
    ) -> None:
        self.credentials = credentials
        self._factory = engine_factory
        self.budget = budget or TlsRetryBudget()
        self.engine: TlsClientEngine | None = None
        self.counters = TlsCounters()

    @property
    def established(self) -> bool:
        return self.engine is not None and self.engine.established

    def reset(self) -> None:
        """Forget the session: the next request starts with a handshake."""
        self.engine = None

    def new_engine(self) -> TlsClientEngine:
        self.engine = self._factory(self.credentials)
        return self.engine

    def exchange(self, request: Request, budget: TlsRetryBudget | None = None) -> TlsExchange:
        return TlsExchange(request, self, budget)

    def terminate(self) -> bytes | None:
        """The 0x57 frame ending the session (p.8), or None when there is none to end."""
        if self.engine is None:
            return None
        self.engine = None
        return terminate_frame()


class TlsExchange:
    """Drives one request: `start()`, then feed it responses and timeouts until Complete."""

    def __init__(
        self, request: Request, channel: TlsChannel, budget: TlsRetryBudget | None = None
    ) -> None:
        self.request = request
        self._channel = channel
        self._budget = budget or channel.budget
        self.phase = Phase.HANDSHAKE
        self._frame = b""
        self._identical_resends = 0
        self.frames = 0
        self.handshakes = 0
        self.timeouts = 0
        self.lost_sessions = 0
        # Why each session lost during this request was then re-established, for logs; a
        # recovery shows here only once its handshake has completed.
        self.recovered: list[str] = []
        self._recovering: str | None = None

    def start(self) -> Send:
        if self._channel.established:
            return self._send_request()
        return self._handshake()

    def on_response(self, body: bytes) -> Complete | Send:
        if body == RC4_AUTHENTICATION_FAILURE:
            self._channel.reset()
            raise TlsNotOfferedError
        try:
            reply = parse_tls_reply(body)
        except FrameError as error:
            return self._after_bad_answer(error)
        if reply.code is not TlsResponseCode.SUCCESS:
            return self._on_refusal(reply.code)
        if self.phase is Phase.HANDSHAKE:
            return self._on_server_flight(reply.payload)
        engine = self._channel.engine
        assert engine is not None
        try:
            plain = engine.open(reply.payload)
        except TlsError as error:
            return self._after_bad_answer(error)
        return Complete(interpret_c1218(self.request, plain), 0)

    def _on_refusal(self, code: TlsResponseCode) -> Send:
        counters = self._channel.counters
        if code is TlsResponseCode.INVALID_IDENTITY_OR_KEY:
            counters.key_rejections += 1
            self._channel.reset()
            credentials = self._channel.credentials
            raise TlsKeyRejectedError(credentials.key_name, credentials.key.key_id)
        if code is TlsResponseCode.NO_SESSION:
            counters.lost_sessions += 1
            self.lost_sessions += 1
        else:
            counters.tls_errors += 1
        reason = f"the meter answered {code.describe()} in the TLS {self.phase.value} phase"
        return self._rehandshake(reason, TlsRefusedError(_code(code), _refusal(code, self.phase)))

    def _on_server_flight(self, payload: bytes) -> Send:
        engine = self._channel.engine
        assert engine is not None
        try:
            flight = engine.receive(payload)
        except TlsError as error:
            return self._after_bad_answer(error)
        if flight:
            return self._send(tls_request_frame(TlsRequestCode.HANDSHAKE_CONT, flight))
        if not engine.established:
            return self._after_bad_answer(TlsError("the meter's handshake flight ended early"))
        self._channel.counters.sessions += 1
        if self._recovering is not None:
            self.recovered.append(self._recovering)
            self._recovering = None
        return self._send_request()

    def on_incomplete(self) -> Send:
        """An answer started but stopped short: the meter processed the frame."""
        return self._after_bad_answer(FrameError("the response stopped before its LEN was reached"))

    def on_timeout(self) -> Send:
        """No answer within the response timeout (p.21)."""
        self.timeouts += 1
        if self._identical_resends < self._budget.identical_resends:
            self._identical_resends += 1
            self.frames += 1
            return Send(self._frame, Retry.IDENTICAL)
        self._channel.reset()  # whatever the meter saw, our session state is unknown
        raise MepTimeoutError(
            f"no response after {self._identical_resends + 1} sends of the same TLS frame "
            f"({self.phase.value} phase)"
        )

    # --- internals ------------------------------------------------------------------------

    def _send(self, frame: bytes) -> Send:
        self._frame = frame
        self._identical_resends = 0
        self.frames += 1
        return Send(frame)

    def _handshake(self) -> Send:
        self.handshakes += 1
        self._channel.counters.handshakes += 1
        engine = self._channel.new_engine()
        self.phase = Phase.HANDSHAKE
        return self._send(tls_request_frame(TlsRequestCode.HANDSHAKE, engine.hello()))

    def _send_request(self) -> Send:
        engine = self._channel.engine
        assert engine is not None
        self.phase = Phase.REQUEST
        return self._send(
            tls_request_frame(TlsRequestCode.TABLE, engine.seal(self.request.message()))
        )

    def _rehandshake(self, reason: str, error: ProtocolError) -> Send:
        self._channel.reset()
        if self.handshakes >= self._budget.handshakes:
            raise error
        self._recovering = reason
        return self._handshake()

    def _after_bad_answer(self, error: ProtocolError) -> Send:
        self._channel.counters.bad_records += 1
        if not self._budget.retry_damaged:
            self._channel.reset()  # the session's state is unknown: the next request handshakes
            raise DamagedAnswerError(f"a damaged answer, not asked again: {error}") from error
        return self._rehandshake(
            f"a bad answer in the TLS {self.phase.value} phase: {error}", error
        )


def _code(code: TlsResponseCode) -> ResponseCode:
    return ResponseCode(int(code))


def _refusal(code: TlsResponseCode, phase: Phase) -> str:
    return (
        f"the meter kept answering {code.describe()} in the TLS {phase.value} phase, "
        f"even after a fresh handshake"
    )


def split_read(request: Request) -> list[Request]:
    """A partial read too big for one TLS answer, as consecutive reads that each fit."""
    if not isinstance(request, PartialRead) or request.count <= MAX_TLS_READ_COUNT:
        return [request]
    parts: list[Request] = []
    offset, remaining = request.offset, request.count
    while remaining:
        count = min(remaining, MAX_TLS_READ_COUNT)
        parts.append(PartialRead(request.table, offset, count))
        offset += count
        remaining -= count
    return parts
