"""Session timing and accounting against a fake meter (p.21; notes §1.4). No pty here."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from mepd.engine.session import Session
from mepd.protocol import KeyId, MepKey, PartialRead, SequenceCounter
from mepd.protocol.errors import AuthenticationError, MepTimeoutError
from mepd.protocol.timing import wire_seconds
from tests.fakes import FakeMeter, FakeMeterTransport

KEY = MepKey(b"M" * 16, KeyId.MBK)
READ = PartialRead(28, 0, 10)


def _session(meter: FakeMeter, **kwargs: object) -> tuple[Session, FakeMeterTransport]:
    transport = FakeMeterTransport(meter)
    return Session(transport, KEY, **kwargs), transport  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_reads_resynchronise_then_succeed() -> None:
    meter = FakeMeter([KEY])
    session, _ = _session(meter, counter=SequenceCounter(1))
    assert await session.read(READ) == meter.table_data
    assert session.stats.sequence_resyncs == 1
    assert session.key_proven


@pytest.mark.asyncio
async def test_requests_are_at_least_100_ms_apart() -> None:
    meter = FakeMeter([KEY], response_delay_s=0.001)
    session, _ = _session(meter)
    for _ in range(4):
        await session.read(READ)
    gaps = [b - a for a, b in itertools.pairwise(meter.arrivals)]
    assert len(gaps) >= 4
    assert min(gaps) >= 0.1


@pytest.mark.asyncio
async def test_timeout_is_500_ms_after_the_last_byte_then_one_identical_resend() -> None:
    meter = FakeMeter([KEY], silent=True)
    session, _ = _session(meter, counter=SequenceCounter(0x77635B91))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(MepTimeoutError):
        await session.read(READ)
    elapsed = loop.time() - started
    frame_time = wire_seconds(22, 9600)
    assert len(meter.arrivals) == 2  # original + one identical resend
    assert meter.sequences == []  # silent: never parsed
    assert elapsed >= 2 * (0.5 + frame_time) - 0.01
    assert elapsed < 2 * (0.5 + frame_time) + 0.3
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
    session, _ = _session(meter, counter=SequenceCounter(1))
    assert await session.read(READ) == meter.table_data
    assert session.stats.alerts == 1
    assert session.stats.discarded_bytes == 2


@pytest.mark.asyncio
async def test_stale_bytes_between_exchanges_are_dropped() -> None:
    meter = FakeMeter([KEY], last_sequence=0)
    session, transport = _session(meter, counter=SequenceCounter(1))
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
    session, _ = _session(meter, counter=SequenceCounter(1))
    assert await session.read(READ) == meter.table_data
    assert session.stats.corrupt_responses == 1
    assert meter.sequences == [1, 2]


class PacedTransport(FakeMeterTransport):
    """Hands each answer over 3 bytes at a time at the baud rate, as the simulator's pty does."""

    def __init__(self, meter: FakeMeter) -> None:
        super().__init__(meter)
        self.reads = 0
        self.last_chunk_at = 0.0

    def inject(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        for first in range(0, len(data), 3):
            loop.call_later(wire_seconds(first, self.baud), self._chunk, data[first : first + 3])

    def _chunk(self, data: bytes) -> None:
        self.last_chunk_at = asyncio.get_running_loop().time()
        super().inject(data)

    async def read(self, wait_s: float) -> bytes:
        self.reads += 1
        return await super().read(wait_s)


@pytest.mark.asyncio
async def test_a_long_answer_is_taken_in_a_few_reads_and_never_late() -> None:
    # A BT28-sized answer (377 bytes) comes in 126 pieces; the session sleeps through most of
    # them (it cannot arrive faster than 9600 baud) but reads the last 50 ms as it comes.
    meter = FakeMeter([KEY], last_sequence=0, table_data=bytes(range(256)) + bytes(108))
    transport = PacedTransport(meter)
    session = Session(transport, KEY, counter=SequenceCounter(1))  # type: ignore[arg-type]
    data = await session.read(PartialRead(28, 0, 364))
    done = asyncio.get_running_loop().time()
    assert data == meter.table_data
    assert transport.reads < 40
    assert done - transport.last_chunk_at < 0.03
