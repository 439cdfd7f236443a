"""Every repeating line in mepd.publish goes through one Throttle (issue 18, item 6)."""

from __future__ import annotations

import logging

import pytest

from mepd.logs import Throttle
from mepd.publish.client import MqttConnection
from mepd.settings import MqttSettings


def test_a_flapping_broker_is_said_once_not_on_every_cycle(
    caplog: pytest.LogCaptureFixture,
) -> None:
    connection = MqttConnection(MqttSettings(), "mepd-flap")
    with caplog.at_level(logging.DEBUG, logger="mepd.publish"):
        for _ in range(100):  # lost, connected, lost, ...: the problem clears on each connect
            connection._problems.report(
                "the MQTT broker dropped the connection", level=logging.WARNING
            )
            connection._problems.current = None
    shown = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(shown) == 1


def test_throttled_exceptions_keep_their_traceback_and_count_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    say = Throttle(logging.getLogger("mepd.test"), interval_s=60, clock=lambda: now[0])
    with caplog.at_level(logging.DEBUG, logger="mepd.test"):
        for _ in range(5):
            try:
                raise ValueError("bug")
            except ValueError:
                say.exception("bug", "could not publish %s", "PresentReading")
        now[0] = 61.0
        try:
            raise ValueError("bug")
        except ValueError:
            say.exception("bug", "could not publish %s", "PresentReading")
    assert len(caplog.records) == 2
    assert all(r.exc_info is not None for r in caplog.records)
    assert "(4 similar in the last 1 min not shown)" in caplog.records[1].getMessage()
