"""Thin asyncio drivers around `MeterPort`: paced bytes on a pty or an in-process link.

The port decides what to send and when; the driver only keeps time. It writes each
transmission at its start time, in chunks of a few milliseconds' worth of bytes, each chunk at
the moment the previous one would have finished on a real line (8N1: 10 bits a byte), and
asks the port before each chunk whether the transceiver still passes anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import tty
from collections.abc import Callable
from types import TracebackType

from mepd.drivers.simulator.optical import OpticalMeterPort
from mepd.drivers.simulator.port import MeterPort, Transmission

POLL_INTERVAL_S = 0.005
_CHUNK_SECONDS = 0.004
_READ_BYTES = 4096
# The MEP port or the optical port: both take bytes and host time, and give timed bytes.
LinePort = MeterPort | OpticalMeterPort


class MeterDriver:
    """Runs a port: `feed` received bytes, `write` gets paced transmitted bytes."""

    def __init__(
        self,
        port: LinePort,
        write: Callable[[bytes], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        poll_interval_s: float = POLL_INTERVAL_S,
        chunk_seconds: float = _CHUNK_SECONDS,
    ) -> None:
        self.port = port
        self._write = write
        self._clock = clock
        self._poll_interval_s = poll_interval_s
        self._chunk_seconds = chunk_seconds
        self._queue: asyncio.Queue[Transmission] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def feed(self, data: bytes) -> None:
        self._enqueue(self.port.receive(data, self._clock()))
        self.port.stats.count_received(len(data))

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._poller(), name="meter-poll"),
            asyncio.create_task(self._sender(), name="meter-send"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def _enqueue(self, transmissions: list[Transmission]) -> None:
        for transmission in transmissions:
            self._queue.put_nowait(transmission)

    async def _poller(self) -> None:
        while True:
            self._enqueue(self.port.poll(self._clock()))
            await asyncio.sleep(self._poll_interval_s)

    async def _sender(self) -> None:
        baud = self.port.baud
        chunk = max(1, int(baud / 10 * self._chunk_seconds))
        while True:
            transmission = await self._queue.get()
            start = max(transmission.at, self._clock())
            data = transmission.data
            for first in range(0, len(data), chunk):
                due = start + first * 10 / baud
                await _sleep_until(due, self._clock)
                if self.port.can_transmit(self._clock()):
                    self._write(data[first : first + chunk])
                    self.port.stats.count_sent(len(data[first : first + chunk]))
                else:
                    self.port.stats.bytes_blocked += len(data[first : first + chunk])
            # Hold the line until the last byte has left (the next segment starts after).
            await _sleep_until(start + len(data) * 10 / baud, self._clock)


async def _sleep_until(due: float, clock: Callable[[], float]) -> None:
    delay = due - clock()
    if delay > 0:
        await asyncio.sleep(delay)


class PtyMeter:
    """A simulated meter on a pseudo-terminal: any serial client can open `path`.

    The simulator holds the slave fd open itself, so the path stays valid (and the master
    never reads EIO) between client opens. Use as `async with PtyMeter(port) as meter:`.
    """

    def __init__(self, port: LinePort) -> None:
        self.port = port
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line discipline: bytes pass as they are
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self.driver = MeterDriver(port, self._write)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> PtyMeter:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._master, self._readable)
        self.driver.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self._master)
            self._loop = None
        await self.driver.stop()
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _readable(self) -> None:
        try:
            data = os.read(self._master, _READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # no client at the moment; the slave fd we hold keeps the pty alive
        if data:
            self.driver.feed(data)

    def _write(self, data: bytes) -> None:
        try:
            os.write(self._master, data)
        except BlockingIOError:
            # Nobody is reading and the pty buffer is full: like a line nobody listens to.
            self.port.stats.bytes_blocked += len(data)


class InProcessLink:
    """The client's end of an in-process line: `write` requests, `await read()` responses.

    Paced exactly like the pty (real time), without a pty; for tests of asyncio code.
    """

    def __init__(
        self,
        port: LinePort,
        *,
        clock: Callable[[], float] = time.monotonic,
        poll_interval_s: float = POLL_INTERVAL_S,
        chunk_seconds: float = _CHUNK_SECONDS,
    ) -> None:
        self.port = port
        self._received: asyncio.Queue[bytes] = asyncio.Queue()
        self.driver = MeterDriver(
            port,
            self._received.put_nowait,
            clock=clock,
            poll_interval_s=poll_interval_s,
            chunk_seconds=chunk_seconds,
        )

    async def __aenter__(self) -> InProcessLink:
        self.driver.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.driver.stop()

    def write(self, data: bytes) -> None:
        self.driver.feed(data)

    async def read(self) -> bytes:
        return await self._received.get()

    def drain(self) -> bytes:
        """Everything already received, without waiting."""
        chunks = bytearray()
        while not self._received.empty():
            chunks += self._received.get_nowait()
        return bytes(chunks)


class InProcessTransport:
    """mepd's `Transport` over an `InProcessLink`: the poller reads the meter with no pty.

    Under an event loop with a virtual clock (pass `clock=loop.time` to the link) a test can
    run hours of polling in seconds.
    """

    def __init__(self, link: InProcessLink, description: str = "in-process") -> None:
        self._link = link
        self._description = description
        self._pending = bytearray()
        self.paused = False

    @property
    def description(self) -> str:
        return self._description

    @property
    def baud(self) -> int:
        return self._link.port.baud

    async def open(self) -> None:
        self._pending.clear()

    async def close(self) -> None:
        self._pending.clear()

    async def write(self, data: bytes) -> None:
        self._link.write(data)

    async def read(self, wait_s: float) -> bytes:
        if not self._pending:
            try:
                async with asyncio.timeout(wait_s):  # not wait_for: see SerialPort.read
                    self._pending += await self._link.read()
            except TimeoutError:
                return b""
        self._pending += self._link.drain()
        data = bytes(self._pending)
        self._pending.clear()
        return data

    def pause_reading(self) -> None:
        """`ReadPausing`, as the serial port offers it. The bytes already wait in the link's
        queue and wake nobody until read, so there is nothing to take off a selector; the
        flag lets a test see the session nap with reading paused."""
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def discard_input(self) -> int:
        dropped = len(self._pending) + len(self._link.drain())
        self._pending.clear()
        return dropped
