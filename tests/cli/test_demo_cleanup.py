"""Issue 15 item 11: `mepd demo` on a real broker leaves no device behind and no stale news.

A real Mosquitto stands in for the user's Home Assistant broker. A retained `offline` from an
earlier run is there before the demo starts; another gateway's meter shares the broker.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import paho.mqtt.publish as publish
import pytest

from tests.mosquitto import Mosquitto, retained
from tests.processes import PYTHON

SERIAL = "SIM-GEN4-0001"
DEMO_CONFIG = f"homeassistant/device/mepd_{SERIAL}/config"
DEMO_GATEWAY = "homeassistant/device/mepd_gateway_demo_gw/config"
REAL_METER = "homeassistant/device/mepd_REAL-0001/config"
REAL_GATEWAY = "homeassistant/device/mepd_gateway_real_gw/config"
EVERYTHING = ("homeassistant/#", "mepd/#")


def _demo(broker: Mosquitto, tmp_path: Path, *options: str) -> str:
    config = tmp_path / "demo.toml"
    config.write_text('[homeassistant]\ngateway_id = "demo_gw"\n')
    command = [PYTHON, "-m", "mepd", "demo", "--config", str(config), "--seconds", "5"]
    result = subprocess.run(
        [*command, "--mqtt", f"mqtt://127.0.0.1:{broker.port}", *options],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _seed(broker: Mosquitto) -> None:
    """A stale status of the demo's meter, and a real mepd's meter on another gateway."""
    real = {
        "dev": {"identifiers": ["mepd_REAL-0001"], "via_device": "mepd_gateway_real_gw"},
        "o": {"name": "mepd"},
        "cmps": {},
    }
    gateway = {"dev": {"identifiers": ["mepd_gateway_real_gw"]}, "o": {"name": "mepd"}}
    publish.multiple(
        [
            {"topic": f"mepd/meter/{SERIAL}/availability", "payload": "offline", "retain": True},
            {"topic": REAL_METER, "payload": json.dumps(real), "retain": True},
            {"topic": REAL_GATEWAY, "payload": json.dumps(gateway), "retain": True},
            {"topic": "mepd/meter/REAL-0001/availability", "payload": "online", "retain": True},
        ],
        hostname="127.0.0.1",
        port=broker.port,
    )


@pytest.mark.asyncio
async def test_the_demo_removes_its_devices_and_never_shows_a_stale_status(
    broker: Mosquitto, tmp_path: Path
) -> None:
    _seed(broker)
    out = _demo(broker, tmp_path)
    statuses = [line.split()[-1] for line in out.splitlines() if f"{SERIAL} o" in line]
    assert statuses[0] == "online", out  # the retained "offline" of before is not news
    assert "removed the demo's devices from the broker" in out
    left = await retained(broker.port, EVERYTHING)
    assert DEMO_CONFIG not in left
    assert DEMO_GATEWAY not in left
    assert f"mepd/meter/{SERIAL}/availability" not in left
    assert "mepd/gateway/demo_gw/status" not in left
    # a real mepd's devices on the same broker are not the demo's to remove
    assert {REAL_METER, REAL_GATEWAY, "mepd/meter/REAL-0001/availability"} <= set(left)


@pytest.mark.asyncio
async def test_keep_discovery_keeps_them(broker: Mosquitto, tmp_path: Path) -> None:
    out = _demo(broker, tmp_path, "--keep-discovery")
    assert "removed" not in out
    left = await retained(broker.port, EVERYTHING)
    assert {DEMO_CONFIG, DEMO_GATEWAY} <= set(left)
