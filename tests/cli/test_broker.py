"""The demo's embedded broker, driven by paho (the client mepd itself uses)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from mepd.cli.broker import EmbeddedBroker, topic_matches


class Collector:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.changed = threading.Condition()

    def on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        with self.changed:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[str, bytes, bool]]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.messages) >= count, timeout), (
                self.messages
            )
            return list(self.messages)


@pytest.fixture
def broker_port() -> Iterator[int]:
    """The broker on its own event loop in a thread, as paho's blocking calls need."""
    loop = asyncio.new_event_loop()
    broker = EmbeddedBroker()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(broker.start(), loop).result(5)
    yield broker.port
    asyncio.run_coroutine_threadsafe(broker.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@contextmanager
def client(port: int, *, will: tuple[str, bytes] | None = None) -> Iterator[mqtt.Client]:
    paho = mqtt.Client(CallbackAPIVersion.VERSION2)
    if will:
        paho.will_set(will[0], will[1], qos=1, retain=True)
    connected = threading.Event()
    paho.on_connect = lambda *_args: connected.set()
    paho.connect("127.0.0.1", port, keepalive=5)
    paho.loop_start()
    assert connected.wait(5)
    try:
        yield paho
    finally:
        paho.disconnect()
        paho.loop_stop()


def subscribe(paho: mqtt.Client, pattern: str, collector: Collector) -> None:
    done = threading.Event()
    paho.on_message = collector.on_message
    paho.on_subscribe = lambda *_args: done.set()
    paho.subscribe(pattern, qos=1)
    assert done.wait(5)


@pytest.mark.parametrize(
    ("pattern", "topic", "matches"),
    [
        ("a/b", "a/b", True),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("#", "$SYS/x", False),
        ("+/b", "a/c", False),
        ("a/b/c", "a/b", False),
    ],
)
def test_topic_filters(pattern: str, topic: str, *, matches: bool) -> None:
    assert topic_matches(pattern, topic) is matches


@given(st.lists(st.text("ab", min_size=1, max_size=2), min_size=1, max_size=4))
def test_every_topic_matches_itself_and_hash(levels: list[str]) -> None:
    topic = "/".join(levels)
    assert topic_matches(topic, topic)
    assert topic_matches("#", topic)


def publish(paho: mqtt.Client, topic: str, payload: bytes, *, retain: bool = False) -> None:
    paho.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)


def test_retained_wildcards_and_clearing(broker_port: int) -> None:
    with client(broker_port) as publisher:
        publish(publisher, "m/1/a", b"x", retain=True)
        publish(publisher, "m/2/a", b"y")
        publish(publisher, "m/3/a", b"z", retain=True)
        publish(publisher, "m/3/a", b"", retain=True)  # an empty retained payload clears
        collector = Collector()
        with client(broker_port) as subscriber:
            subscribe(subscriber, "m/+/a", collector)
            publish(publisher, "m/4/a", b"live")
            publish(publisher, "other", b"no")
            seen = collector.wait_for(2)
    assert seen == [("m/1/a", b"x", True), ("m/4/a", b"live", False)]


def test_will_is_sent_on_a_lost_connection_only(broker_port: int) -> None:
    collector = Collector()
    with client(broker_port) as subscriber:
        subscribe(subscriber, "status/#", collector)
        with client(broker_port, will=("status/clean", b"offline")):
            pass  # a clean DISCONNECT: no will
        will_topic, will_payload = b"status/lost", b"offline"
        variable = b"\x00\x04MQTT\x04" + bytes([0x02 | 0x04 | 0x08 | 0x20]) + b"\x00\x3c"
        payload = b"\x00\x01x" + len(will_topic).to_bytes(2, "big") + will_topic
        payload += len(will_payload).to_bytes(2, "big") + will_payload
        body = variable + payload
        with socket.create_connection(("127.0.0.1", broker_port)) as raw:
            raw.sendall(bytes([0x10, len(body)]) + body)
            assert raw.recv(4) == b"\x20\x02\x00\x00"
        # dropped without DISCONNECT: the will goes out
        seen = collector.wait_for(1)
        time.sleep(0.2)
    assert seen[0][:2] == ("status/lost", b"offline")
    assert [topic for topic, _, _ in collector.messages] == ["status/lost"]


def test_garbage_closes_only_that_connection(broker_port: int) -> None:
    collector = Collector()
    with client(broker_port) as subscriber:
        subscribe(subscriber, "t", collector)
        with socket.create_connection(("127.0.0.1", broker_port)) as raw:
            raw.sendall(b"\x30\xff\xff\xff\xff\x7f")  # longer than MQTT allows
        with client(broker_port) as publisher:
            publish(publisher, "t", b"ok")
            assert collector.wait_for(1) == [("t", b"ok", False)]
