"""What differs between RC4 mode and TLS mode, as a strategy the one `Session` is built with.

A link turns a request into a step machine (`Steps`: RC4's `Exchange`, TLS's `TlsExchange`),
splits reads that do not fit one answer, and after each exchange says what it showed besides
the answer (`Settled`). The session does the I/O, the clock and the books; the link keeps its
mode's state between requests (RC4: the sequence number; TLS: the session's keys).

`Rc4Link` is here; `TlsLink` is in `tls_link.py`, loaded only in TLS mode so an RC4 daemon
never imports the TLS engine. (`link.py` is another thing: whether the meter link is up.)
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from mepd.protocol import Complete, Exchange, MepKey, Request, RetryBudget, Send, SequenceCounter
from mepd.protocol.exchange import Outcome


class Steps(Protocol):
    """A request's retry state machine: `Exchange` in RC4 mode, `TlsExchange` in TLS mode."""

    def start(self) -> Send: ...
    def on_response(self, body: bytes) -> Complete | Send: ...
    def on_incomplete(self) -> Send: ...
    def on_timeout(self) -> Send: ...


@dataclass(frozen=True)
class Settled:
    """What one exchange showed besides its answer, for the session's books."""

    resyncs: int = 0  # verified 0x0C answers (p.11)
    corrupt: int = 0  # answers that failed their digest or record check, or stopped short
    key_proven: bool = False  # something verified under our key arrived (0x0C, a Finished)
    # The meter's state moved under us (a 0x0C, a lost TLS session): the poller re-checks
    # the IDT version (p.55).
    resynced: bool = False


@dataclass(frozen=True)
class Attempt:
    """One request's step machine, and how to settle it once it is over (answer or error)."""

    steps: Steps
    settle: Callable[[], Settled]


class Link(Protocol):
    """A security mode: RC4 frames (p.10-11) or a TLS-PSK session (p.8-9)."""

    def parts(self, request: Request) -> list[Request]:
        """`request` as requests whose answers each fit one frame."""
        ...

    def attempt(self, request: Request, *, retry_damaged: bool = True) -> Attempt:
        """`retry_damaged=False`: a damaged answer ends the attempt (`DamagedAnswerError`)."""
        ...

    def reset(self) -> None:
        """After a reopen or power cycle: forget what lasted between requests on the line."""
        ...

    def counters(self) -> dict[str, int]:
        """The mode's own counters, published with the session's (TLS: handshakes...)."""
        ...


class Rc4Link:
    """RC4 mode: each request signed with the MEP digest, optionally encrypted (p.11)."""

    def __init__(
        self,
        key: MepKey,
        *,
        encrypt: bool = False,
        counter: SequenceCounter | None = None,
        budget: RetryBudget | None = None,
    ) -> None:
        self._key = key
        self._encrypt = encrypt
        # p.11: no prior knowledge of the number is needed; the first answer is usually 0x0C.
        self._counter = counter or SequenceCounter(secrets.randbits(32))
        self._budget = budget or RetryBudget()

    def parts(self, request: Request) -> list[Request]:
        return [request]  # the read planner keeps reads within 465 bytes (p.8)

    def attempt(self, request: Request, *, retry_damaged: bool = True) -> Attempt:
        budget = self._budget if retry_damaged else replace(self._budget, retry_damaged=False)
        exchange = Exchange(request, self._key, self._counter, encrypt=self._encrypt, budget=budget)
        return Attempt(exchange, lambda: _settle_rc4(exchange))

    def reset(self) -> None:
        """The sequence number survives a reopen: the meter's window decides (p.11)."""

    def counters(self) -> dict[str, int]:
        return {}


def _settle_rc4(exchange: Exchange) -> Settled:
    exchange.give_back_if_unheard()  # a silent meter's window is not walked past (p.11)
    resyncs = exchange.counts[Outcome.SEQUENCE]
    return Settled(
        resyncs=resyncs,
        corrupt=exchange.counts[Outcome.CORRUPT],
        key_proven=resyncs > 0,  # a verified 0x0C is signed with our key
        resynced=resyncs > 0,
    )
