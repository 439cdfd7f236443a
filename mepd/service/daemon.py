"""`mepd run`: one poller per meter, one publisher, and systemd told the truth.

The daemon owns nothing the layers below do not: it builds transports and pollers from the
configuration, hands every poller's events to the publisher, and pets systemd's watchdog
only while every poll loop keeps its promises (a cycle ended, or a deliberate backoff is
still running). A poll loop that dies of a bug ends the daemon with an error, so systemd
restarts it; a meter that does not answer never does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from mepd import __version__
from mepd.config.resolved import Config
from mepd.drivers.gpio import LinkControl, link_control_for
from mepd.drivers.serial import SerialPort
from mepd.engine.poller import Poller
from mepd.errors import MepdError
from mepd.publish.discovery import ReadPeriods
from mepd.publish.gateway import detect_gateway
from mepd.publish.ha_pending import PENDING_FILE_NAME, PendingFile
from mepd.publish.ha_statistics import StatisticsBackfill
from mepd.publish.publisher import Publisher
from mepd.readings import Event, LinkStatus, MeterIdentity
from mepd.service.notify import Notifier
from mepd.settings import MqttSettings

log = logging.getLogger(__name__)

# A poll loop this far past its promised progress is stalled. Session I/O is bounded by the
# guide's timeouts (p.21: 500 ms per answer, a handful of retries), a power cycle by 2 s.
STALL_ALLOWANCE_S = 30.0
# Without a systemd watchdog the check still runs, so a stall is logged.
CHECK_EVERY_S = 5.0
CANCEL_RETRY_S = 2.0


@dataclass
class _MeterStatus:
    label: str
    serial: str | None = None
    up: bool | None = None
    reason: str = "starting"

    def line(self) -> str:
        name = self.serial or self.label
        if self.up is None:
            return f"{name}: connecting"
        return f"{name}: {'answers' if self.up else self.reason}"


@dataclass
class Watchdog:
    """Pets systemd only while every poll loop is within its promise."""

    notifier: Notifier
    pollers: Sequence[Poller]
    allowance_s: float = STALL_ALLOWANCE_S
    stalled: set[int] = field(default_factory=set)

    def check(self, now: float) -> bool:
        healthy = True
        for index, poller in enumerate(self.pollers):
            overdue = poller.overdue_s(now) - self.allowance_s
            if overdue > 0:
                healthy = False
                if index not in self.stalled:
                    self.stalled.add(index)
                    log.error(
                        "the poll loop for %s has made no progress for %.0f s; "
                        "systemd's watchdog will restart mepd",
                        poller.transport.description,
                        overdue + self.allowance_s,
                    )
            else:
                self.stalled.discard(index)
        if healthy:
            self.notifier.watchdog()
        return healthy


class Daemon:
    """Runs the poll loops; its `observe` taps feed systemd's STATUS= line."""

    def __init__(self, notifier: Notifier, labels: Sequence[str]) -> None:
        self.notifier = notifier
        self._status = [_MeterStatus(label) for label in labels]

    def observe(self, index: int) -> Callable[[Event], None]:
        """Tap one meter's events for systemd's STATUS= line."""

        def tap(event: Event) -> None:
            status = self._status[index]
            if isinstance(event, MeterIdentity):
                status.serial = event.serial
            elif isinstance(event, LinkStatus):
                status.up, status.reason = event.up, event.reason
                self.notifier.status(self.status_line())

        return tap

    def status_line(self) -> str:
        return "; ".join(status.line() for status in self._status)

    async def run(self, pollers: Sequence[Poller], stop: asyncio.Event) -> None:
        """Poll every meter until `stop` is set; raise if a poll loop dies of a bug."""
        loop = asyncio.get_running_loop()
        watchdog = Watchdog(self.notifier, pollers)
        tasks = [
            asyncio.create_task(poller.run(), name=f"poll {poller.transport.description}")
            for poller in pollers
        ]
        stopper = asyncio.create_task(stop.wait(), name="stop")
        self.notifier.ready()
        self.notifier.status(self.status_line())
        interval = min(self.notifier.watchdog_interval_s or CHECK_EVERY_S, CHECK_EVERY_S)
        try:
            while not stop.is_set():
                done, _ = await asyncio.wait(
                    [*tasks, stopper], timeout=interval, return_when=asyncio.FIRST_COMPLETED
                )
                dead = [task for task in tasks if task in done]
                if dead:
                    _raise_from(dead[0])
                watchdog.check(loop.time())
        finally:
            self.notifier.stopping()
            stopper.cancel()
            for poller in pollers:
                poller.request_stop()
            await _cancel_all([*tasks, stopper])


async def _cancel_all(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Cancel until done: a cancellation that races with I/O completing can be lost."""
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=CANCEL_RETRY_S)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved


def _raise_from(task: asyncio.Task[None]) -> None:
    error = task.exception() if not task.cancelled() else None
    if isinstance(error, MepdError):
        raise error
    raise RuntimeError(f"{task.get_name()} ended unexpectedly") from error


@contextlib.contextmanager
def stop_on_signals(
    stop: asyncio.Event, received: list[int] | None = None
) -> Iterator[asyncio.Event]:
    """SIGTERM (systemd) and SIGINT (Ctrl-C) end the daemon cleanly, never mid-frame.

    `received` collects the signals that came (`mepd run` exits 130 after a SIGINT).
    """
    loop = asyncio.get_running_loop()
    caught = [] if received is None else received

    def on_signal(signum: int) -> None:
        caught.append(signum)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        yield stop
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def serve(
    config: Config, *, notifier: Notifier | None = None, stop: asyncio.Event | None = None
) -> int | None:
    """`mepd run`: poll every configured meter and publish until SIGTERM, SIGINT or `stop`.

    Returns the signal that stopped it, None when `stop` was set otherwise.
    """
    notifier = notifier or Notifier()
    stop = stop or asyncio.Event()
    gateway = detect_gateway(config.discovery.gateway_id)
    publisher = Publisher(config.mqtt, config.discovery, gateway)
    daemon = Daemon(notifier, [meter.name for meter in config.meters])
    controls: list[LinkControl] = []
    pollers: list[Poller] = []
    backfill = statistics_backfill(config)
    backfill_task: asyncio.Task[None] | None = None
    received: list[int] = []
    # Handlers first: a process started in the background inherits SIGINT ignored, and the
    # started line below is what users, scripts and tests wait for before they signal.
    with stop_on_signals(stop, received):
        try:
            for index, meter in enumerate(config.meters):
                port = SerialPort(meter.port, meter.baud, ir_head=meter.interface == "optical")
                # The HAT parks TXD in a break and flushes the power-up garbage through the port.
                control = link_control_for(meter.gpio, auto=meter.gpio_auto, uart=port)
                controls.append(control)
                periods = ReadPeriods(meter.schedule.present_s, meter.schedule.energy_s)
                consumers = [daemon.observe(index), publisher.feed(periods, meter.name)]
                if backfill is not None:
                    consumers.append(backfill.feed(meter.name))
                emit = _fan_out(*consumers)
                pollers.append(Poller(meter.settings(), port, control, emit))
            log.info(
                "mepd %s: %d meter(s), MQTT %s, gateway id %s",
                __version__,
                len(pollers),
                describe_broker(config.mqtt),
                gateway.gateway_id,
            )
            await publisher.start()
            if backfill is not None:
                backfill_task = asyncio.create_task(backfill.run(), name="HA statistics")
            await daemon.run(pollers, stop)
            log.info("stopping: publishing offline and closing the ports")
            return received[0] if received else None
        finally:
            if backfill_task is not None:
                await _cancel_all([backfill_task])
            if backfill is not None:
                backfill.save(force=True)  # also when its task never got to run
            await publisher.stop()
            for control in controls:
                control.close()


def statistics_backfill(config: Config) -> StatisticsBackfill | None:
    """Opt-in (`[homeassistant.statistics]`): every meter's load-profile intervals also go to
    Home Assistant's statistics, in their own task; the hours still waiting for Home Assistant
    are kept in the state directory, so a restart does not lose them."""
    if config.ha_statistics is None:
        return None
    pending = PendingFile(config.state_directory / PENDING_FILE_NAME)
    return StatisticsBackfill(config.ha_statistics, pending=pending)


def _fan_out(*consumers: Callable[[Event], None]) -> Callable[[Event], None]:
    def emit(event: Event) -> None:
        for consumer in consumers:
            consumer(event)

    return emit


def describe_broker(mqtt: MqttSettings) -> str:
    """`mqtt[s]://user@host:port` for logs: never the password."""
    scheme = "mqtts" if mqtt.tls else "mqtt"
    user = f"{mqtt.username}@" if mqtt.username else ""
    host = f"[{mqtt.host}]" if ":" in mqtt.host else mqtt.host
    return f"{scheme}://{user}{host}:{mqtt.effective_port}"
