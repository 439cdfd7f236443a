"""A MEP client on a fake clock, built on mepd.protocol, talking to the sans-I/O meter port."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.port import MeterPort, Transmission
from mepd.drivers.simulator.profiles import PROFILES
from mepd.protocol import (
    Complete,
    Exchange,
    Frame,
    FrameDecoder,
    MepKey,
    Request,
    SequenceCounter,
)

MBK = MepKey.parse(DEMO_MBK)


def bodies(transmissions: list[Transmission]) -> list[bytes]:
    decoder = FrameDecoder()
    return [
        event.body
        for transmission in transmissions
        for event in decoder.feed(transmission.data)
        if isinstance(event, Frame)
    ]


@dataclass
class FakeClockClient:
    """Sends whole frames at `now`, spaced 200 ms apart unless told otherwise."""

    port: MeterPort
    key: MepKey = MBK
    counter: SequenceCounter = field(default_factory=lambda: SequenceCounter(0))
    now: float = 0.0
    spacing: float = 0.2

    def send(self, frame: bytes, *, after: float | None = None) -> list[bytes]:
        self.now += self.spacing if after is None else after
        return bodies(self.port.receive(frame, self.now))

    def request(self, request: Request, *, encrypt: bool = False) -> Any:
        """Run one Exchange to completion; returns the Response or the raised error."""
        exchange = Exchange(request, self.key, self.counter, encrypt=encrypt)
        send = exchange.start()
        for _ in range(10):
            replies = self.send(send.frame)
            try:
                outcome = exchange.on_response(replies[0]) if replies else exchange.on_timeout()
            except Exception as error:
                return error
            if isinstance(outcome, Complete):
                return outcome.response
            send = outcome
        raise AssertionError("no completion after 10 attempts")


# make_client(profile="gen4", seed=7, **simulated_meter_options) -> FakeClockClient
MakeClient = Callable[..., FakeClockClient]


@pytest.fixture
def make_client() -> MakeClient:
    def make(profile: str = "gen4", seed: int = 7, **options: Any) -> FakeClockClient:
        options.setdefault("response_delay_s", (0.03, 0.03))
        port = simulated_meter(PROFILES[profile], seed=seed, **options)
        return FakeClockClient(port)

    return make
