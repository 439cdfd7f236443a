"""What the optical port's C12.18 exchange can get wrong, under the protocol layer's errors.

C12.18 has its own response-code table (notes §5.10): 0x0B and 0x0C mean something else on MEP,
so these codes never go through `mepd.protocol.codes.ResponseCode`.
"""

from __future__ import annotations

from enum import IntEnum

from mepd.protocol.codes import ResponseCode
from mepd.protocol.errors import (
    AuthenticationError,
    FrameError,
    MepTimeoutError,
    ProtocolError,
    ResponseError,
)


class C1218Code(IntEnum):
    """C12.18 response codes (notes §5.10)."""

    OK = 0x00
    ERR = 0x01  # generic rejection; on Security: wrong password
    SNS = 0x02  # service not supported
    ISC = 0x03  # insufficient security clearance (key lacks the right, or hardware lock)
    ONP = 0x04  # operation not possible
    IAR = 0x05  # inappropriate action requested (table absent)
    BSY = 0x06  # device busy: retry after a delay
    DNR = 0x07  # data not ready: retry like busy
    DLK = 0x08  # data locked
    RNO = 0x09  # renegotiate request
    ISSS = 0x0A  # invalid service sequence state: restart at Identify

    def describe(self) -> str:
        return f"0x{self.value:02X} ({self.name.lower()}: {_MEANINGS[self]})"


_MEANINGS = {
    C1218Code.OK: "ok",
    C1218Code.ERR: "rejected",
    C1218Code.SNS: "service not supported",
    C1218Code.ISC: "insufficient security clearance",
    C1218Code.ONP: "operation not possible",
    C1218Code.IAR: "inappropriate action requested",
    C1218Code.BSY: "device busy",
    C1218Code.DNR: "data not ready",
    C1218Code.DLK: "data locked",
    C1218Code.RNO: "renegotiate request",
    C1218Code.ISSS: "invalid service sequence state",
}

# Answers that say "not now" rather than "no": the session retries them (notes §2.7, MS).
RETRYABLE = frozenset({C1218Code.BSY, C1218Code.DNR})
# Answers after which the meter's session is gone or unusable: start again at Identify.
SESSION_LOST = frozenset({C1218Code.ISSS, C1218Code.RNO})

# The nearest MEP code, so the poller's books and `ResponseError.code` stay one type.
_AS_MEP = {
    C1218Code.ERR: ResponseCode.UNRECOGNIZED_REQUEST,
    C1218Code.SNS: ResponseCode.UNSUPPORTED_REQUEST,
    C1218Code.ISC: ResponseCode.NO_PERMISSION,
    C1218Code.ONP: ResponseCode.OPERATION_NOT_POSSIBLE,
    C1218Code.IAR: ResponseCode.TABLE_OPERATION_NOT_POSSIBLE,
    C1218Code.ISSS: ResponseCode.INVALID_SERVICE_SEQUENCE_STATE,
}


class C1218Error(ProtocolError):
    """The optical port's bytes do not make a valid C12.18 exchange."""


class PacketError(C1218Error, FrameError):
    """A packet or a service's answer is malformed (length, checksum, count)."""


class ServiceError(ResponseError):
    """The meter answered a C12.18 service with a non-ok code (notes §5.10)."""

    def __init__(self, service: str, code: int) -> None:
        known = code in C1218Code.__members__.values()
        self.c1218_code = code
        self.service = service
        described = C1218Code(code).describe() if known else f"0x{code:02X} (undefined)"
        mep = _AS_MEP.get(C1218Code(code)) if known else None
        super().__init__(
            mep or ResponseCode.UNRECOGNIZED_REQUEST, f"meter answered {service} with {described}"
        )


class SecurityRejectedError(ServiceError, AuthenticationError):
    """Security (0x51) refused: the optical password is wrong (notes §5.5, §7.1).

    Never retried in a loop: failures set BT03's "Invalid Password" alarm and fw 4.30+ can
    lock the optical port after a few (OPG p.46, MEP p.142).
    """


class OpticalTimeoutError(MepTimeoutError):
    """No ACK or no answer from the optical port after 3 attempts (notes §2.7)."""
