"""`mepd remove-discovery`: take mepd's devices out of Home Assistant, on purpose only.

mepd never deletes its discovery configs on shutdown (a restart would make every entity
vanish and come back, and lose its history settings). This removes them explicitly: it asks
the broker for the retained device configs, keeps those mepd published (origin "mepd", ids
starting "mepd_"), and for each sends an empty retained payload, which is Home Assistant's
signal to remove the device; then it clears mepd's retained availability, link and energy_held
topics.
Stop the daemon first, or it will announce everything again.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Collection

from mepd.publish.client import BrokerError, MqttConnection
from mepd.publish.discovery import is_mepd_config
from mepd.publish.topics import gateway_device_id, meter_device_id, topic_id
from mepd.settings import DiscoverySettings, MqttSettings

# Retained messages arrive right after the subscription; this long without one means done.
QUIET_S = 1.0


async def remove_discovery(
    mqtt: MqttSettings,
    discovery: DiscoverySettings,
    *,
    timeout_s: float = 3.0,
    only: DemoDevices | None = None,
) -> list[str]:
    """Clear mepd's retained discovery configs and status topics; the topics cleared.

    `only`: just these meters, and their gateway if no other meter is connected via it (the
    demo's simulated devices, never a real mepd's on the same broker).
    Raises `BrokerError` if the broker cannot be reached within `timeout_s`.
    """
    prefix = mqtt.topic_prefix
    patterns = (
        f"{discovery.prefix}/device/+/config",
        f"{prefix}/gateway/+/status",
        f"{prefix}/meter/+/availability",
        f"{prefix}/meter/+/link",
        f"{prefix}/meter/+/energy_held",
    )
    found: dict[str, bytes] = {}
    heard = asyncio.Event()

    def collect(topic: str, payload: bytes, retained: bool) -> None:
        if retained and payload:
            found[topic] = payload
            heard.set()

    connection = MqttConnection(
        mqtt, f"mepd-remove-{os.getpid()}", subscriptions=patterns, on_message=collect
    )
    await connection.start()
    try:
        if not await connection.wait_connected(timeout_s):
            where = connection.where
            raise BrokerError(
                connection.problem or f"no connection to the MQTT broker at {where} in time"
            )
        await _until_quiet(heard, timeout_s)
        configs = sorted(t for t, p in found.items() if _is_config(t) and _ours(p))
        status = sorted(t for t in found if not _is_config(t))
        cleared = configs + status
        if only is not None:
            cleared = only.select(cleared, found, prefix)
        mids = [connection.publish(topic, b"", retain=True, qos=1) for topic in cleared]
        if not await connection.flush(mids, timeout_s):
            raise BrokerError(
                f"the MQTT broker at {connection.where} did not confirm the removal in time"
            )
        return cleared
    finally:
        await connection.stop()


def _is_config(topic: str) -> bool:
    return topic.endswith("/config")


def _ours(payload: bytes) -> bool:
    try:
        return is_mepd_config(json.loads(payload))
    except ValueError:
        return False


async def _until_quiet(heard: asyncio.Event, timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        heard.clear()
        try:
            await asyncio.wait_for(heard.wait(), min(QUIET_S, deadline - loop.time()))
        except TimeoutError:
            return


class DemoDevices:
    """Which retained topics belong to the given meters and, if nothing else uses it, gateway."""

    def __init__(self, serials: Collection[str], gateway_id: str) -> None:
        self.meters = {topic_id(serial) for serial in serials}
        self.gateway_id = topic_id(gateway_id)

    def select(self, topics: list[str], found: dict[str, bytes], prefix: str) -> list[str]:
        meter_ids = {meter_device_id(serial) for serial in self.meters}
        gateway = gateway_device_id(self.gateway_id)
        devices = {topic: _device(found[topic]) for topic in topics if _is_config(topic)}
        others_use_gateway = any(
            device.get("via_device") == gateway and _first_id(device) not in meter_ids
            for device in devices.values()
        )
        wanted = set(meter_ids) if others_use_gateway else {*meter_ids, gateway}
        levels = {f"{prefix}/meter/{serial}/" for serial in self.meters}
        if not others_use_gateway:
            levels.add(f"{prefix}/gateway/{self.gateway_id}/")
        return [
            topic
            for topic in topics
            if (topic in devices and _first_id(devices[topic]) in wanted)
            or (topic not in devices and any(topic.startswith(level) for level in levels))
        ]


def _device(payload: bytes) -> dict[str, object]:
    document = json.loads(payload)
    device = document.get("dev", document.get("device", {}))
    return device if isinstance(device, dict) else {}


def _first_id(device: dict[str, object]) -> str | None:
    identifiers = device.get("identifiers", device.get("ids"))
    if isinstance(identifiers, str):
        return identifiers
    if isinstance(identifiers, list) and identifiers and isinstance(identifiers[0], str):
        return identifiers[0]
    return None
