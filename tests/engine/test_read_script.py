"""Read scripts: one frame per step, failures thrown in at the yield, refusals told apart."""

from __future__ import annotations

import asyncio

import pytest

from mepd.engine.read_script import Script, ScriptRun, refused, run_script
from mepd.protocol import PartialRead
from mepd.protocol.codes import ResponseCode
from mepd.protocol.errors import AuthenticationError, MepTimeoutError, ResponseError, SequenceError

FIRST, SECOND = PartialRead(1, 0, 4), PartialRead(2, 8, 2)
NOT_POSSIBLE = ResponseError(ResponseCode.OPERATION_NOT_POSSIBLE)


def two_reads() -> Script[bytes]:
    first = yield FIRST
    second = yield SECOND
    return first + second


def optional_second() -> Script[bytes]:
    first = yield FIRST
    try:
        second = yield SECOND
    except ResponseError as error:
        if not refused(error):
            raise
        second = b"-"
    return first + second


class Meter:
    def __init__(self, failure: Exception | None = None) -> None:
        self.asked: list[PartialRead] = []
        self.failure = failure

    async def read(self, request: PartialRead) -> bytes:
        self.asked.append(request)
        if request is SECOND and self.failure is not None:
            raise self.failure
        return bytes([request.table])


def run(script: Script[bytes], meter: Meter) -> tuple[list[bool], bytes | None]:
    async def steps() -> tuple[list[bool], bytes | None]:
        done = []
        script_run = ScriptRun(script)
        while not script_run.done:
            done.append(await script_run.step(meter.read))
        return done, script_run.result

    return asyncio.run(steps())


def test_one_frame_per_step_and_the_result_at_the_end() -> None:
    meter = Meter()
    assert run(two_reads(), meter) == ([False, True], b"\x01\x02")
    assert meter.asked == [FIRST, SECOND]


def test_a_script_that_needs_no_read_is_done_at_once() -> None:
    def nothing() -> Script[bytes]:
        reads: tuple[PartialRead, ...] = ()  # a look that finds nothing to read
        yield from reads
        return b"none"

    script_run = ScriptRun(nothing())
    assert script_run.done
    assert script_run.result == b"none"


def test_a_refusal_the_script_expects_is_its_own_business() -> None:
    assert run(optional_second(), Meter(NOT_POSSIBLE)) == ([False, True], b"\x01-")


@pytest.mark.parametrize(
    "failure",
    [
        AuthenticationError(ResponseCode.NO_PERMISSION),
        SequenceError(ResponseCode.OPERATION_NOT_POSSIBLE, 9),
        MepTimeoutError("no answer"),
    ],
)
def test_the_links_failures_go_on_up_even_where_a_refusal_is_caught(failure: Exception) -> None:
    with pytest.raises(type(failure)):
        run(optional_second(), Meter(failure))


def test_an_uncaught_refusal_ends_the_run() -> None:
    with pytest.raises(ResponseError):
        run(two_reads(), Meter(NOT_POSSIBLE))


def test_what_counts_as_a_refusal() -> None:
    assert refused(NOT_POSSIBLE)
    assert not refused(AuthenticationError(ResponseCode.NO_PERMISSION))
    assert not refused(ValueError("x"))


def test_run_script_runs_it_to_its_end_with_refusals_thrown_in() -> None:
    """`mepd probe`'s way (no budget gaps): every read in a row, the script's own result."""
    meter = Meter(NOT_POSSIBLE)
    assert asyncio.run(run_script(optional_second(), meter.read)) == b"\x01-"
    assert meter.asked == [FIRST, SECOND]
    with pytest.raises(MepTimeoutError):
        asyncio.run(run_script(two_reads(), Meter(MepTimeoutError("silence")).read))
