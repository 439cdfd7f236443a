"""The MQTT connection: one logical connection to the broker, reconnecting forever.

paho-mqtt 2.x runs on the asyncio loop through `socket_bridge.SocketBridge`; only `connect`
(DNS, TCP, TLS handshake) blocks, in a worker thread. Every attempt gets a fresh paho client
(`paho_client.new_client`), so nothing queued for a lost connection is replayed, stale, on the
next one. Reconnection is ours, not paho's, for the backoff with jitter and for one clear line
per problem (`problems`); when to try again is `reconnect`'s policy.

MQTT 5 with a Maximum Packet Size, so the broker never sends us a message larger than we
accept (`paho_client`); 3.1.1 for a broker that cannot (`version`). Another client with our
client id is named as such rather than as one lost connection after another (`takeover`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from mepd.errors import MepdError
from mepd.publish.paho_client import MAX_PACKET_BYTES, Will, connect, new_client
from mepd.publish.problems import (
    ProblemLog,
    broker_address,
    closed_handshake_problem,
    connect_problem,
    lost_problem,
    mqtt311_warning,
    refusal_problem,
    silent_handshake_problem,
    takeover_problem,
    tls_setup_problem,
    unreadable_tls_file,
)
from mepd.publish.reconnect import FAST_RETRY_CAP_S, STABLE_AFTER_S, Outage, ReconnectPolicy
from mepd.publish.socket_bridge import SocketBridge
from mepd.publish.takeover import TakeoverWatch
from mepd.publish.version import Next, VersionChoice
from mepd.settings import MqttSettings
from mepd.text import printable

__all__ = ["FAST_RETRY_CAP_S", "STABLE_AFTER_S", "BrokerError", "MqttConnection", "Will"]

log = logging.getLogger(__name__)

# No CONNACK this long after the TCP (and TLS) connection is up: give up on this attempt.
CONNACK_TIMEOUT_S = 10.0


class BrokerError(MepdError):
    """The MQTT broker cannot be used (unreachable, refused us): the message says why."""


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
        max_packet_bytes: int = MAX_PACKET_BYTES,
    ) -> None:
        self._settings = settings
        self._client_id = client_id
        self._will = will
        self._subscriptions = tuple(subscriptions)
        self._on_connect_cb = on_connect
        self._on_message_cb = on_message
        self._reconnect = ReconnectPolicy(settings, rng or random.Random())  # noqa: S311 - jitter
        self._where = broker_address(settings)
        self._max_packet_bytes = max_packet_bytes
        self._version = VersionChoice()
        self._retry_now = False  # the next attempt follows at once (another MQTT version)
        # While two clients fight, a connection lasts at most the other's longest backoff.
        self._takeover = TakeoverWatch(
            clear_after_s=max(STABLE_AFTER_S, 2 * settings.reconnect_max_s)
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bridge = SocketBridge(on_closed=self._socket_closed)
        self._connected = False
        self._connected_at = 0.0
        self._refused: ReasonCode | None = None
        self._connack: asyncio.Future[bool] | None = None
        self._closed: asyncio.Event = asyncio.Event()
        self._acks: dict[int, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._up = asyncio.Event()
        self._stopping = False
        self._problems = ProblemLog(log)
        self._say = self._problems.say  # also for unexpected errors, throttled per kind

    # --- public ------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def problem(self) -> str | None:
        """The current connection problem in one line; None while connected, unless another
        client keeps taking the connection over."""
        return self._problems.current

    @property
    def where(self) -> str:
        return self._where

    async def start(self) -> None:
        """Start connecting in the background; returns at once."""
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.create_task(self._run(), name="mqtt-connection")

    async def wait_connected(self, timeout_s: float) -> bool:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), timeout_s)
        return self._connected

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        *,
        retain: bool = False,
        qos: int = 0,
        on_acked: Callable[[], None] | None = None,
    ) -> int | None:
        """Queue one message; never blocks. None: not connected, the message is dropped.
        `on_acked` (QoS 1): called when the broker acknowledged it, never if it is lost."""
        client = self._bridge.client
        if not self._connected or client is None:
            return None
        info = client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return None
        if qos > 0 and self._loop is not None:
            future = self._acks[info.mid] = self._loop.create_future()
            if on_acked is not None:
                future.add_done_callback(lambda done: None if done.cancelled() else on_acked())
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
        client = self._bridge.client
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
        outage = Outage(self._reconnect, stable_after_s=STABLE_AFTER_S)
        loop = asyncio.get_running_loop()
        while True:
            try:
                lasted = await self._attempt()
            except Exception:  # a bug here must not end the reconnecting for good
                self._say.exception(
                    "attempt", "unexpected error in the MQTT connection to %s", self._where
                )
                self._abandon()
                lasted = None
            if self._stopped():
                return
            if self._retry_now:
                self._retry_now = False
                continue
            delay = outage.next_delay(lasted, loop.time(), self._refused)
            log.debug("next connection attempt to %s in %.1f s", self._where, delay)
            await asyncio.sleep(delay)

    def retry_delay(
        self, failures: int, *, credentials_refused: bool = False, fast: bool = False
    ) -> float:
        """Seconds before the next attempt (`reconnect.ReconnectPolicy.delay`)."""
        return self._reconnect.delay(failures, credentials_refused=credentials_refused, fast=fast)

    def _stopped(self) -> bool:
        return self._stopping  # a method: mypy would keep the narrowing across an await

    async def _attempt(self) -> float | None:
        """Connect, and stay until the connection ends: how long it was up (None: never)."""
        loop = asyncio.get_running_loop()
        self._refused = None
        self._closed = asyncio.Event()
        self._connack = loop.create_future()
        unreadable = unreadable_tls_file(self._settings.tls)
        if unreadable is not None:
            self._problems.report(unreadable)
            return None
        try:
            client = new_client(self._settings, self._client_id, self._will, self._version.protocol)
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            self._problems.report(tls_setup_problem(self._settings, error))
            return None
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        self._connected_at = 0.0
        self._bridge.attach(client)
        try:
            await asyncio.to_thread(connect, client, self._settings, self._max_packet_bytes)
        except (OSError, ValueError) as error:
            self._problems.report(connect_problem(self._settings, error))
            self._abandon()
            return None
        misc = asyncio.create_task(self._bridge.housekeeping(client))
        closed = asyncio.create_task(self._closed.wait())
        try:
            done, _ = await asyncio.wait(
                (self._connack, closed),
                timeout=CONNACK_TIMEOUT_S,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                self._problems.report(silent_handshake_problem(self._settings, CONNACK_TIMEOUT_S))
                self._bridge.shutdown(client)
            elif not self._connack.done():
                self._unanswered()
            elif self._connack.result():
                await self._hold(closed)
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

    def _unanswered(self) -> None:
        if self._version.unanswered() is Next.RETRY_WITH_311:
            self._retry_now = True
            log.debug("%s closed the connection unanswered: trying MQTT 3.1.1", self._where)
        else:
            self._problems.report(closed_handshake_problem(self._settings))

    async def _hold(self, closed: asyncio.Task[Any]) -> None:
        """While a takeover is suspected: once this connection has held long enough, it is
        over, and said so."""
        if not self._takeover.suspected:
            return
        done, _ = await asyncio.wait((closed,), timeout=self._takeover.clear_after_s)
        if not done and self._connected:
            self._takeover.clear()
            self._problems.current = None
            self._say.info(
                "held",
                "the connection to the MQTT broker at %s has held for %.0f s: "
                "no other client is taking it over",
                self._where,
                self._takeover.clear_after_s,
            )

    def _abandon(self) -> None:
        """Forget the current client; a socket it still holds is closed."""
        self._bridge.detach()
        self._connected = False
        for future in self._acks.values():
            future.cancel()
        self._acks.clear()
        self._closed.set()

    def _socket_closed(self) -> None:
        self._closed.set()

    # --- paho's protocol callbacks (loop thread) -----------------------------------------

    def _on_connect(
        self,
        client: paho.Client,
        _userdata: Any,
        _flags: Any,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        if client is not self._bridge.client:
            return
        step = self._version.answered(reason)
        if step is Next.RETRY_WITH_311 or reason.is_failure:
            if step is Next.RETRY_WITH_311:
                self._retry_now = True
                log.debug("%s refused MQTT 5 (%s): trying MQTT 3.1.1", self._where, reason)
            else:
                self._refused = reason
                self._problems.report(refusal_problem(self._settings, reason))
            if self._connack is not None and not self._connack.done():
                self._connack.set_result(False)
            return
        assert self._loop is not None
        self._connected = True
        self._connected_at = self._loop.time()
        self._say_connected(step)
        for topic in self._subscriptions:
            client.subscribe(topic, qos=0)
        if self._connack is not None and not self._connack.done():
            self._connack.set_result(True)
        self._up.set()
        if self._on_connect_cb is not None:
            try:
                self._on_connect_cb()
            except Exception:
                self._say.exception("announce", "error while announcing to the MQTT broker")

    def _say_connected(self, step: Next) -> None:
        bounded = self._settings.broker_max_packet_bytes
        if step is Next.FELL_BACK and (bounded is None or bounded > self._max_packet_bytes):
            log.warning("%s", mqtt311_warning(self._settings, self._max_packet_bytes))
        # A suspected takeover stands until a connection holds (_hold).
        self._problems.connected(self._where, takeover_suspected=self._takeover.suspected)

    def _on_disconnect(
        self,
        client: paho.Client,
        _userdata: Any,
        flags: paho.DisconnectFlags,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        if client is not self._bridge.client:
            return
        was_connected, self._connected = self._connected, False
        self._up.clear()
        if was_connected and not self._stopping:
            assert self._loop is not None
            lasted = self._loop.time() - self._connected_at
            from_broker = flags.is_disconnect_packet_from_server
            if self._takeover.ended(lasted, reason, from_broker=from_broker):
                problem = takeover_problem(
                    self._settings, self._client_id, exact=self._takeover.exact
                )
            else:
                problem = lost_problem(self._settings, reason)
            self._problems.report(problem, level=logging.WARNING)
        self._closed.set()

    def _on_message(self, client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        if client is not self._bridge.client or self._on_message_cb is None:
            return
        try:
            self._on_message_cb(message.topic, bytes(message.payload), bool(message.retain))
        except Exception:
            self._say.exception(
                "message", "error while handling a message on %s", printable(message.topic)
            )

    def _on_publish(
        self, _client: paho.Client, _userdata: Any, mid: int, _reason: Any, _props: Any
    ) -> None:
        future = self._acks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(None)
