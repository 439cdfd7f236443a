"""The protocol layer's errors: what the bytes on the line, the keys and the tables can get wrong.

They derive from `mepd.errors.MepdError` (the one root) and are defined here, inside the pure
layer, so `mepd.protocol` raises them without importing anything above it.
"""

from __future__ import annotations

from mepd.errors import MepdError
from mepd.protocol.codes import ResponseCode


class KeyFormatError(MepdError, ValueError):
    """A key string is not in a form the utility hands out. Never carries the key itself."""


class ProtocolError(MepdError):
    """The bytes on the line do not make a valid MEP exchange."""


class FrameError(ProtocolError):
    """A frame is malformed: bad length, too large, or too short for its code."""


class DamagedAnswerError(FrameError):
    """An answer damaged on the line, for a request told not to be asked again
    (`RetryBudget.retry_damaged`): a long read tried on a noisy line, whose frames the read
    budget (p.51) had better spend on short reads."""


class DigestError(ProtocolError):
    """A response's digest does not verify against the request it answers (p.250-251).

    Such a response is never used as data: it is line noise, a reply to another request, or a
    meter speaking with a different key.
    """


class DecodeError(ProtocolError):
    """Table data is short or inconsistent with the dimensions it is decoded by."""


class ResponseError(ProtocolError):
    """The meter answered with a verified non-ok response code (p.10-12)."""

    def __init__(self, code: ResponseCode, message: str | None = None) -> None:
        self.code = code
        super().__init__(message or f"meter answered {code.describe()}")


class AuthenticationError(ResponseError):
    """0x0B: the meter rejected the request's digest (p.11).

    Either the key is wrong or the request was corrupted on the way. Never retried at once:
    the caller backs off, because hammering a meter with a wrong key helps nobody.
    """


class SequenceError(ResponseError):
    """0x0C: the meter wants another sequence number, carried in `expected` (p.11)."""

    def __init__(self, code: ResponseCode, expected: int) -> None:
        self.expected = expected
        super().__init__(code, f"meter answered {code.describe()}, next sequence {expected:#010x}")


class MepTimeoutError(MepdError, TimeoutError):
    """No response within the guide's response timeout (p.21), after the allowed resend."""
