"""Sequence counter (p.11) and procedure-call rules (p.51-53)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mepd.protocol import KeyId, MepKey, SequenceCounter, sign_request
from mepd.protocol.errors import DecodeError, FrameError
from mepd.protocol.procedures import (
    PSN_RANGE,
    ProcedureSequence,
    decode_procedure_response,
    procedure_call,
)
from mepd.protocol.sequence import in_window
from tests.conftest import vector


def test_counter_increments_and_wraps() -> None:
    counter = SequenceCounter(0xFFFFFFFF)
    assert counter.take() == 0xFFFFFFFF
    assert counter.take() == 0


def test_adopt_uses_n_plus_one() -> None:
    counter = SequenceCounter(0x01020304)
    counter.adopt(0x77635B90)
    assert counter.take() == 0x77635B91  # p.16


@given(previous=st.integers(0, 2**32 - 1), step=st.integers(0, 20))
def test_meter_window_is_one_to_eight_ahead(previous: int, step: int) -> None:
    assert in_window(previous, (previous + step) % 2**32) == (1 <= step <= 8)


def test_psn_cycles_in_five_to_nine_never_repeating() -> None:
    psns = ProcedureSequence()
    taken = [psns.take() for _ in range(12)]
    assert taken[:6] == [5, 6, 7, 8, 9, 5]
    assert all(psn in PSN_RANGE for psn in taken)
    assert all(a != b for a, b in itertools.pairwise(taken))
    assert ProcedureSequence(last=255).take() == 5  # p.52: never 255 after login


def test_ep17_example_frame_from_the_guide() -> None:
    case = vector("ep17_remove_device_BT07_write_request")
    call = procedure_call(0x811, 7, bytes.fromhex("00f803"))
    signed = sign_request(call, 0x5B4E4309, MepKey(b"\x01" * 16, KeyId.MAK))
    assert signed.frame.hex() == case["frame_hex"]


def test_psn_outside_the_mep_range_is_refused() -> None:
    with pytest.raises(FrameError, match=r"5\.\.9"):
        procedure_call(0x811, 4)


def test_procedure_response_decodes_and_rejects_short_data() -> None:
    response = decode_procedure_response(bytes.fromhex("1108070001"))
    assert (response.procedure, response.psn, response.result) == (0x811, 7, 0)
    assert response.meaning == "completed"
    assert response.data == b"\x01"
    with pytest.raises(DecodeError):
        decode_procedure_response(b"\x11\x08")
