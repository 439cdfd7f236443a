"""Request and response codes of the C12.18 packets carried by MEP (p.10-12, p.8-9)."""

from __future__ import annotations

from enum import IntEnum

# p.55, p.173, p.243: extended tables and procedures are numbered 2048 + nn.
EXTENDED_BASE = 0x0800


def basic_table(number: int) -> int:
    """BTnn is table number nn."""
    return number


def extended_table(number: int) -> int:
    """ETnn is table number 2048 + nn (ET03 = 0x0803, p.55)."""
    return EXTENDED_BASE + number


class RequestCode(IntEnum):
    """C12.18 request codes MEP accepts in RC4 mode (Table 2.6, p.12)."""

    FULL_READ = 0x30
    PARTIAL_READ = 0x3F
    FULL_WRITE = 0x40
    PARTIAL_WRITE = 0x4F


class ResponseCode(IntEnum):
    """Response codes with the guide's meanings (Table 2.5/2.7, p.10-12; 0x0A p.9)."""

    OK = 0x00
    UNRECOGNIZED_REQUEST = 0x01
    UNSUPPORTED_REQUEST = 0x02
    NO_PERMISSION = 0x03
    OPERATION_NOT_POSSIBLE = 0x04
    TABLE_OPERATION_NOT_POSSIBLE = 0x05
    INVALID_SERVICE_SEQUENCE_STATE = 0x0A
    AUTHENTICATION_FAILURE = 0x0B
    INVALID_SEQUENCE_NUMBER = 0x0C

    def describe(self) -> str:
        return f"0x{self.value:02X} ({_MEANINGS[self]})"


_MEANINGS = {
    ResponseCode.OK: "successful response",
    ResponseCode.UNRECOGNIZED_REQUEST: "unrecognized request",
    ResponseCode.UNSUPPORTED_REQUEST: "unsupported request",
    ResponseCode.NO_PERMISSION: "no permission for specified request",
    ResponseCode.OPERATION_NOT_POSSIBLE: "requested operation not possible",
    ResponseCode.TABLE_OPERATION_NOT_POSSIBLE: "table operation not possible",
    ResponseCode.INVALID_SERVICE_SEQUENCE_STATE: "invalid service sequence state",
    ResponseCode.AUTHENTICATION_FAILURE: "authentication failure",
    ResponseCode.INVALID_SEQUENCE_NUMBER: "invalid sequence number",
}
