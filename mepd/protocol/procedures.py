"""Procedure calls through BT07 and their results in BT08/ET59/ET85 (p.51-54).

mepd is a read-only client and calls no procedure in normal operation; this exists so the
simulator and tests speak the same format, and so that a future feature cannot get the PSN
rules wrong. EP39 is deliberately absent (notes §8: never post dummy data to the utility).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from mepd.protocol.codes import basic_table
from mepd.protocol.errors import DecodeError, FrameError
from mepd.protocol.frames import FullWrite

BT07 = basic_table(7)
# p.52: a MEP client's procedure sequence numbers lie in 5..9, and two in a row must differ.
PSN_RANGE = range(5, 10)
_PROCEDURE_NUMBER_MASK = 0x0FFF


class ProcedureSequence:
    """Hands out PSNs 5, 6, 7, 8, 9, 5, ...: never the previous one, never outside 5..9."""

    __slots__ = ("_last",)

    def __init__(self, last: int | None = None) -> None:
        self._last = last

    def take(self) -> int:
        last = self._last
        if last is None or last not in PSN_RANGE:
            psn = PSN_RANGE.start
        else:
            psn = PSN_RANGE.start + (last - PSN_RANGE.start + 1) % len(PSN_RANGE)
        self._last = psn
        return psn


def procedure_call(procedure: int, psn: int, parameters: bytes = b"") -> FullWrite:
    """The BT07 full write that starts `procedure` (p.51-53).

    BT07 data: procedure (UINT16 LSB first: number in bits 0-11, response handling in bits
    12-15 left 0), PSN, parameters.
    """
    if not 0 <= procedure <= _PROCEDURE_NUMBER_MASK:
        raise FrameError(f"procedure number {procedure} does not fit 12 bits")
    if psn not in PSN_RANGE:
        raise FrameError(f"a MEP client's PSN lies in 5..9 (p.52), not {psn}")
    return FullWrite(BT07, struct.pack("<HB", procedure, psn) + parameters)


# p.53, p.166: result codes of BT08/ET59/ET85.
RESULT_MEANINGS = {
    0: "completed",
    1: "accepted, not completed",
    2: "invalid parameter",
    3: "conflict with current setup",
    4: "timing constraint",
    5: "no authorization",
    6: "unrecognized procedure",
}


@dataclass(frozen=True)
class ProcedureResponse:
    """A BT08/ET59/ET85 record; check `psn` against yours (p.52: others may have run one)."""

    procedure: int
    psn: int
    result: int
    data: bytes = field(repr=False)

    @property
    def meaning(self) -> str:
        return RESULT_MEANINGS.get(self.result, f"unknown result {self.result}")


def decode_procedure_response(data: bytes) -> ProcedureResponse:
    if len(data) < 4:
        raise DecodeError(f"a procedure response table holds at least 4 bytes, got {len(data)}")
    procedure, psn, result = struct.unpack_from("<HBB", data)
    return ProcedureResponse(procedure & _PROCEDURE_NUMBER_MASK, psn, result, bytes(data[4:]))
