"""TLS-mode errors, rooted in mepd's one exception tree (mepd.errors)."""

from __future__ import annotations

from enum import IntEnum

from mepd.protocol.codes import ResponseCode
from mepd.protocol.errors import AuthenticationError, ProtocolError, ResponseError


class AlertDescription(IntEnum):
    """The TLS 1.2 alerts this code sends or tells apart (RFC 5246 §7.2, RFC 4279 §2)."""

    CLOSE_NOTIFY = 0
    UNEXPECTED_MESSAGE = 10
    BAD_RECORD_MAC = 20
    RECORD_OVERFLOW = 22
    HANDSHAKE_FAILURE = 40
    ILLEGAL_PARAMETER = 47
    DECODE_ERROR = 50
    DECRYPT_ERROR = 51
    PROTOCOL_VERSION = 70
    INTERNAL_ERROR = 80
    UNSUPPORTED_EXTENSION = 110
    UNKNOWN_PSK_IDENTITY = 115


# What a peer holding another key (or naming a key the other side lacks) runs into first.
KEY_ALERTS = frozenset(
    {
        AlertDescription.BAD_RECORD_MAC,
        AlertDescription.DECRYPT_ERROR,
        AlertDescription.UNKNOWN_PSK_IDENTITY,
    }
)


class TlsError(ProtocolError):
    """The TLS layer failed: a bad record, an unexpected message, or an alert.

    `alert` is the alert this side sent or received, when there is one; `received` tells which.
    """

    def __init__(self, message: str, alert: int | None = None, *, received: bool = False) -> None:
        self.alert = alert
        self.received = received
        super().__init__(message)

    @property
    def about_the_key(self) -> bool:
        """The failure is what a wrong PSK or an unknown identity causes."""
        return self.alert in KEY_ALERTS


class TlsKeyRejectedError(AuthenticationError):
    """0x03 "invalid identity or key" (p.9): the meter holds another key, or not the one named.

    An AuthenticationError, so callers back off exactly as after an RC4-mode 0x0B.
    """

    def __init__(self, key_name: str, key_id: int) -> None:
        super().__init__(
            ResponseCode.NO_PERMISSION,
            f"the meter refused the TLS handshake with 0x03 (invalid identity or key): it does "
            f"not hold this {key_name} (TLS key id {key_id}); check the key, and whether it is "
            f"the MBK or the MAK",
        )


class TlsRefusedError(ResponseError):
    """The meter kept answering 0x01 (TLS error) or 0x0A (no session) after fresh handshakes."""


class TlsNotOfferedError(ProtocolError):
    """A bare 0x0B in answer to a TLS frame: an RC4-mode refusal, so the port speaks RC4 only.

    A port in TLS mode answers every TLS frame with a TLS-mode code (p.8-9); 0x0B is what an
    RC4-mode port says to a request whose digest it cannot verify (p.10-11), which a TLS frame
    is to it. This is evidence about the port, not about the key.
    """

    def __init__(self) -> None:
        super().__init__(
            "the meter answered a TLS frame with 0x0B, an RC4-mode refusal: its MEP port "
            "does not offer TLS (p.8)"
        )
