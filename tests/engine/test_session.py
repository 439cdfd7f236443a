"""Session timing and accounting against a fake meter (p.21; notes §1.4). No pty here.

Tests whose subject is time run on a virtual clock (tests/virtual_time.py): the bounds are
exact there, and a loaded machine cannot make them flake.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from mepd.engine.rc4_link import Attempt, Rc4Link, Settled
from mepd.engine.session import Session
from mepd.protocol import (
    Complete,
    KeyId,
    MepKey,
    PartialRead,
    Request,
    ResponseCode,
    Send,
    SequenceCounter,
)
from mepd.protocol.errors import (
    AuthenticationError,
    FrameError,
    MepTimeoutError,
    ResponseError,
    SequenceError,
)
from mepd.protocol.timing import wire_seconds
from mepd.protocol.tls.errors import TlsKeyRejectedError, TlsRefusedError
from tests.fakes import FakeMeter, FakeMeterTransport
from tests.virtual_time import VirtualTimeLoop

KEY = MepKey(b"M" * 16, KeyId.MBK)
READ = PartialRead(28, 0, 10)
T = TypeVar("T")


def _session(
    meter: FakeMeter, counter: SequenceCounter | None = None
) -> tuple[Session, FakeMeterTransport]:
    transport = FakeMeterTransport(meter)
    return Session(transport, Rc4Link(KEY, counter=counter)), transport


def on_virtual_time(test: Callable[[], Coroutine[Any, Any, T]]) -> T:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(test())
    finally:
        loop.close()


@pytest.mark.asyncio
async def test_reads_resynchronise_then_succeed() -> None:
    meter = FakeMeter([KEY])
    session, _ = _session(meter, SequenceCounter(1))
    assert await session.read(READ) == meter.table_data
    assert session.stats.sequence_resyncs == 1
    assert session.key_proven


def test_requests_are_at_least_100_ms_apart() -> None:
    meter = FakeMeter([KEY], response_delay_s=0.001)

    async def four_reads() -> None:
        session, _ = _session(meter)
        for _ in range(4):
            await session.read(READ)

    on_virtual_time(four_reads)
    gaps = [b - a for a, b in itertools.pairwise(meter.arrivals)]
    assert len(gaps) >= 4
    assert min(gaps) >= 0.1


def test_timeout_is_500_ms_after_the_last_byte_then_one_identical_resend() -> None:
    meter = FakeMeter([KEY], silent=True)
    session, _ = _session(meter, SequenceCounter(0x77635B91))

    async def timed_read() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(MepTimeoutError):
            await session.read(READ)
        return loop.time() - started

    elapsed = on_virtual_time(timed_read)
    frame_time = wire_seconds(22, 9600)
    assert len(meter.arrivals) == 2  # original + one identical resend
    assert meter.sequences == []  # silent: never parsed
    assert elapsed == pytest.approx(2 * (0.5 + frame_time), abs=0.005)
    assert session.stats.timeouts == 2
    assert session.stats.identical_resends == 1


@pytest.mark.asyncio
async def test_wrong_key_is_an_authentication_error_and_not_retried() -> None:
    meter = FakeMeter([MepKey(b"X" * 16)])
    session, _ = _session(meter)
    with pytest.raises(AuthenticationError):
        await session.read(READ)
    assert len(meter.arrivals) == 1
    assert session.stats.authentication_failures == 1
    assert not session.key_proven


@pytest.mark.asyncio
async def test_alerts_and_garbage_are_counted_and_dropped() -> None:
    meter = FakeMeter([KEY], last_sequence=0)
    meter.mangle = lambda reply: b"\x00\x00\xff\xfe" + reply
    session, _ = _session(meter, SequenceCounter(1))
    assert await session.read(READ) == meter.table_data
    assert session.stats.alerts == 1
    assert session.stats.discarded_bytes == 2


@pytest.mark.asyncio
async def test_stale_bytes_between_exchanges_are_dropped() -> None:
    meter = FakeMeter([KEY], last_sequence=0)
    session, transport = _session(meter, SequenceCounter(1))
    await session.read(READ)
    transport.inject(b"\x00\x05stale")
    assert await session.read(READ) == meter.table_data
    assert session.stats.stale_bytes == 7


@pytest.mark.asyncio
async def test_corrupted_answer_is_asked_again() -> None:
    meter = FakeMeter([KEY], last_sequence=0)
    flips = iter([True, False, False])

    def corrupt_once(reply: bytes) -> bytes:
        if next(flips, False):
            return reply[:5] + bytes([reply[5] ^ 1]) + reply[6:]
        return reply

    meter.mangle = corrupt_once
    session, _ = _session(meter, SequenceCounter(1))
    assert await session.read(READ) == meter.table_data
    assert session.stats.corrupt_responses == 1
    assert meter.sequences == [1, 2]


@pytest.mark.asyncio
async def test_a_long_read_on_a_noisy_line_is_not_asked_again_when_told_so() -> None:
    """`retry_damaged=False` (a whole table tried on a noisy line): one frame, a damaged
    answer raises and is counted; a resync (0x0C) is still followed, or no data would come."""
    meter = FakeMeter([KEY], last_sequence=0)
    meter.mangle = lambda reply: reply[:5] + bytes([reply[5] ^ 1]) + reply[6:]
    session, _ = _session(meter, SequenceCounter(1))
    with pytest.raises(FrameError):
        await session.read(READ, retry_damaged=False)
    assert (meter.sequences, session.stats.corrupt_responses) == ([1], 1)
    meter.mangle = lambda reply: reply
    resyncing, _ = _session(meter, SequenceCounter(100))
    assert await resyncing.read(READ, retry_damaged=False) == meter.table_data
    assert resyncing.stats.sequence_resyncs == 1


class PacedTransport(FakeMeterTransport):
    """Hands each answer over 3 bytes at a time at the baud rate, as the simulator's pty does.

    `deliveries` counts the chunks handed to the reader: on a real port, each is a wakeup.
    """

    def __init__(self, meter: FakeMeter) -> None:
        super().__init__(meter)
        self.reads = 0
        self.deliveries = 0
        self.last_chunk_at = 0.0

    def inject(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        for first in range(0, len(data), 3):
            loop.call_later(wire_seconds(first, self.baud), self._chunk, data[first : first + 3])

    def _chunk(self, data: bytes) -> None:
        self.last_chunk_at = asyncio.get_running_loop().time()
        self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        self.deliveries += 1
        super().inject(data)

    async def read(self, wait_s: float) -> bytes:
        self.reads += 1
        return await super().read(wait_s)


class PausingPacedTransport(PacedTransport):
    """...that offers `ReadPausing`: while paused, chunks wait as in a tty's buffer."""

    def __init__(self, meter: FakeMeter) -> None:
        super().__init__(meter)
        self.paused = False
        self.pauses = 0
        self._held = bytearray()

    def pause_reading(self) -> None:
        self.paused = True
        self.pauses += 1

    def resume_reading(self) -> None:
        self.paused = False
        if self._held:
            held = bytes(self._held)
            self._held.clear()
            super()._deliver(held)

    def _deliver(self, data: bytes) -> None:
        if self.paused:
            self._held += data
        else:
            super()._deliver(data)


def _long_read(transport: PacedTransport) -> tuple[bytes, float]:
    session = Session(transport, Rc4Link(KEY, counter=SequenceCounter(1)))

    async def read() -> tuple[bytes, float]:
        data = await session.read(PartialRead(28, 0, 364))
        return data, asyncio.get_running_loop().time()

    return on_virtual_time(read)


BT28_SIZED = bytes(range(256)) + bytes(108)  # a 377-byte answer: 126 pieces of 3 bytes


@pytest.mark.parametrize("paced", [PacedTransport, PausingPacedTransport])
def test_a_long_answer_is_taken_in_a_few_reads_and_never_late(
    paced: type[PacedTransport],
) -> None:
    # The session sleeps through most of the pieces (they cannot arrive faster than 9600
    # baud) but reads the last 50 ms as they come.
    meter = FakeMeter([KEY], last_sequence=0, table_data=BT28_SIZED)
    transport = paced(meter)
    data, done = _long_read(transport)
    assert data == meter.table_data
    assert transport.reads < 40
    assert done - transport.last_chunk_at < 0.03


def test_the_reader_is_paused_while_the_session_naps() -> None:
    meter = FakeMeter([KEY], last_sequence=0, table_data=BT28_SIZED)
    plain = PacedTransport(meter)
    _long_read(plain)
    meter = FakeMeter([KEY], last_sequence=0, table_data=BT28_SIZED)
    pausing = PausingPacedTransport(meter)
    _long_read(pausing)
    assert plain.deliveries == 126  # a wakeup per piece
    assert pausing.pauses == 1
    assert not pausing.paused
    assert pausing.deliveries < 30  # the pieces of the nap came in one go


class _EndsWith:
    """Steps whose exchange ends at once with `error`."""

    def __init__(self, error: Exception) -> None:
        self._error = error

    def start(self) -> Send:
        raise self._error

    def on_response(self, body: bytes) -> Complete | Send:
        raise AssertionError("never sent")

    on_incomplete = on_timeout = start


class ScriptedLink:
    """A link whose exchange ends with `error` and settles as `settled`: the books alone."""

    def __init__(self, error: Exception, settled: Settled | None = None) -> None:
        self._error = error
        self._settled = settled or Settled()
        self.resets = 0

    def parts(self, request: Request) -> list[Request]:
        return [request]

    def attempt(self, request: Request, *, retry_damaged: bool = True) -> Attempt:
        return Attempt(_EndsWith(self._error), lambda: self._settled)

    def reset(self) -> None:
        self.resets += 1

    def counters(self) -> dict[str, int]:
        return {"tls_sessions": 4}


@pytest.mark.parametrize(
    ("error", "counter", "proves_key"),
    [
        (
            AuthenticationError(ResponseCode.AUTHENTICATION_FAILURE),
            "authentication_failures",
            False,
        ),
        (TlsKeyRejectedError("MBK", 0), "authentication_failures", False),
        (SequenceError(ResponseCode.INVALID_SEQUENCE_NUMBER, 7), None, True),
        (
            TlsRefusedError(ResponseCode.INVALID_SERVICE_SEQUENCE_STATE, "no session"),
            "refusals",
            False,
        ),
        (ResponseError(ResponseCode.TABLE_OPERATION_NOT_POSSIBLE), "refusals", True),
        (MepTimeoutError("silence"), None, False),
    ],
)
@pytest.mark.asyncio
async def test_one_place_books_every_error(
    error: Exception, counter: str | None, proves_key: bool
) -> None:
    session = Session(FakeMeterTransport(FakeMeter([KEY])), ScriptedLink(error))
    with pytest.raises(type(error)):
        await session.read(READ)
    booked = {
        name: value
        for name, value in session.stats.snapshot().items()
        if name in ("authentication_failures", "refusals") and value
    }
    assert booked == ({counter: 1} if counter else {})
    assert session.key_proven is proves_key
    assert session.stats.exchanges == 1


@pytest.mark.asyncio
async def test_what_an_exchange_settled_is_booked_even_when_it_failed() -> None:
    settled = Settled(resyncs=2, corrupt=1, key_proven=True, resynced=True)
    link = ScriptedLink(MepTimeoutError("silence"), settled)
    session = Session(FakeMeterTransport(FakeMeter([KEY])), link)
    resyncs: list[None] = []
    session.resync_listeners.append(lambda: resyncs.append(None))
    with pytest.raises(MepTimeoutError):
        await session.read(READ)
    assert (session.stats.sequence_resyncs, session.stats.corrupt_responses) == (2, 1)
    assert session.key_proven
    assert resyncs == [None]
    assert session.stats.snapshot()["tls_sessions"] == 4  # the link's own counters
    session.reset_link()
    assert (link.resets, session.key_proven) == (1, False)


def test_rc4_publishes_the_same_counters_as_before() -> None:
    session, _ = _session(FakeMeter([KEY]))
    assert list(session.stats.snapshot()) == [
        "frames_sent",
        "exchanges",
        "timeouts",
        "identical_resends",
        "sequence_resyncs",
        "corrupt_responses",
        "authentication_failures",
        "refusals",
        "alerts",
        "discarded_bytes",
        "stale_bytes",
    ]
