"""Two clients with one client id kick each other off the broker: named once, in one line."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from mepd.publish import client
from mepd.publish.client import MqttConnection
from mepd.publish.problems import takeover_problem
from mepd.publish.takeover import KICKS_IN_A_ROW, SOON_AFTER_S, TakeoverWatch
from tests.mosquitto import Mosquitto
from tests.publish.conftest import settings_for

CLIENT_ID = "mepd-10000000cafe0001"
LOST = ReasonCode(PacketTypes.DISCONNECT, "Unspecified error")  # the socket closed, no packet
TAKEN_OVER = ReasonCode(PacketTypes.DISCONNECT, identifier=0x8E)


async def until(condition: Callable[[], bool], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_two_clients_with_one_id_are_named_once(
    broker: Mosquitto, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A connection that holds this long clears the suspicion (30 s in service; the fight's
    # connections here last at most reconnect_max_s = 0.5 s plus jitter).
    monkeypatch.setattr(client, "STABLE_AFTER_S", 2.0)
    settings = settings_for(broker)
    first = MqttConnection(settings, CLIENT_ID)
    second = MqttConnection(settings, CLIENT_ID)
    named = takeover_problem(settings, CLIENT_ID, exact=False)
    with caplog.at_level(logging.DEBUG, logger="mepd"):
        await first.start()
        await second.start()
        try:
            await until(lambda: first.problem == second.problem == named, within_s=15)
            kicks = broker.log().count(f"Client {CLIENT_ID} already connected")
            await asyncio.sleep(2.0)  # they go on fighting: nothing more is said
            assert broker.log().count(f"Client {CLIENT_ID} already connected") > kicks + 2
            assert first.problem == second.problem == named  # also while briefly connected
            await second.stop()  # the other instance goes: the first holds, and says so
            await until(lambda: first.connected and first.problem is None, within_s=5)
        finally:
            await first.stop()
            await second.stop()
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert said.count(named) == 2  # once by each
    assert named.startswith(
        f"the MQTT broker at 127.0.0.1:{broker.port} closed the connection 3 times in a row "
        f"soon after accepting it: another client probably uses the client id {CLIENT_ID} "
    )
    assert named.endswith(
        "(two mepd instances with the same gateway id? set [mqtt] client_id or "
        "[homeassistant] gateway_id)"
    )
    assert said[-1] == (
        f"the connection to the MQTT broker at 127.0.0.1:{broker.port} has held for 2 s: "
        "no other client is taking it over"
    )
    # Before it was named, at most the first kicks were logged as lost connections.
    lost = [line for line in said if line.startswith("lost the connection")]
    assert len(lost) <= 2 * (KICKS_IN_A_ROW - 1)


def test_session_taken_over_is_named_at_the_first_kick() -> None:
    watch = TakeoverWatch(clear_after_s=240.0)
    assert watch.ended(3600.0, TAKEN_OVER, from_broker=True)
    assert watch.exact
    watch.clear()
    assert not watch.suspected


def test_only_repeated_silent_closes_soon_after_connect_count() -> None:
    watch = TakeoverWatch(clear_after_s=240.0)
    soon = SOON_AFTER_S - 1
    for _ in range(KICKS_IN_A_ROW - 1):
        assert not watch.ended(soon, LOST, from_broker=False)
    assert not watch.ended(SOON_AFTER_S, LOST, from_broker=False)  # one that held: start over
    for _ in range(KICKS_IN_A_ROW - 1):
        assert not watch.ended(soon, LOST, from_broker=False)
    # The broker said why (a DISCONNECT with another reason): not a takeover, start over.
    assert not watch.ended(
        soon, ReasonCode(PacketTypes.DISCONNECT, identifier=0x8B), from_broker=True
    )
    for _ in range(KICKS_IN_A_ROW - 1):
        assert not watch.ended(soon, LOST, from_broker=False)
    assert watch.ended(soon, LOST, from_broker=False)
    assert not watch.exact
    # Once named, a connection that lasted the backoff's length is still part of the fight.
    assert watch.ended(200.0, LOST, from_broker=False)
    assert not watch.ended(240.0, LOST, from_broker=False)
