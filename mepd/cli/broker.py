"""A small MQTT 3.1.1 broker for `mepd demo` on a machine that has no broker.

The demo must show the whole path, MQTT included, on a fresh laptop without root, so it
cannot count on Mosquitto. This broker does what mepd and a subscriber need: CONNECT with a
will, QoS 0 and 1 publish, retained messages, wildcard subscriptions, keepalive. It binds to
loopback only, has no authentication and keeps nothing on disk: it is a demo, never a
production broker. Sessions are always clean.

It is bounded (`BrokerLimits`), because anything on the machine can connect to it: packet
size, the retained store, each client's unsent bytes (a subscriber that does not read is
dropped), the number of connections, and how long a connection may stay silent. Without
these, 300 retained 1 MiB messages took 337 MB, a slow subscriber under a 200 MiB flood
538 MB, and 3,000 idle connections were held for ever (bench/demo_broker_memory.py).

An MQTT 5 CONNECT (mepd's first try) is answered as MQTT 3.1.1 requires of a server that
does not speak the client's level (3.1.1 section 3.1.2.2): CONNACK return code 1,
"unacceptable protocol version", then the connection is closed, so mepd falls back to
3.1.1 at once and without a warning about silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from mepd.logs import Throttle
from mepd.text import printable

log = logging.getLogger(__name__)

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14
# 3.1.1 section 3.1.2.2: levels 3 (MQIsdp, 3.1) and 4 (3.1.1) are answered; 5 is refused.
_SPOKEN_LEVELS = (3, 4)
_CONNACK_ACCEPTED = b"\x00\x00"
_CONNACK_UNACCEPTABLE_PROTOCOL = b"\x00\x01"  # 3.1.1 section 3.2.2.3, return code 1


@dataclass(frozen=True)
class BrokerLimits:
    """What one demo broker holds at most. A demo carries a few meters' discovery configs
    (a few KiB each) and readings (well under 1 KiB): every bound is far above that."""

    max_packet_bytes: int = 256 * 1024  # as mepd's own MQTT 5 Maximum Packet Size
    max_retained_bytes: int = 4 * 1024 * 1024  # topics + payloads kept for new subscribers
    max_retained_topics: int = 1024
    max_queued_bytes: int = 1024 * 1024  # per client, written but not yet taken by it
    max_connections: int = 64
    connect_timeout_s: float = 10.0  # from accept to a complete CONNECT
    max_idle_s: float = 300.0  # silence ends a connection, whatever its keepalive (0 too)


class _MalformedError(Exception):
    pass


@dataclass(frozen=True)
class _Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT filter matching: `+` one level, `#` the rest; `$` topics only when named."""
    if topic.startswith("$") and not pattern.startswith("$"):
        return False
    want, have = pattern.split("/"), topic.split("/")
    for index, level in enumerate(want):
        if level == "#":
            return True
        if index >= len(have) or (level not in ("+", have[index])):
            return False
    return len(want) == len(have)


def encode_length(length: int) -> bytes:
    """MQTT's variable-length Remaining Length (3.1.1 §2.2.3)."""
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def encode_packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + encode_length(len(body)) + body


def encode_utf8(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


class _Reader:
    def __init__(self, body: bytes) -> None:
        self.body, self.at = body, 0

    def take(self, count: int) -> bytes:
        if self.at + count > len(self.body):
            raise _MalformedError("packet shorter than its fields")
        chunk = self.body[self.at : self.at + count]
        self.at += count
        return chunk

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def blob(self) -> bytes:
        return self.take(self.u16())

    def text(self) -> str:
        try:
            return self.blob().decode()
        except UnicodeDecodeError as error:
            raise _MalformedError("topic is not UTF-8") from error

    def rest(self) -> bytes:
        return self.take(len(self.body) - self.at)

    @property
    def done(self) -> bool:
        return self.at >= len(self.body)


@dataclass(eq=False)
class _Client:
    writer: asyncio.StreamWriter
    max_queued_bytes: int
    client_id: str = ""
    subscriptions: dict[str, int] = field(default_factory=dict)
    will: _Message | None = None
    next_id: int = 0
    dropped: bool = False  # too slow a reader: cut off

    def send(self, data: bytes) -> None:
        writer = self.writer
        if writer.is_closing():
            return
        writer.write(data)
        if writer.transport.get_write_buffer_size() > self.max_queued_bytes:
            # A subscriber that does not read would hold every message sent to it.
            self.dropped = True
            writer.transport.abort()

    def deliver(self, message: _Message, granted: int, *, retained: bool) -> None:
        qos = min(message.qos, granted)
        flags = (qos << 1) | (1 if retained else 0)
        body = encode_utf8(message.topic)
        if qos:
            self.next_id = self.next_id % 0xFFFF + 1
            body += self.next_id.to_bytes(2, "big")
        self.send(encode_packet(PUBLISH, flags, body + message.payload))


class EmbeddedBroker:
    """Loopback-only broker; `port` is known after `start()` (0 picks a free one)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, limits: BrokerLimits | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.limits = limits or BrokerLimits()
        self._server: asyncio.Server | None = None
        self._clients: set[_Client] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._retained: dict[str, _Message] = {}
        self._retained_bytes = 0
        self._say = Throttle(log, interval_s=60.0)

    @property
    def connections(self) -> int:
        """Connections open now, before and after CONNECT."""
        return len(self._handlers)

    @property
    def retained_bytes(self) -> int:
        return self._retained_bytes

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for client in list(self._clients):
            client.writer.close()
        # Let each connection's handler end by itself: a handler cancelled at loop shutdown
        # makes 3.11's start_server callback log a spurious error.
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=2.0)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> EmbeddedBroker:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def publish(self, message: _Message) -> None:
        if message.retain:
            self._retain(message)
        for client in list(self._clients):
            granted = [
                q for p, q in client.subscriptions.items() if topic_matches(p, message.topic)
            ]
            if granted:
                client.deliver(message, max(granted), retained=False)

    def _retain(self, message: _Message) -> None:
        """Keep (or clear) a retained message, within the store's bounds."""
        old = self._retained.pop(message.topic, None)
        if old is not None:
            self._retained_bytes -= _size(old)
        if not message.payload:
            return
        limits = self.limits
        if (
            len(self._retained) >= limits.max_retained_topics
            or self._retained_bytes + _size(message) > limits.max_retained_bytes
        ):
            self._say.warning(
                "retained",
                "demo broker: the retained store is full (%d topics, %d bytes): not keeping %s",
                len(self._retained),
                self._retained_bytes,
                printable(message.topic),
            )
            return
        self._retained[message.topic] = message
        self._retained_bytes += _size(message)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        limits = self.limits
        client = _Client(writer, limits.max_queued_bytes)
        clean_exit = False
        if self.connections >= limits.max_connections:
            self._say.warning(
                "connections",
                "demo broker: %d connections already: refusing another",
                self.connections,
            )
            writer.transport.abort()
            return
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)
        try:
            keepalive = await self._handshake(reader, client)
            self._clients.add(client)
            # 3.1.1 section 3.1.2.10: silent for 1.5 keepalives is gone; never longer than
            # max_idle_s, and keepalive 0 is no exception.
            timeout = min(keepalive * 1.5 or limits.max_idle_s, limits.max_idle_s)
            while True:
                kind, flags, body = await asyncio.wait_for(
                    _read_packet(reader, limits.max_packet_bytes), timeout
                )
                if kind == DISCONNECT:
                    clean_exit = True
                    return
                self._handle(client, kind, flags, body)
                await writer.drain()
        except (
            _MalformedError,
            TimeoutError,
            ConnectionError,
            asyncio.IncompleteReadError,
        ) as error:
            log.debug("embedded broker: client %s gone: %s", printable(client.client_id), error)
        finally:
            if client.dropped:
                self._say.warning(
                    "slow",
                    "demo broker: client %s took too long to read: disconnected",
                    printable(client.client_id),
                )
            self._clients.discard(client)
            if client.will is not None and not clean_exit:
                self.publish(client.will)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _handshake(self, reader: asyncio.StreamReader, client: _Client) -> int:
        kind, _, body = await asyncio.wait_for(
            _read_packet(reader, self.limits.max_packet_bytes), self.limits.connect_timeout_s
        )
        if kind != CONNECT:
            raise _MalformedError("first packet is not CONNECT")
        fields = _Reader(body)
        fields.text()  # protocol name
        level = fields.take(1)[0]
        if level not in _SPOKEN_LEVELS:
            # 3.1.1 section 3.1.2.2: return code 1, then disconnect (close() sends it first).
            client.send(encode_packet(CONNACK, 0, _CONNACK_UNACCEPTABLE_PROTOCOL))
            raise _MalformedError(f"protocol level {level} is not spoken here")
        flags = fields.take(1)[0]
        keepalive = fields.u16()
        client.client_id = fields.text()
        if flags & 0x04:
            topic, payload = fields.text(), fields.blob()
            client.will = _Message(topic, payload, (flags >> 3) & 3, bool(flags & 0x20))
        client.send(encode_packet(CONNACK, 0, _CONNACK_ACCEPTED))
        return keepalive

    def _handle(self, client: _Client, kind: int, flags: int, body: bytes) -> None:
        fields = _Reader(body)
        if kind == PUBLISH:
            qos = (flags >> 1) & 3
            topic = fields.text()
            if qos:
                packet_id = fields.take(2)
                client.send(encode_packet(PUBACK, 0, packet_id))
            self.publish(_Message(topic, fields.rest(), min(qos, 1), bool(flags & 1)))
        elif kind == SUBSCRIBE:
            packet_id = fields.take(2)
            granted = bytearray()
            new: list[tuple[str, int]] = []
            while not fields.done:
                pattern, qos = fields.text(), min(fields.take(1)[0] & 3, 1)
                client.subscriptions[pattern] = qos
                granted.append(qos)
                new.append((pattern, qos))
            client.send(encode_packet(SUBACK, 0, packet_id + bytes(granted)))
            for pattern, qos in new:
                for message in list(self._retained.values()):
                    if topic_matches(pattern, message.topic):
                        client.deliver(message, qos, retained=True)
        elif kind == UNSUBSCRIBE:
            packet_id = fields.take(2)
            while not fields.done:
                client.subscriptions.pop(fields.text(), None)
            client.send(encode_packet(UNSUBACK, 0, packet_id))
        elif kind == PINGREQ:
            client.send(encode_packet(PINGRESP, 0, b""))
        # PUBACK from subscribers: nothing is resent, so nothing to do.


def _size(message: _Message) -> int:
    return len(message.topic) + len(message.payload)


async def _read_packet(reader: asyncio.StreamReader, max_bytes: int) -> tuple[int, int, bytes]:
    header = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    for _ in range(4):
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    else:
        raise _MalformedError("remaining length longer than four bytes")
    if length > max_bytes:
        raise _MalformedError(f"packet of {length} bytes is too large")
    return header >> 4, header & 0x0F, await reader.readexactly(length)
