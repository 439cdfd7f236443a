"""The MQTT connection: paho-mqtt 2.x driven from the asyncio loop, reconnecting forever.

Why paho's external-loop API (`add_reader`/`add_writer` on its socket, `loop_misc` once a
second) rather than `loop_start()`'s thread: the loop thread is the only one that touches a
connected client, so `publish` from a poller's emit callback is a plain non-blocking call (paho
queues the packet and asks for a writer) with no locks and no thread hops per message, and a
Pi Zero runs one thread fewer. Only `connect` blocks (DNS, TCP, TLS handshake); it runs in a
worker thread, and the socket callbacks paho fires there are moved onto the loop with
`call_soon_threadsafe`. Reconnection is ours, not paho's, for the backoff with jitter and for
one clear line per problem.

Every attempt gets a fresh paho client, so nothing queued for a lost connection (a QoS 1
publish awaiting its PUBACK) is replayed, stale, on the next one.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from mepd.backoff import Backoff
from mepd.errors import MepdError
from mepd.settings import MqttSettings

log = logging.getLogger(__name__)

# No CONNACK this long after the TCP (and TLS) connection is up: give up on this attempt.
CONNACK_TIMEOUT_S = 10.0
# A connection that lasted this long was a success: the backoff starts again from the bottom.
STABLE_AFTER_S = 30.0
MISC_INTERVAL_S = 1.0
# Enough doublings to reach any cap (2 ** 30 s is decades); beyond it, floats overflow.
_CAPPED = 30
# CONNACK codes that mean the credentials (MQTT 3.1.1: 4, 5; MQTT 5: 134, 135).
_CREDENTIALS_REFUSED = {4, 5, 134, 135}


class BrokerError(MepdError):
    """The MQTT broker cannot be used (unreachable, refused us): the message says why."""


@dataclass(frozen=True)
class Will:
    topic: str
    payload: str


class MqttConnection:
    """One logical connection to the broker: connects in the background, forever."""

    def __init__(
        self,
        settings: MqttSettings,
        client_id: str,
        *,
        will: Will | None = None,
        subscriptions: Sequence[str] = (),
        on_connect: Callable[[], None] | None = None,
        on_message: Callable[[str, bytes, bool], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._client_id = client_id
        self._will = will
        self._subscriptions = tuple(subscriptions)
        self._on_connect_cb = on_connect
        self._on_message_cb = on_message
        self._rng = rng or random.Random()  # noqa: S311 - backoff jitter
        self._backoff = Backoff(
            first_s=settings.reconnect_min_s, cap_s=settings.reconnect_max_s, jitter=0.2
        )
        self._where = f"{settings.host}:{settings.effective_port}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._client: paho.Client | None = None
        self._fd: int | None = None
        self._connected = False
        self._connected_at = 0.0
        self._refused: ReasonCode | None = None
        self._connack: asyncio.Future[bool] | None = None
        self._closed: asyncio.Event = asyncio.Event()
        self._acks: dict[int, asyncio.Future[None]] = {}
        self._problem: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._up = asyncio.Event()
        self._stopping = False

    # --- public ------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def problem(self) -> str | None:
        """The current connection problem in one line; None while connected."""
        return self._problem

    @property
    def where(self) -> str:
        return self._where

    async def start(self) -> None:
        """Start connecting in the background; returns at once."""
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._thread = threading.get_ident()
            self._task = asyncio.create_task(self._run(), name="mqtt-connection")

    async def wait_connected(self, timeout_s: float) -> bool:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), timeout_s)
        return self._connected

    def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int = 0
    ) -> int | None:
        """Queue one message; never blocks. None: not connected, the message is dropped."""
        client = self._client
        if not self._connected or client is None:
            return None
        info = client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return None
        if qos > 0 and self._loop is not None:
            self._acks[info.mid] = self._loop.create_future()
        return info.mid

    async def flush(self, mids: Iterable[int | None], timeout_s: float) -> bool:
        """Wait until the broker acknowledged these QoS 1 messages; False if not all were."""
        waiting = [self._acks[mid] for mid in mids if mid is not None and mid in self._acks]
        if not waiting:
            return True
        done, _ = await asyncio.wait(waiting, timeout=timeout_s)
        return len(done) == len(waiting) and all(not f.cancelled() for f in done)

    async def stop(self, timeout_s: float = 2.0) -> None:
        """Disconnect cleanly (the broker drops the Last Will) and stop reconnecting."""
        self._stopping = True
        client = self._client
        if client is not None and self._connected:
            closed = self._closed
            client.disconnect()  # paho sends DISCONNECT through our writer, then closes
            with suppress(TimeoutError):
                await asyncio.wait_for(closed.wait(), timeout_s)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._abandon()

    # --- the connection loop -------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                lasted = await self._attempt()
            except Exception:  # a bug here must not end the reconnecting for good
                log.exception("unexpected error in the MQTT connection to %s", self._where)
                self._abandon()
                lasted = None
            if self._stopped():
                return
            if lasted is not None and lasted >= STABLE_AFTER_S:
                failures = 0
            refused = self._refused is not None and self._refused.value in _CREDENTIALS_REFUSED
            delay = self.retry_delay(failures, credentials_refused=refused)
            failures += 1
            log.debug("next connection attempt to %s in %.1f s", self._where, delay)
            await asyncio.sleep(delay)

    def retry_delay(self, failures: int, *, credentials_refused: bool = False) -> float:
        """Seconds before the next attempt: doubling from reconnect_min_s up to
        reconnect_max_s, +-20 % jitter so gateways that lost the same broker do not return
        in step. Refused credentials do not heal by themselves: straight to the slowest."""
        attempt = _CAPPED if credentials_refused else min(failures, _CAPPED)
        return self._backoff.delay(attempt, self._rng)

    def _stopped(self) -> bool:
        return self._stopping  # a method: mypy would keep the narrowing across an await

    async def _attempt(self) -> float | None:
        """Connect, and stay until the connection ends: how long it was up (None: never)."""
        loop = asyncio.get_running_loop()
        self._refused = None
        self._closed = asyncio.Event()
        self._connack = loop.create_future()
        unreadable = self._unreadable_tls_file()
        if unreadable is not None:
            self._report(unreadable)
            return None
        try:
            client = self._new_client()
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            self._report(
                f"cannot set up TLS for the MQTT broker at {self._where} ({error}); check "
                "[mqtt.tls] ca_file, cert_file and key_file"
            )
            return None
        self._client = client
        settings = self._settings
        try:
            await asyncio.to_thread(
                client.connect, settings.host, settings.effective_port, settings.keepalive_s
            )
        except (OSError, ValueError) as error:
            self._report(self._connect_problem(error))
            self._abandon()
            return None
        misc = asyncio.create_task(self._misc(client))
        closed = asyncio.create_task(self._closed.wait())
        try:
            done, _ = await asyncio.wait(
                (self._connack, closed),
                timeout=CONNACK_TIMEOUT_S,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                self._report(
                    f"the MQTT broker at {self._where} accepted the connection but did not "
                    f"answer the MQTT handshake within {CONNACK_TIMEOUT_S:.0f} s; check that "
                    f"[mqtt] port is an MQTT port (and whether it expects TLS)"
                )
                self._shutdown_socket(client)
            elif not self._connack.done():
                self._report(
                    f"the MQTT broker at {self._where} closed the connection before answering "
                    "the MQTT handshake; check [mqtt.tls] (does it require a client "
                    "certificate?) and the broker's log"
                )
            await closed
        finally:
            closed.cancel()
            misc.cancel()
            if self._connected:
                self._connected = False
            self._up.clear()
            self._abandon()
        if self._connected_at:
            return loop.time() - self._connected_at
        return None

    def _new_client(self) -> paho.Client:
        settings = self._settings
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            protocol=MQTTProtocolVersion.MQTTv311,
            clean_session=True,
        )
        if settings.username is not None:
            client.username_pw_set(settings.username, settings.password)
        if settings.tls is not None:
            tls = settings.tls
            client.tls_set(
                ca_certs=str(tls.ca_file) if tls.ca_file else None,
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
            if not tls.verify_hostname:
                client.tls_insecure_set(True)
        if self._will is not None:
            client.will_set(self._will.topic, self._will.payload, qos=1, retain=True)
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._register_write
        client.on_socket_unregister_write = self._unregister_write
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        self._connected_at = 0.0
        return client

    async def _misc(self, client: paho.Client) -> None:
        """Keepalive pings and their timeout: paho's housekeeping, once a second."""
        while True:
            await asyncio.sleep(MISC_INTERVAL_S)
            if client is self._client and client.socket() is not None:
                client.loop_misc()

    def _abandon(self) -> None:
        """Forget the current client; a socket it still holds is closed."""
        client, self._client = self._client, None
        self._connected = False
        for future in self._acks.values():
            future.cancel()
        self._acks.clear()
        self._forget_fd()
        if client is not None:
            sock = client.socket()
            if sock is not None:
                with suppress(OSError):
                    sock.close()
        self._closed.set()

    # --- paho's socket callbacks (any thread) ------------------------------------------------

    def _on_loop(self, function: Callable[..., None], *args: Any) -> None:
        if self._loop is None:
            return
        if threading.get_ident() == self._thread:
            function(*args)
        else:
            self._loop.call_soon_threadsafe(function, *args)

    def _socket_open(self, client: paho.Client, _userdata: Any, sock: Any) -> None:
        # paho leaves Nagle on: after a large discovery config it held the next small state
        # publishes for up to ~40 ms (bench/: p99 overhead 36.6 -> 1.6 ms with 8 meters).
        with suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._on_loop(self._add_reader, client, sock, sock.fileno())

    def _socket_close(self, client: paho.Client, _userdata: Any, _sock: Any) -> None:
        self._on_loop(self._closed_socket, client)

    def _register_write(self, client: paho.Client, _userdata: Any, _sock: Any) -> None:
        self._on_loop(self._add_writer, client)

    def _unregister_write(self, client: paho.Client, _userdata: Any, _sock: Any) -> None:
        self._on_loop(self._remove_writer, client)

    def _add_reader(self, client: paho.Client, sock: Any, fd: int) -> None:
        assert self._loop is not None
        if client is not self._client:
            with suppress(OSError):
                sock.close()  # an attempt given up on (stop() during connect)
            return
        self._fd = fd
        self._loop.add_reader(fd, self._readable, client)

    def _add_writer(self, client: paho.Client) -> None:
        if client is self._client and self._fd is not None and self._loop is not None:
            self._loop.add_writer(self._fd, self._writable, client)

    def _remove_writer(self, client: paho.Client) -> None:
        if client is self._client and self._fd is not None and self._loop is not None:
            self._loop.remove_writer(self._fd)

    def _closed_socket(self, client: paho.Client) -> None:
        if client is self._client:
            self._forget_fd()
            self._closed.set()

    def _forget_fd(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None and self._loop is not None:
            self._loop.remove_reader(fd)
            self._loop.remove_writer(fd)

    def _readable(self, client: paho.Client) -> None:
        # TLS may hold whole records in its buffer, where select() cannot see them.
        while client is self._client:
            if client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return
            sock = client.socket()
            pending = getattr(sock, "pending", None)
            if sock is None or pending is None or pending() == 0:
                return

    def _writable(self, client: paho.Client) -> None:
        if client is self._client:
            client.loop_write()

    def _shutdown_socket(self, client: paho.Client) -> None:
        """Make paho see the end of the connection at its next read."""
        shutdown = getattr(client.socket(), "shutdown", None)
        if shutdown is not None:
            with suppress(OSError):
                shutdown(socket.SHUT_RDWR)

    # --- paho's protocol callbacks (loop thread) -----------------------------------------

    def _on_connect(
        self,
        client: paho.Client,
        _userdata: Any,
        _flags: Any,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        if client is not self._client:
            return
        if reason.is_failure:
            self._refused = reason
            self._report(self._refusal_problem(reason))
            if self._connack is not None and not self._connack.done():
                self._connack.set_result(False)
            return
        assert self._loop is not None
        self._connected = True
        self._connected_at = self._loop.time()
        if self._problem is not None:
            log.info("connected to the MQTT broker at %s", self._where)
        else:
            log.debug("connected to the MQTT broker at %s", self._where)
        self._problem = None
        for topic in self._subscriptions:
            client.subscribe(topic, qos=0)
        if self._connack is not None and not self._connack.done():
            self._connack.set_result(True)
        self._up.set()
        if self._on_connect_cb is not None:
            try:
                self._on_connect_cb()
            except Exception:
                log.exception("error while announcing to the MQTT broker")

    def _on_disconnect(
        self,
        client: paho.Client,
        _userdata: Any,
        _flags: Any,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        if client is not self._client:
            return
        was_connected, self._connected = self._connected, False
        self._up.clear()
        if was_connected and not self._stopping:
            self._report(
                f"lost the connection to the MQTT broker at {self._where} ({reason}); reconnecting",
                level=logging.WARNING,
            )
        self._closed.set()

    def _on_message(self, client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        if client is not self._client or self._on_message_cb is None:
            return
        try:
            self._on_message_cb(message.topic, bytes(message.payload), bool(message.retain))
        except Exception:
            log.exception("error while handling a message on %s", message.topic)

    def _on_publish(
        self, _client: paho.Client, _userdata: Any, mid: int, _reason: Any, _props: Any
    ) -> None:
        future = self._acks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(None)

    # --- problems, in one line each ------------------------------------------------------------

    def _report(self, problem: str, *, level: int = logging.ERROR) -> None:
        if problem != self._problem:
            log.log(level, "%s", problem)
        else:
            log.debug("%s", problem)
        self._problem = problem

    def _refusal_problem(self, reason: ReasonCode) -> str:
        if reason.value in _CREDENTIALS_REFUSED:
            if self._settings.username is None:
                return (
                    f"the MQTT broker at {self._where} wants a username and password "
                    f"(CONNACK: {reason}); set [mqtt] username and password"
                )
            return (
                f"the MQTT broker at {self._where} refused the username/password "
                f"(CONNACK: {reason}); check [mqtt] username and password"
            )
        return (
            f"the MQTT broker at {self._where} refused the connection (CONNACK: {reason}); "
            "check [mqtt] client_id and the broker's log"
        )

    def _connect_problem(self, error: BaseException) -> str:
        where = self._where
        if isinstance(error, socket.gaierror):
            return (
                f"cannot resolve the MQTT broker's host name {self._settings.host!r} "
                f"({error.strerror}); check [mqtt] host"
            )
        if isinstance(error, ssl.SSLError):
            return self._tls_problem(error)
        if isinstance(error, ConnectionRefusedError):
            return (
                f"nothing accepts connections at {where} (connection refused); is the MQTT "
                "broker running, and are [mqtt] host and port right?"
            )
        if isinstance(error, TimeoutError):
            return (
                f"no answer from the MQTT broker at {where} in time; check [mqtt] host and "
                "port and the network"
            )
        if isinstance(error, OSError):
            return f"cannot connect to the MQTT broker at {where}: {error.strerror or error}"
        return f"cannot connect to the MQTT broker at {where}: {error}"

    def _tls_problem(self, error: ssl.SSLError) -> str:
        if isinstance(error, ssl.SSLCertVerificationError):
            store = self._settings.tls.ca_file if self._settings.tls else None
            return (
                f"the MQTT broker at {self._where} presented a certificate that does not "
                f"verify against {store or 'the system CA store'} ({error.verify_message}); "
                "check [mqtt.tls] ca_file and that [mqtt] host is a name in the certificate"
            )
        return (
            f"TLS with the MQTT broker at {self._where} failed ({error.reason or error}); "
            "check [mqtt.tls] and that the port expects TLS"
        )

    def _unreadable_tls_file(self) -> str | None:
        tls = self._settings.tls
        if tls is None:
            return None
        for name, path in (
            ("ca_file", tls.ca_file),
            ("cert_file", tls.cert_file),
            ("key_file", tls.key_file),
        ):
            if path is None:
                continue
            try:
                path.open("rb").close()
            except OSError as error:
                return f"cannot read [mqtt.tls] {name} {path} ({error.strerror})"
        return None
