"""The demo's work: a simulated meter, a broker, the daemon, and a subscriber that prints.

A simulated meter on a pseudo-terminal, the daemon exactly as `mepd run` builds it (serial
driver, poller, publisher, discovery), a broker, and a subscriber that prints each reading as
it arrives from the broker. The broker is the configured one if it answers, else mepd's
embedded demo broker on a free loopback port, and the demo says which. `mepd.cli.demo` parses
the options; this module knows no argparse.

On a real broker (a Home Assistant's) the demo takes its simulated devices away again when it
stops, unless told to keep them; and it prints only what is published while it runs, never a
retained status left by an earlier run.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TextIO

from mepd.cli.broker import EmbeddedBroker
from mepd.config.resolved import Config
from mepd.drivers.simulator.driver import PtyMeter
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.profiles import PROFILES
from mepd.protocol import MepKey
from mepd.service.daemon import serve
from mepd.text import printable

_CONNECT_TIMEOUT_S = 1.0
READINGS = ("present", "energy")  # the topic leaves that carry a reading

log = logging.getLogger(__name__)


async def demo(
    config: Config,
    out: TextIO,
    *,
    real_meter: bool = False,
    profile: str = "gen4",
    seed: int = 0,
    require_tls: bool = False,
    seconds: float | None = None,
    keep_discovery: bool = False,
) -> None:
    """Run the daemon on `config` (its first meter, or the simulated one unless `real_meter`)
    and print every reading the broker passes on, for `seconds` or until cancelled."""
    stop = asyncio.Event()
    embedded = False
    async with contextlib.AsyncExitStack() as stack:
        mqtt = config.mqtt
        if not await _reachable(mqtt.host, mqtt.effective_port):
            embedded = True
            broker = await stack.enter_async_context(EmbeddedBroker())
            print(
                f"no MQTT broker answers at {mqtt.host}:{mqtt.effective_port}: using mepd's "
                f"embedded demo broker on 127.0.0.1:{broker.port} (loopback only)",
                file=out,
            )
            mqtt = dataclasses.replace(
                mqtt,
                host="127.0.0.1",
                port=broker.port,
                tls=None,
                username=None,
                password=None,
                # It speaks 3.1.1 only, and bounds every packet as mepd's MQTT 5 CONNECT would.
                broker_max_packet_bytes=broker.limits.max_packet_bytes,
            )
        else:
            print(f"publishing to the MQTT broker at {mqtt.host}:{mqtt.effective_port}", file=out)
        meter = config.meters[0]
        if not real_meter:
            port = simulated_meter(
                PROFILES[profile],
                seed=seed,
                epoch=time.monotonic(),
                start_wall=time.time(),
                requires_tls=require_tls,
            )
            pty = await stack.enter_async_context(PtyMeter(port))
            state = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mepd-demo-")))
            meter = dataclasses.replace(
                meter,
                port=pty.path,
                gpio=None,
                key=MepKey.parse(DEMO_MBK),
                key_origin="the simulator's demo key",
                encrypt=False,
                state_path=state / "demo.json",
            )
            mode = ", TLS required" if require_tls else ""
            print(
                f"simulated {profile} meter on {pty.path} (demo key, 9600 baud{mode})",
                file=out,
            )
        config = dataclasses.replace(config, meters=(meter,), mqtt=mqtt)
        printer = _Printer(out, config.mqtt.topic_prefix)
        await stack.enter_async_context(_subscribed(printer, mqtt.host, mqtt.effective_port))
        daemon = asyncio.create_task(serve(config, stop=stop))
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(daemon), seconds)
        finally:
            stop.set()
            await daemon
        if not (real_meter or embedded or keep_discovery or not config.discovery.enabled):
            await _remove_simulated(config, PROFILES[profile].utility_serial, out)
    if not real_meter:
        stats = port.stats
        print(
            f"meter saw {stats.requests_handled} requests, "
            f"{stats.too_close_requests} too close together, "
            f"{stats.read_rate_violations} over the read-rate budget",
            file=out,
        )


async def _remove_simulated(config: Config, serial: str, out: TextIO) -> None:
    """Take the simulated meter (and the demo's gateway, if it serves no other meter) out of
    the broker's retained discovery: a demo must not leave a device in Home Assistant."""
    from mepd.publish.client import BrokerError  # noqa: PLC0415
    from mepd.publish.gateway import detect_gateway  # noqa: PLC0415
    from mepd.publish.removal import DemoDevices, remove_discovery  # noqa: PLC0415

    gateway = detect_gateway(config.discovery.gateway_id)
    try:
        removed = await remove_discovery(
            config.mqtt, config.discovery, only=DemoDevices({serial}, gateway.gateway_id)
        )
    except BrokerError as error:
        print(f"could not remove the demo's devices from the broker: {error}", file=out)
        return
    print(
        f"removed the demo's devices from the broker ({len(removed)} retained topics; "
        "--keep-discovery keeps them)",
        file=out,
    )


async def _reachable(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), _CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


@contextlib.asynccontextmanager
async def _subscribed(printer: _Printer, host: str, port: int) -> AsyncIterator[None]:
    """A plain paho subscriber on its own thread: it sees what Home Assistant would see.

    Its blocking calls run in a worker thread: the embedded broker lives on this event loop.
    """
    import paho.mqtt.client as mqtt  # noqa: PLC0415
    from paho.mqtt.enums import CallbackAPIVersion  # noqa: PLC0415

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"mepd-demo-{time.time_ns()}")
    subscribed = threading.Event()

    def on_connect(paho: mqtt.Client, *_: object) -> None:
        paho.subscribe(f"{printer.prefix}/meter/#")

    client.on_connect = on_connect
    client.on_subscribe = lambda *_: subscribed.set()

    def on_message(_client: object, _userdata: object, message: mqtt.MQTTMessage) -> None:
        # A retained message is what an earlier run left (a stale "offline"), not news; an
        # empty one is a retained topic being cleared.
        if not message.retain and message.payload:
            printer.show(message.topic, bytes(message.payload))

    client.on_message = on_message
    try:
        await asyncio.to_thread(client.connect, host, port)
    except OSError as error:
        log.warning("the demo cannot subscribe to %s:%d (%s)", host, port, error)
    client.loop_start()
    await asyncio.to_thread(subscribed.wait, 5.0)
    try:
        yield
    finally:
        await asyncio.to_thread(client.disconnect)
        client.loop_stop()


class _Printer:
    """One line per published reading, in the units the payloads carry.

    A reading is known by its read time (`ts`): the publisher sends the latest energy again
    once Home Assistant has had time to subscribe after the discovery configs (issue 19), the
    same reading with the same `ts`, which Home Assistant needs and this printer has shown.
    """

    def __init__(self, out: TextIO, prefix: str) -> None:
        self.out = out
        self.prefix = prefix
        self._lock = threading.Lock()
        self._shown: dict[tuple[str, str], object] = {}  # (serial, leaf) -> last `ts` shown

    def show(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        if len(parts) < 4:
            return
        serial, leaf = parts[-2], parts[-1]
        if self._seen(serial, leaf, payload):
            return
        try:
            line = self._line(serial, leaf, payload)
        except (ValueError, TypeError, AttributeError):
            line = f"{serial} {leaf}: {payload[:200].decode(errors='surrogateescape')}"
        if line:
            # Topic and payload came from the broker: escaped (issue 18, item 8).
            with self._lock:
                print(f"{time.strftime('%H:%M:%S')} {printable(line)}", file=self.out, flush=True)

    def _seen(self, serial: str, leaf: str, payload: bytes) -> bool:
        """This reading (same meter, topic and read time) was shown already."""
        if leaf not in READINGS:
            return False
        try:
            read_at = json.loads(payload).get("ts")
        except (ValueError, AttributeError):
            return False
        with self._lock:
            if read_at is None or self._shown.get((serial, leaf)) == read_at:
                return read_at is not None
            self._shown[serial, leaf] = read_at
        return False

    def _line(self, serial: str, leaf: str, payload: bytes) -> str | None:
        if leaf == "availability":
            return f"{serial} {payload.decode(errors='surrogateescape')}"
        if leaf not in READINGS:
            return None
        values = json.loads(payload)
        if leaf == "energy":
            return f"{serial} energy " + ", ".join(
                f"{name} {value} kWh" for name, value in values.items() if name != "ts"
            )

        def show(name: str, unit: str) -> str:
            return f"{values[name]} {unit}" if name in values else "-"

        phases = "  ".join(
            f"L{p} {show(f'voltage_l{p}', 'V')} {show(f'current_l{p}', 'A')}" for p in (1, 2, 3)
        )
        return (
            f"{serial} power +{show('power_import', 'W')} -{show('power_export', 'W')}  "
            f"{phases}  {show('frequency', 'Hz')}"
        )
