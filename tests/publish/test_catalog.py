"""The catalog's names against the other end that spells them: the engine's counters."""

from __future__ import annotations

from mepd.drivers.gpio import NoLinkControl
from mepd.engine.poller import Poller
from mepd.engine.session import SessionStats
from mepd.publish.catalog import COUNTERS, Counter
from mepd.readings import Event
from mepd.settings import MeterSettings
from tests.fakes import FakeMeter, FakeMeterTransport
from tests.publish.simulated import KEY


def ignore(_event: Event) -> None:
    pass


def test_every_published_counter_is_one_the_engine_counts() -> None:
    # Diagnostics.counters is the session's stats and the poller's own counters (poller.py);
    # a counter renamed there would leave its entity without a value, silently.
    poller = Poller(
        MeterSettings(key=KEY), FakeMeterTransport(FakeMeter([KEY])), NoLinkControl(), ignore
    )
    counted = set(SessionStats().snapshot()) | set(poller.counters)
    assert set(Counter) <= counted


def test_every_counter_has_its_entity() -> None:
    assert tuple(Counter) == COUNTERS
