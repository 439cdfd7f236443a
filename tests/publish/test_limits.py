"""What mepd accepts from the broker: MQTT 5's Maximum Packet Size, and the 3.1.1 fallback.

Mosquitto has no packet limit by default; before MQTT 5, one 250 MB message on Home
Assistant's status topic took mepd from 40 MB to 762 MB (bench/mqtt_flood.py). The broker
drops a message above mepd's limit for mepd alone; the connection stays up.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import struct
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from mepd.publish.client import MqttConnection
from mepd.publish.paho_client import MAX_PACKET_BYTES, MQTT311
from mepd.publish.problems import closed_handshake_problem
from mepd.publish.version import Next, VersionChoice
from mepd.settings import MqttSettings
from tests.mosquitto import Mosquitto
from tests.publish.conftest import settings_for

STATUS = "homeassistant/status"


async def until(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def publish(port: int, *messages: tuple[str, bytes]) -> None:
    """Publish QoS 1 from another client (MQTT 3.1.1, as Home Assistant's own may be)."""
    sender = paho.Client(CallbackAPIVersion.VERSION2, client_id="test-sender")
    sender.connect("127.0.0.1", port)
    sender.loop_start()
    try:
        for topic, payload in messages:
            sender.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        sender.disconnect()
        sender.loop_stop()


@pytest.mark.asyncio
async def test_a_message_above_the_limit_never_reaches_mepd(broker: Mosquitto) -> None:
    heard: list[tuple[str, int]] = []
    connection = MqttConnection(
        settings_for(broker),
        "mepd-limit",
        subscriptions=(STATUS,),
        on_message=lambda topic, payload, _retain: heard.append((topic, len(payload))),
    )
    await connection.start()
    try:
        assert await connection.wait_connected(5)
        await until(lambda: "mepd-limit 0 homeassistant/status" in broker.log())  # subscribed
        under = MAX_PACKET_BYTES - 1024  # with its topic and header, still under the limit
        await asyncio.to_thread(
            publish,
            broker.port,
            (STATUS, b"x" * 2_000_000),
            (STATUS, b"y" * under),
            (STATUS, b"online"),
        )
        await until(lambda: (STATUS, 6) in heard)
        assert connection.connected
        assert connection.problem is None
    finally:
        await connection.stop()
    assert heard == [(STATUS, under), (STATUS, 6)]  # in order, the 2 MB one dropped
    assert "Dropping too large outgoing PUBLISH for mepd-limit" in broker.log()
    assert broker.log().count("as mepd-limit (p5") == 1  # MQTT 5, never reconnected


# --- a broker that speaks only MQTT 3.1.1 -------------------------------------------------------


@dataclass
class OldBroker:
    """Answers an MQTT 3.1.1 CONNECT and holds the connection; answers any other protocol
    level with `refusal`, or closes without a word if that is None. `mute`: closes every
    connection unanswered, whatever the level."""

    refusal: bytes | None = None
    mute: bool = False
    levels: list[int] = field(default_factory=list)  # every CONNECT's protocol level
    port: int = 0
    _server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readexactly(1)
            length, shift = 0, 0
            while True:
                byte = (await reader.readexactly(1))[0]
                length |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            body = await reader.readexactly(length)
            (name_length,) = struct.unpack("!H", body[:2])
            level = body[2 + name_length]
            self.levels.append(level)
            if self.mute:
                return
            if level != 4:
                if self.refusal is not None:
                    writer.write(self.refusal)
                    await writer.drain()
                return
            writer.write(b"\x20\x02\x00\x00")
            await writer.drain()
            await reader.read()  # until the client goes
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[OldBroker]:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            self._server.close()


def old_settings(old: OldBroker) -> MqttSettings:
    return MqttSettings(host="127.0.0.1", port=old.port, reconnect_min_s=0.1, reconnect_max_s=0.3)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "refusal",
    [
        b"\x20\x02\x00\x01",  # MQTT 3.1.1's "unacceptable protocol version" (section 3.1.2-2)
        b"\x20\x03\x00\x84\x00",  # MQTT 5's "Unsupported protocol version", no properties
        None,  # closed without a word, as mepd's demo broker once did
    ],
    ids=["311-code-1", "mqtt5-0x84", "silence"],
)
async def test_a_broker_without_mqtt5_gets_311_once_and_a_warning(
    refusal: bytes | None, caplog: pytest.LogCaptureFixture
) -> None:
    async with OldBroker(refusal).running() as old:
        connection = MqttConnection(old_settings(old), "mepd-old")
        with caplog.at_level(logging.DEBUG, logger="mepd"):
            await connection.start()
            try:
                assert await connection.wait_connected(3)
                assert connection.problem is None
            finally:
                await connection.stop()
    assert old.levels == [5, 4]  # MQTT 5 first, then 3.1.1 at once and for good
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        f"the MQTT broker at 127.0.0.1:{old.port} does not speak MQTT 5: connected with MQTT "
        f"3.1.1, which cannot tell the broker mepd's packet limit (256 KiB), so a larger "
        "message on a topic mepd subscribes to is read in full; set max_packet_size in the "
        "broker, or upgrade it"
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(("bound", "warned"), [(256 * 1024, False), (256 * 1024 + 1, True)])
async def test_a_broker_that_bounds_packets_itself_gets_311_without_a_warning(
    bound: int, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # mepd's embedded demo broker speaks 3.1.1 and reads no packet above 256 KiB.
    async with OldBroker(b"\x20\x02\x00\x01").running() as old:
        settings = dataclasses.replace(old_settings(old), broker_max_packet_bytes=bound)
        connection = MqttConnection(settings, "mepd-demo")
        with caplog.at_level(logging.DEBUG, logger="mepd"):
            await connection.start()
            try:
                assert await connection.wait_connected(3)
            finally:
                await connection.stop()
    assert old.levels == [5, 4]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert bool(warnings) is warned


@pytest.mark.asyncio
async def test_silence_to_both_versions_is_not_blamed_on_the_version(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with OldBroker(mute=True).running() as mute:
        connection = MqttConnection(old_settings(mute), "mepd-mute")
        with caplog.at_level(logging.DEBUG, logger="mepd"):
            await connection.start()
            try:
                await until(lambda: len(mute.levels) >= 4)
            finally:
                await connection.stop()
    assert mute.levels[:4] == [5, 4, 5, 5]  # one try with 3.1.1, then MQTT 5 again
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [closed_handshake_problem(old_settings(mute))]


def test_a_plain_refusal_of_mqtt5_is_not_undone_by_a_later_silence() -> None:
    choice = VersionChoice()
    refused = ReasonCode(PacketTypes.CONNACK, "Unsupported protocol version")
    assert choice.answered(refused) is Next.RETRY_WITH_311
    assert choice.unanswered() is Next.AS_BEFORE  # e.g. a broker restart: still 3.1.1
    assert choice.protocol == MQTT311
    assert choice.answered(ReasonCode(PacketTypes.CONNACK, "Success")) is Next.FELL_BACK
    assert choice.answered(ReasonCode(PacketTypes.CONNACK, "Success")) is Next.AS_BEFORE
