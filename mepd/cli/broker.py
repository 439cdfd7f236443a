"""A small MQTT 3.1.1 broker for `mepd demo` on a machine that has no broker.

The demo must show the whole path, MQTT included, on a fresh laptop without root, so it
cannot count on Mosquitto. This broker does what mepd and a subscriber need: CONNECT with a
will, QoS 0 and 1 publish, retained messages, wildcard subscriptions, keepalive. It binds to
loopback only, has no authentication and keeps nothing on disk: it is a demo, never a
production broker. Sessions are always clean.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14
_MAX_PACKET = 1 << 20


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


def _encode_length(length: int) -> bytes:
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def _packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + _encode_length(len(body)) + body


def _utf8(text: str) -> bytes:
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
    client_id: str = ""
    subscriptions: dict[str, int] = field(default_factory=dict)
    will: _Message | None = None
    next_id: int = 0

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def deliver(self, message: _Message, granted: int, *, retained: bool) -> None:
        qos = min(message.qos, granted)
        flags = (qos << 1) | (1 if retained else 0)
        body = _utf8(message.topic)
        if qos:
            self.next_id = self.next_id % 0xFFFF + 1
            body += self.next_id.to_bytes(2, "big")
        self.send(_packet(PUBLISH, flags, body + message.payload))


class EmbeddedBroker:
    """Loopback-only broker; `port` is known after `start()` (0 picks a free one)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._clients: set[_Client] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._retained: dict[str, _Message] = {}

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
            if message.payload:
                self._retained[message.topic] = message
            else:
                self._retained.pop(message.topic, None)
        for client in self._clients:
            granted = [
                q for p, q in client.subscriptions.items() if topic_matches(p, message.topic)
            ]
            if granted:
                client.deliver(message, max(granted), retained=False)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(writer)
        clean_exit = False
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)
        try:
            keepalive = await self._handshake(reader, client)
            self._clients.add(client)
            while True:
                timeout = keepalive * 1.5 if keepalive else None
                kind, flags, body = await asyncio.wait_for(_read_packet(reader), timeout)
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
            log.debug("embedded broker: client %r gone: %s", client.client_id, error)
        finally:
            self._clients.discard(client)
            if client.will is not None and not clean_exit:
                self.publish(client.will)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _handshake(self, reader: asyncio.StreamReader, client: _Client) -> int:
        kind, _, body = await asyncio.wait_for(_read_packet(reader), 10.0)
        if kind != CONNECT:
            raise _MalformedError("first packet is not CONNECT")
        fields = _Reader(body)
        fields.text()  # protocol name
        fields.take(1)  # level: 3.1.1 (4) or 3.1 (3), both answered the same way
        flags = fields.take(1)[0]
        keepalive = fields.u16()
        client.client_id = fields.text()
        if flags & 0x04:
            topic, payload = fields.text(), fields.blob()
            client.will = _Message(topic, payload, (flags >> 3) & 3, bool(flags & 0x20))
        client.send(_packet(CONNACK, 0, b"\x00\x00"))
        return keepalive

    def _handle(self, client: _Client, kind: int, flags: int, body: bytes) -> None:
        fields = _Reader(body)
        if kind == PUBLISH:
            qos = (flags >> 1) & 3
            topic = fields.text()
            if qos:
                packet_id = fields.take(2)
                client.send(_packet(PUBACK, 0, packet_id))
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
            client.send(_packet(SUBACK, 0, packet_id + bytes(granted)))
            for pattern, qos in new:
                for message in list(self._retained.values()):
                    if topic_matches(pattern, message.topic):
                        client.deliver(message, qos, retained=True)
        elif kind == UNSUBSCRIBE:
            packet_id = fields.take(2)
            while not fields.done:
                client.subscriptions.pop(fields.text(), None)
            client.send(_packet(UNSUBACK, 0, packet_id))
        elif kind == PINGREQ:
            client.send(_packet(PINGRESP, 0, b""))
        # PUBACK from subscribers: nothing is resent, so nothing to do.


async def _read_packet(reader: asyncio.StreamReader) -> tuple[int, int, bytes]:
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
    if length > _MAX_PACKET:
        raise _MalformedError(f"packet of {length} bytes is too large")
    return header >> 4, header & 0x0F, await reader.readexactly(length)
