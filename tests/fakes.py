"""Test doubles built from the same protocol code as the real meter simulator.

Unit tests of the session use these; integration tests use the simulator over a real pty.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from mepd.protocol import FrameDecoder, MepKey, encode_response, receive_request
from mepd.protocol.errors import AuthenticationError
from mepd.protocol.frames import (
    authentication_failure_frame,
    ok_read_message,
    sequence_error_message,
)
from mepd.protocol.sequence import in_window
from mepd.protocol.stream import Frame


@dataclass
class FakeMeter:
    """Answers reads with `table_data`, keeps the p.11 sequence window, logs arrival times."""

    keys: list[MepKey]
    table_data: bytes = bytes(range(10))
    last_sequence: int = 0x77635B90
    response_delay_s: float = 0.02
    silent: bool = False  # a latched-up transceiver: nothing comes back
    arrivals: list[float] = field(default_factory=list)
    sequences: list[int] = field(default_factory=list)
    mangle: Callable[[bytes], bytes] | None = None

    def answer(self, body: bytes) -> bytes:
        try:
            received = receive_request(body, self.keys)
        except AuthenticationError:
            return authentication_failure_frame()
        self.sequences.append(received.sequence)
        if not in_window(self.last_sequence, received.sequence):
            return encode_response(received, sequence_error_message(self.last_sequence))
        self.last_sequence = received.sequence
        data = self.table_data[: getattr(received.request, "count", len(self.table_data))]
        return encode_response(received, ok_read_message(data))


class FakeMeterTransport:
    """A `Transport` whose far end is a `FakeMeter`, with no wire and no pty."""

    def __init__(self, meter: FakeMeter, baud: int = 9600) -> None:
        self.meter = meter
        self._baud = baud
        self._inbox = bytearray()
        self._arrived = asyncio.Event()
        self._decoder = FrameDecoder()
        self.opened = 0
        self.injected: list[bytes] = []

    @property
    def description(self) -> str:
        return "fake-meter"

    @property
    def baud(self) -> int:
        return self._baud

    async def open(self) -> None:
        self.opened += 1

    async def close(self) -> None:
        pass

    async def write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        for event in self._decoder.feed(data):
            if not isinstance(event, Frame):
                continue
            self.meter.arrivals.append(loop.time())
            if self.meter.silent:
                continue
            reply = self.meter.answer(event.body)
            if self.meter.mangle is not None:
                reply = self.meter.mangle(reply)
            loop.call_later(self.meter.response_delay_s, self.inject, reply)

    def inject(self, data: bytes) -> None:
        self.injected.append(data)
        self._inbox += data
        self._arrived.set()

    async def read(self, wait_s: float) -> bytes:
        if not self._inbox:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), wait_s)
            except TimeoutError:
                return b""
        data = bytes(self._inbox)
        self._inbox.clear()
        return data

    def discard_input(self) -> int:
        dropped = len(self._inbox)
        self._inbox.clear()
        return dropped
