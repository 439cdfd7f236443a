"""A TLS-mode session over a real pseudo-terminal: mepd's serial driver, the simulated meter
in TLS mode, the guide's timing (p.21, p.51). The pacing test runs in-process on a virtual
clock (tests/virtual_time.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from mepd.drivers.serial import SerialPort
from mepd.drivers.simulator.driver import InProcessLink, InProcessTransport, PtyMeter
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.port import MeterPort
from mepd.drivers.simulator.profiles import PROFILES
from mepd.engine.session import ReadBudget, Session, session_for
from mepd.protocol import MepKey, PartialRead
from mepd.protocol.errors import AuthenticationError, ProtocolError
from mepd.protocol.tables.bt01 import decode_bt01
from mepd.protocol.tables.bt21 import decode_bt21
from mepd.protocol.tables.bt28 import bt28_size, decode_bt28
from mepd.protocol.tables.ids import BT01, BT21, BT23, BT28
from mepd.protocol.tls.errors import TlsKeyRejectedError
from tests.virtual_time import VirtualTimeLoop

KEY = MepKey.parse(DEMO_MBK)


@asynccontextmanager
async def tls_meter(**options: object) -> AsyncIterator[tuple[MeterPort, SerialPort]]:
    options.setdefault("requires_tls", True)
    port = simulated_meter(
        PROFILES["gen4"],
        seed=5,
        epoch=time.monotonic(),
        start_wall=1_718_971_200.0,
        response_delay_s=(0.01, 0.02),
        **options,  # type: ignore[arg-type]
    )
    async with PtyMeter(port) as pty:
        serial = SerialPort(pty.path)
        await serial.open()
        try:
            yield port, serial
        finally:
            await serial.close()


@pytest.mark.asyncio
async def test_handshake_then_reads_over_the_pty() -> None:
    async with tls_meter() as (port, serial):
        session = session_for("tls", serial, KEY)
        info = decode_bt01(await session.read(PartialRead(BT01, 0, 24)))
        dims = decode_bt21(await session.read(PartialRead(BT21, 0, 10)))
        present = decode_bt28(await session.read(PartialRead(BT28, 0, bt28_size(dims))), dims)
        big = await session.read(PartialRead(BT23, 0, 465))  # over 443: two TLS reads
    assert info.manufacturer == "ELON"
    assert present.values.get("power_import") is not None
    assert len(big) == 465
    assert session.key_proven
    stats = session.stats.snapshot()
    assert (stats["tls_handshakes"], stats["tls_sessions"]) == (1, 1)
    assert stats["frames_sent"] == 2 + 5  # 0x58, 0x59, then one 0x80 per read (BT23 in two)
    link = port.stats
    assert (link.tls_sessions, link.requests_handled, link.rc4_refused) == (1, 5, 0)
    assert (link.too_close_requests, link.throttled_requests) == (0, 0)  # p.21


def test_handshake_frames_are_paced_by_the_read_budget() -> None:
    async def two_reads() -> tuple[Session, float]:
        loop = asyncio.get_running_loop()
        port = simulated_meter(
            PROFILES["gen4"], seed=5, start_wall=1_718_971_200.0, requires_tls=True
        )
        async with InProcessLink(port, clock=loop.time) as link:
            session = session_for(
                "tls", InProcessTransport(link), KEY, read_budget=ReadBudget(rate=4.0, burst=1)
            )
            started = loop.time()
            await session.read(PartialRead(BT01, 0, 4))
            await session.read(PartialRead(BT01, 0, 4))
            return session, loop.time() - started

    loop = VirtualTimeLoop()
    try:
        session, elapsed = loop.run_until_complete(two_reads())
    finally:
        loop.close()
    assert session.stats.frames_sent == 4
    assert elapsed >= 3 / 4.0  # 4 frames, one token up front, then 4 a second


@pytest.mark.asyncio
async def test_wrong_key_gets_0x03_and_a_clear_message() -> None:
    async with tls_meter() as (port, serial):
        session = session_for("tls", serial, MepKey(b"W" * 16, KEY.key_id))
        with pytest.raises(TlsKeyRejectedError) as rejected:
            await session.read(PartialRead(BT01, 0, 4))
    assert isinstance(rejected.value, AuthenticationError)
    assert str(rejected.value).startswith("the meter refused the TLS handshake with 0x03")
    assert "MBK" in str(rejected.value)
    assert session.stats.frames_sent == 2  # 0x58, 0x59: no retry
    assert session.stats.authentication_failures == 1
    assert not session.key_proven
    assert port.stats.tls_key_failures == 1


@pytest.mark.asyncio
async def test_a_lost_session_is_handshaken_again(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mepd.engine")
    async with tls_meter() as (port, serial):
        session = session_for("tls", serial, KEY)
        resyncs: list[None] = []
        session.resync_listeners.append(lambda: resyncs.append(None))
        await session.read(PartialRead(BT01, 0, 4))
        port.drop_tls_session()  # the meter reset
        assert (await session.read(PartialRead(BT01, 0, 4))) == b"ELON"
    stats = session.stats.snapshot()
    assert (stats["tls_lost_sessions"], stats["tls_handshakes"], stats["tls_sessions"]) == (1, 2, 2)
    assert stats["frames_sent"] == 3 + 4  # 0x80 -> 0x0A, then 0x58, 0x59, 0x80
    assert port.stats.tls_no_session == 1
    assert resyncs == [None]  # the poller re-checks the IDT version (p.55)
    (logged,) = [r.getMessage() for r in caplog.records if "re-established" in r.getMessage()]
    assert "0x0A" in logged


@pytest.mark.asyncio
async def test_reset_link_starts_a_new_session() -> None:
    async with tls_meter() as (port, serial):
        session = session_for("tls", serial, KEY)
        await session.read(PartialRead(BT01, 0, 4))
        session.reset_link()
        assert not session.key_proven
        await session.read(PartialRead(BT01, 0, 4))
    assert session.stats.snapshot()["tls_handshakes"] == 2
    assert port.stats.tls_sessions == 2
    assert session.key_proven


def test_a_long_read_on_a_noisy_line_is_not_asked_again_in_tls_mode_either() -> None:
    """`retry_damaged=False` (the whole BT28 tried on a noisy line, `present.PresentPlanner`):
    a damaged answer raises after its one frame in TLS mode as in RC4 mode, instead of a new
    handshake and the read again (three frames of the budget, p.51); the next read
    handshakes first, as the damaged record left the session unknown."""

    async def damaged() -> tuple[Session, int, int]:
        loop = asyncio.get_running_loop()
        port = simulated_meter(
            PROFILES["gen4"], seed=5, start_wall=1_718_971_200.0, requires_tls=True
        )
        async with InProcessLink(port, clock=loop.time) as link:
            session = session_for("tls", InProcessTransport(link), KEY)
            await session.read(PartialRead(BT01, 0, 4))
            before = session.stats.frames_sent
            port.set_faults(tx_corrupt_rate=1.0)
            with pytest.raises(ProtocolError):
                await session.read(PartialRead(BT28, 0, 40), retry_damaged=False)
            sent = session.stats.frames_sent - before
            port.set_faults(tx_corrupt_rate=0.0)
            await asyncio.sleep(1.0)  # the damaged answer's last bytes are on the line still
            await session.read(PartialRead(BT01, 0, 4))
            return session, sent, session.stats.frames_sent - before - sent

    loop = VirtualTimeLoop()
    try:
        session, sent, after = loop.run_until_complete(damaged())
    finally:
        loop.close()
    assert sent == 1
    assert after == 3  # 0x58, 0x59, then the read
    assert session.stats.snapshot()["tls_handshakes"] == 2
