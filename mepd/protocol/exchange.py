"""One request until it is answered: the retry rules as a sans-I/O state machine.

The guide is of two minds on retries: p.21 says resend the same packet after a timeout, p.11
says every request, retries included, takes a new sequence number. Notes §1.4 reconciles them,
and so does this module:

- after a timeout, resend the identical bytes once (the meter may never have parsed them);
- after a verified 0x0C, rebuild with the number the meter gave (+1); never loop on identical
  packets, which only earns more 0x0C;
- after a corrupted or truncated response, ask again with the next number (the meter did
  process it);
- 0x0B and the other refusals are the caller's to handle, never retried here.

What each outcome leads to is data (`RETRY_POLICY`), not a chain of ifs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from mepd.protocol.errors import (
    DamagedAnswerError,
    DigestError,
    FrameError,
    MepTimeoutError,
    ProtocolError,
    SequenceError,
)
from mepd.protocol.frames import Request, Response, SignedRequest, sign_request, verify_response
from mepd.protocol.keys import MepKey
from mepd.protocol.sequence import SequenceCounter


class Outcome(Enum):
    TIMEOUT = "timeout"
    CORRUPT = "corrupt"  # digest failed or frame malformed
    SEQUENCE = "sequence"  # verified 0x0C


class Retry(Enum):
    IDENTICAL = "resend the identical frame"
    NEXT_SEQUENCE = "rebuild with the next sequence number"
    ADOPT_SEQUENCE = "rebuild with the sequence number the meter gave"


RETRY_POLICY: dict[Outcome, Retry] = {
    Outcome.TIMEOUT: Retry.IDENTICAL,  # p.21
    Outcome.CORRUPT: Retry.NEXT_SEQUENCE,  # p.11: retries take a new number
    Outcome.SEQUENCE: Retry.ADOPT_SEQUENCE,  # p.11, p.16
}


@dataclass(frozen=True)
class RetryBudget:
    """How many of each outcome one exchange absorbs before it gives up."""

    identical_resends: int = 1  # per frame: notes §1.4, never loop on identical packets
    sequence_resyncs: int = 3  # a 0x0C, then an IDT jump, then one spare
    corrupt_responses: int = 2
    # False: the first damaged answer raises `DamagedAnswerError`, no new number is taken
    retry_damaged: bool = True


@dataclass(frozen=True)
class Send:
    """Bytes to put on the line now."""

    frame: bytes
    retry: Retry | None = None


@dataclass(frozen=True)
class Complete:
    """A verified ok response."""

    response: Response
    resyncs: int


class Exchange:
    """Drives one request: `start()`, then feed it responses and timeouts until Complete."""

    def __init__(
        self,
        request: Request,
        key: MepKey,
        counter: SequenceCounter,
        *,
        encrypt: bool = False,
        budget: RetryBudget | None = None,
    ) -> None:
        self.request = request
        self._key = key
        self._counter = counter
        self._encrypt = encrypt
        self._budget = budget or RetryBudget()
        self._attempts: list[SignedRequest] = []
        self._identical_resends = 0
        self.counts = dict.fromkeys(Outcome, 0)
        self._heard = False  # any answer, even a damaged one, to any attempt

    @property
    def resyncs(self) -> int:
        return self.counts[Outcome.SEQUENCE]

    @property
    def current(self) -> SignedRequest:
        return self._attempts[-1]

    def start(self) -> Send:
        return Send(self._sign().frame)

    def on_response(self, body: bytes) -> Complete | Send:
        """A frame body arrived while this request was outstanding."""
        self._heard = True
        try:
            response = self._verify(body)
        except SequenceError as sequence_error:
            self._count(Outcome.SEQUENCE, sequence_error)
            self._counter.adopt(sequence_error.expected)
            return Send(self._sign().frame, RETRY_POLICY[Outcome.SEQUENCE])
        except (DigestError, FrameError) as corrupt:
            self._count(Outcome.CORRUPT, corrupt)
            return self._retry(RETRY_POLICY[Outcome.CORRUPT])
        return Complete(response, self.resyncs)

    def on_incomplete(self) -> Send:
        """An answer started but never completed (bytes lost on the line): the meter did
        process the request, so an identical resend would only earn 0x0C."""
        self._heard = True
        self._count(Outcome.CORRUPT, FrameError("the response stopped before its LEN was reached"))
        return self._retry(RETRY_POLICY[Outcome.CORRUPT])

    def on_timeout(self) -> Send:
        """No response header within the response timeout (p.21)."""
        self.counts[Outcome.TIMEOUT] += 1
        return self._retry(RETRY_POLICY[Outcome.TIMEOUT])

    def give_back_if_unheard(self) -> None:
        """Over, and nothing at all came back: its number goes back (`give_back`)."""
        if not self._heard and self._attempts:
            self._counter.give_back(self._attempts[-1].sequence)

    def _retry(self, retry: Retry) -> Send:
        if retry is Retry.IDENTICAL and self._identical_resends < self._budget.identical_resends:
            self._identical_resends += 1
            return Send(self.current.frame, retry)
        if retry is Retry.IDENTICAL:
            raise MepTimeoutError(
                f"no response after {self._identical_resends + 1} sends of the same request"
            )
        if retry is Retry.NEXT_SEQUENCE and not self._budget.retry_damaged:
            raise DamagedAnswerError("a damaged answer, not asked again")
        return Send(self._sign().frame, retry)

    def _count(self, outcome: Outcome, error: ProtocolError) -> None:
        self.counts[outcome] += 1
        limits = {
            Outcome.SEQUENCE: self._budget.sequence_resyncs,
            Outcome.CORRUPT: self._budget.corrupt_responses,
        }
        if self.counts[outcome] > limits[outcome]:
            raise error

    def _sign(self) -> SignedRequest:
        signed = sign_request(self.request, self._counter.take(), self._key, encrypt=self._encrypt)
        self._attempts.append(signed)
        self._identical_resends = 0
        return signed

    def _verify(self, body: bytes) -> Response:
        # A late answer to an earlier attempt of this same request is an equally good answer.
        first_error: ProtocolError | None = None
        for attempt in reversed(self._attempts):
            try:
                return verify_response(attempt, body)
            except (DigestError, FrameError) as error:
                first_error = first_error or error
        assert first_error is not None
        raise first_error
