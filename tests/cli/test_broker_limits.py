"""The demo broker's bounds and its answer to MQTT 5 (issue 18, item 11).

Without bounds, 300 retained 1 MiB messages took 337 MB, a slow subscriber under a 200 MiB
flood 538 MB, and 3,000 idle connections were held for ever (bench/demo_broker_memory.py
gives the figures). These tests use small limits so each bound is reached in milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from mepd.cli.broker import (
    CONNACK,
    CONNECT,
    PUBLISH,
    SUBSCRIBE,
    BrokerLimits,
    EmbeddedBroker,
    encode_length,
    encode_utf8,
)
from mepd.publish.client import MqttConnection
from mepd.settings import MqttSettings

pytestmark = pytest.mark.asyncio

SMALL = BrokerLimits(
    max_packet_bytes=4096,
    max_retained_bytes=10_000,
    max_retained_topics=50,
    max_queued_bytes=64 * 1024,
    max_connections=5,
    connect_timeout_s=0.3,
    max_idle_s=0.5,
)


def packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + encode_length(len(body)) + body


def connect_packet(client_id: str, *, level: int = 4, keepalive: int = 0) -> bytes:
    body = encode_utf8("MQTT") + bytes([level, 0x02]) + keepalive.to_bytes(2, "big")
    if level == 5:
        body += b"\x00"  # no properties
    return packet(CONNECT, 0, body + encode_utf8(client_id))


def publish_packet(topic: str, payload: bytes, *, retain: bool = False) -> bytes:
    return packet(PUBLISH, 1 if retain else 0, encode_utf8(topic) + payload)


@asynccontextmanager
async def running(limits: BrokerLimits = SMALL) -> AsyncIterator[EmbeddedBroker]:
    broker = EmbeddedBroker(limits=limits)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


async def raw(broker: EmbeddedBroker) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", broker.port)


async def connected(
    broker: EmbeddedBroker, client_id: str, keepalive: int = 0
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await raw(broker)
    writer.write(connect_packet(client_id, keepalive=keepalive))
    assert await reader.readexactly(4) == bytes([CONNACK << 4, 2, 0, 0])
    return reader, writer


async def closed(reader: asyncio.StreamReader, within_s: float) -> bool:
    """True if the broker closes the connection within `within_s` (whatever it sends first)."""
    try:
        async with asyncio.timeout(within_s):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


async def test_an_mqtt5_connect_gets_return_code_1_and_a_close() -> None:
    async with running() as broker:
        reader, writer = await raw(broker)
        writer.write(connect_packet("mepd-v5", level=5))
        # 3.1.1 section 3.2.2.3: return code 1, unacceptable protocol version.
        assert await reader.readexactly(4) == bytes([CONNACK << 4, 2, 0, 1])
        assert await closed(reader, 1.0)
        writer.close()


async def test_mepd_falls_back_to_311_on_the_refusal_not_on_silence(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running(BrokerLimits()) as broker:
        connection = MqttConnection(
            MqttSettings(host="127.0.0.1", port=broker.port, reconnect_min_s=5.0),
            "mepd-fallback",
        )
        with caplog.at_level(logging.DEBUG, logger="mepd.publish"):
            await connection.start()
            try:
                assert await connection.wait_connected(5)
            finally:
                await connection.stop()
    messages = [record.getMessage() for record in caplog.records]
    assert any("refused MQTT 5" in m for m in messages), messages
    assert not any("unanswered" in m for m in messages), messages
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_the_retained_store_is_bounded() -> None:
    async with running() as broker:
        _, writer = await connected(broker, "retainer")
        for index in range(40):  # 40 x 1 KiB, the store holds 10,000 bytes
            writer.write(publish_packet(f"r/{index}", b"x" * 1000, retain=True))
        await writer.drain()
        await asyncio.sleep(0.2)
        assert 0 < broker.retained_bytes <= SMALL.max_retained_bytes
        # Clearing one makes room again.
        writer.write(publish_packet("r/0", b"", retain=True))
        writer.write(publish_packet("r/new", b"y" * 500, retain=True))
        await writer.drain()
        await asyncio.sleep(0.1)
        assert "r/new" in broker._retained
        writer.close()


async def test_a_packet_above_the_limit_closes_that_connection() -> None:
    async with running() as broker:
        reader, writer = await connected(broker, "big")
        writer.write(publish_packet("big", b"z" * (SMALL.max_packet_bytes + 1)))
        assert await closed(reader, 1.0)
        writer.close()


async def test_a_subscriber_that_does_not_read_is_dropped() -> None:
    async with running() as broker:
        _, slow = await connected(broker, "slow")
        slow.transport.pause_reading()  # type: ignore[attr-defined]
        slow.write(packet(SUBSCRIBE, 2, b"\x00\x01" + encode_utf8("#") + b"\x00"))
        await slow.drain()
        await asyncio.sleep(0.1)
        _, flooder = await connected(broker, "flooder")
        for _ in range(2000):  # 2000 x 3 KiB = 6 MiB, the queue holds 64 KiB
            flooder.write(publish_packet("flood", b"f" * 3000))
            await flooder.drain()
        # The flooder stays, the slow one is cut off (the broker gets there in its own time:
        # asked for until it did, not after a fixed nap, which a loaded machine outlasts).
        for _ in range(100):
            if broker.connections == 1:
                break
            await asyncio.sleep(0.05)
        assert broker.connections == 1
        flooder.close()
        slow.close()


async def test_silent_connections_end_and_their_number_is_bounded() -> None:
    async with running() as broker:
        silent, silent_writer = await raw(broker)  # never sends CONNECT
        idle, idle_writer = await connected(broker, "idle", keepalive=0)
        assert await closed(silent, SMALL.connect_timeout_s + 0.5)
        assert await closed(idle, SMALL.max_idle_s + 0.5)
        streams = [await raw(broker) for _ in range(SMALL.max_connections + 3)]
        await asyncio.sleep(0.1)
        assert broker.connections == SMALL.max_connections
        for reader, writer in streams[SMALL.max_connections :]:
            assert await closed(reader, 0.5)
            writer.close()
        for _, writer in (*streams[: SMALL.max_connections], (None, silent_writer)):
            writer.close()
        idle_writer.close()
