"""What Home Assistant would see: a paho subscriber on its own thread, timestamping arrivals.

Every message is stamped with `time.monotonic()` (CLOCK_MONOTONIC, the same clock in every
process of the machine, so it lines up with the simulator's stamps) the moment paho hands
it over.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() at arrival
    topic: str
    payload: bytes
    retain: bool


class Subscriber:
    def __init__(self, port: int, topics: tuple[str, ...] = ("mepd/#",)) -> None:
        self.port = port
        self.topics = topics
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"mepd-bench-{time.monotonic_ns()}"
        )
        # Reconnect at once after a broker restart: the bench times the daemon, not us.
        self._client.reconnect_delay_set(min_delay=1, max_delay=1)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message

    def _on_connect(self, client: paho.Client, *_: Any) -> None:
        nodelay(client)  # its acknowledgements go out at once
        client.subscribe([(topic, 0) for topic in self.topics])

    def _on_message(self, _client: Any, _userdata: Any, message: paho.MQTTMessage) -> None:
        at = time.monotonic()
        with self._lock:
            self.messages.append(
                Received(at, message.topic, bytes(message.payload), bool(message.retain))
            )

    def start(self) -> Subscriber:
        self._client.connect("127.0.0.1", self.port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(CONNECT_TIMEOUT_S):
            raise RuntimeError("the bench subscriber could not subscribe")
        return self

    def resubscribe_after_restart(self, timeout_s: float = 10.0) -> float:
        """After a broker restart: connect again at once (polling), return when subscribed."""
        self._client.loop_stop()
        self._subscribed.clear()
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._client.reconnect()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.005)
        self._client.loop_start()
        if not self._subscribed.wait(timeout_s):
            raise RuntimeError("the bench subscriber could not subscribe again")
        return time.monotonic()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def select(self, predicate: Callable[[Received], bool]) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if predicate(m)]

    def wait_for(
        self, predicate: Callable[[Received], bool], count: int = 1, within_s: float = 20.0
    ) -> list[Received] | None:
        deadline = time.monotonic() + within_s
        while True:
            found = self.select(predicate)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                return None
            time.sleep(0.01)

    def __enter__(self) -> Subscriber:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def nodelay(client: paho.Client) -> None:
    """TCP_NODELAY on a connected paho client's socket (paho leaves Nagle on)."""
    sock = client.socket()
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def loopback_latency(port: int, count: int = 200, payload_bytes: int = 1200) -> list[float]:
    """Seconds from a paho publish (QoS 0) to the subscriber's arrival stamp: the broker's
    share of every figure below, measured on this machine."""
    topic = "mepd-bench/latency"
    publisher = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{time.time_ns()}")
    publisher.connect("127.0.0.1", port)
    nodelay(publisher)
    publisher.loop_start()
    sent: dict[int, float] = {}
    latencies: list[float] = []
    with Subscriber(port, (topic,)) as subscriber:
        for index in range(count):
            body = f"{index:08d}".encode() + b"x" * (payload_bytes - 8)
            sent[index] = time.monotonic()
            publisher.publish(topic, body)
            time.sleep(0.01)
        time.sleep(0.2)
        for message in subscriber.select(lambda m: m.topic == topic):
            index = int(message.payload[:8])
            latencies.append(message.at - sent[index])
    publisher.disconnect()
    publisher.loop_stop()
    return latencies
