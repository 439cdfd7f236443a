"""The optical session against the simulated optical port, in virtual time: log on once, read,
end the session when idle, renew it, cope with Gen 2/3's first NAK, faults and a wrong key."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from mepd.drivers.simulator.driver import InProcessLink, InProcessTransport
from mepd.drivers.simulator.faults import FaultSettings
from mepd.drivers.simulator.optical import OpticalMeterPort, State, optical_meter
from mepd.drivers.simulator.profiles import PROFILES
from mepd.engine.optical_session import WAKE_UP, WAKE_UP_COUNT, OpticalSession
from mepd.errors import MepdError
from mepd.protocol import FullRead, PartialRead
from mepd.protocol.c1218 import Echo, SecurityRejectedError
from mepd.protocol.c1218.errors import C1218Code
from mepd.protocol.c1218.services import Service
from mepd.protocol.keys import supplied_key_bytes
from mepd.protocol.tables.bt00 import decode_bt00
from tests.virtual_time import VirtualTimeLoop

PASSWORD = "OPTICAL-READ-KEY-RK1"
T = TypeVar("T")


def state_of(port: OpticalMeterPort) -> State:
    """The simulated port's state now (a call: no narrowing kept across awaits)."""
    return port.state


def run(
    profile: str,
    body: Callable[[OpticalSession, OpticalMeterPort], Awaitable[T]],
    *,
    password: str = PASSWORD,
    faults: FaultSettings | None = None,
    echo: Echo = Echo.AUTO,
    transport: type[InProcessTransport] = InProcessTransport,
) -> T:
    loop = VirtualTimeLoop(start=1000.0)

    async def main() -> T:
        port = optical_meter(
            PROFILES[profile], password=PASSWORD, epoch=loop.time(), faults=faults, seed=3
        )
        async with InProcessLink(port, clock=loop.time) as link:
            session = OpticalSession(transport(link), supplied_key_bytes(password), echo=echo)
            try:
                return await body(session, port)
            finally:
                await session.close()

    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


@pytest.mark.parametrize("profile", ["gen3", "gen4"])
def test_one_logon_serves_many_reads(profile: str) -> None:
    async def body(session: OpticalSession, port: OpticalMeterPort) -> None:
        config = decode_bt00(await session.read(FullRead(0)))
        assert config.manufacturer.strip() in ("ELON", "NES")
        for _ in range(5):
            data = await session.read(PartialRead(28, 0, 460))  # > 444: split in two reads
            assert len(data) == 460
        assert port.optical.sessions == 1
        assert session.sessions == 1
        assert session.key_proven
        expected_naks = 1 if PROFILES[profile].shares_uart_with_optical else 0
        assert port.optical.first_frame_naks == expected_naks
        assert session.link.counters.naks_received == expected_naks

    run(profile, body)


def test_idle_session_is_ended_and_a_new_one_opened() -> None:
    async def body(session: OpticalSession, port: OpticalMeterPort) -> None:
        await session.read(PartialRead(28, 0, 40))
        await asyncio.sleep(5.0)  # past keep_open_s: Logoff + Terminate sent
        assert state_of(port) is State.BASE
        assert port.optical.traffic_timeouts == 0  # ended by us, not by the meter
        await session.read(PartialRead(28, 0, 40))
        assert session.sessions == 2

    run("gen3", body)


def test_session_renewed_before_540_s() -> None:
    async def body(session: OpticalSession, port: OpticalMeterPort) -> None:
        for _ in range(200):  # 3 s apart: 600 s
            await session.read(PartialRead(28, 0, 40))
            await asyncio.sleep(3.0)
        assert session.sessions == 2
        assert port.optical.traffic_timeouts == 0

    run("gen4", body)


def test_wrong_password_is_security_rejected_and_meter_left_in_base() -> None:
    async def body(session: OpticalSession, port: OpticalMeterPort) -> None:
        with pytest.raises(SecurityRejectedError, match="security"):
            await session.read(PartialRead(28, 0, 40))
        assert not session.key_proven
        assert port.optical.security_failures == 1
        assert state_of(port) is State.BASE  # we terminated

    run("gen4", body, password="WRONG-PASSWORD-00000")


def test_close_sends_logoff_and_terminate() -> None:
    async def body(session: OpticalSession, port: OpticalMeterPort) -> None:
        await session.read(PartialRead(28, 0, 40))
        assert state_of(port) is State.SESSION
        await session.close()
        assert state_of(port) is State.BASE

    run("gen4", body)


def test_faults_cost_retries_not_values() -> None:
    faults = FaultSettings(
        tx_corrupt_rate=0.002, nak_rate=0.05, busy_rate=0.05, lose_response_rate=0.02
    )

    async def body(session: OpticalSession, port: OpticalMeterPort) -> int:
        good = 0
        for _ in range(60):
            try:
                data = await session.read(PartialRead(28, 0, 40))
            except MepdError:
                continue  # a read given up is fine; a wrong value or another exception is not
            assert len(data) == 40
            good += 1
        return good

    assert run("gen4", body, faults=faults) >= 50


def test_one_read_carries_a_whole_bt28() -> None:
    async def body(session: OpticalSession, port: OpticalMeterPort) -> None:
        await session.read(FullRead(0))
        served = port.meter.stats.requests_handled
        data = await session.read(PartialRead(28, 0, 400))
        assert len(data) == 400
        assert (session.negotiated.packet_size, session.negotiated.packets) == (64, 8)
        assert port.meter.stats.requests_handled - served == 1  # one instant, not four

    run("gen4", body)


def test_a_meter_refusing_the_larger_offer_gets_the_proven_one() -> None:
    async def body(session: OpticalSession, port: OpticalMeterPort) -> None:
        serve = port.services.serve
        offers: list[int] = []

        def refuse_more_than_two(message: bytes, now: float) -> bytes:
            if Service.NEGOTIATE <= message[0] <= Service.NEGOTIATE + 11:
                offers.append(message[3])
                if message[3] > 2:
                    return bytes((C1218Code.ONP,))
            return serve(message, now)

        port.services.serve = refuse_more_than_two  # type: ignore[method-assign]
        data = await session.read(PartialRead(28, 0, 200))
        assert len(data) == 200
        assert offers == [8, 2]
        assert (session.negotiated.packet_size, session.negotiated.packets) == (64, 2)

    run("gen3", body)


class EchoingHead(InProcessTransport):
    """An IR head that gives back what it sends, before the meter's answer (notes §1.4)."""

    def __init__(self, link: InProcessLink) -> None:
        super().__init__(link)
        self._echo = b""

    async def write(self, data: bytes) -> None:
        self._echo += data
        await super().write(data)

    async def read(self, wait_s: float) -> bytes:
        echo, self._echo = self._echo, b""
        return echo + (await super().read(0.0) if echo else await super().read(wait_s))

    def discard_input(self) -> int:
        echo, self._echo = self._echo, b""
        return len(echo) + super().discard_input()


@pytest.mark.parametrize("echo", [Echo.AUTO, Echo.ON])
@pytest.mark.parametrize("profile", ["gen3", "gen4"])
def test_an_echoing_head_is_found_out_and_its_echo_dropped(profile: str, echo: Echo) -> None:
    async def body(session: OpticalSession, port: OpticalMeterPort) -> None:
        for _ in range(3):
            assert len(await session.read(PartialRead(28, 0, 200))) == 200
        counters = session.link.counters
        # every byte came back and was dropped; the echo of each exchange's last ACK is
        # dropped as stale input before the next request
        assert counters.echo_bytes == counters.bytes_sent - counters.packets_sent
        assert counters.stray_bytes == 0
        assert counters.echo_detected == (echo is Echo.AUTO)
        assert counters.naks_sent == 0
        assert port.optical.sessions == 1

    run(profile, body, echo=echo, transport=EchoingHead)


def test_echo_off_with_an_echoing_head_fails_with_a_mepd_error() -> None:
    async def body(session: OpticalSession, port: OpticalMeterPort) -> None:
        with pytest.raises(MepdError):
            await session.read(PartialRead(28, 0, 200))

    run("gen4", body, echo=Echo.OFF, transport=EchoingHead)


def test_the_simulator_counts_every_byte_and_what_it_was_for() -> None:
    async def body(session: OpticalSession, port: OpticalMeterPort) -> None:
        for _ in range(3):
            await session.read(PartialRead(28, 0, 200))
        await asyncio.sleep(0.5)  # our last ACK has reached the meter
        stats, link = port.stats, session.link.counters
        wake_up = len(WAKE_UP) * WAKE_UP_COUNT  # written by the session, not the link
        assert (stats.bytes_received, stats.bytes_sent) == (
            link.bytes_sent + wake_up,
            link.bytes_received,
        )
        received, sent = stats.bytes_by_table[28]
        # 3 x (request 16 + ACKs of 4 packets); answers: ACK + 4 packets of 200 + 4 + 4 x 8
        assert (received, sent) == (3 * (16 + 4), 3 * (1 + 200 + 4 + 4 * 8))
        assert sum(r + s for r, s in stats.bytes_by_table.values()) == (
            stats.bytes_received + stats.bytes_sent
        )
        assert port.meter.stats.requests_handled == 3  # the session's first read is one too

    run("gen4", body)
