"""Fixtures: a real Mosquitto per test (plain, or TLS with a password), settings to reach it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mepd.publish.discovery import ReadPeriods
from mepd.publish.gateway import GatewayInfo
from mepd.settings import DiscoverySettings, MqttSettings, Schedule, Secret, TlsSettings
from tests.mosquitto import Mosquitto, TlsMaterial, tls_material

USER = "mepd"
PASSWORD = "correct-horse-battery"  # test-only
GATEWAY = GatewayInfo(gateway_id="10000000cafe0001", model="Raspberry Pi Zero 2 W Rev 1.0")
# What the daemon hands the publisher for a meter polled on the default schedule.
PERIODS = ReadPeriods(Schedule().present_s, Schedule().energy_s)


@pytest.fixture
def tls(tmp_path: Path) -> TlsMaterial:
    return tls_material(tmp_path / "tls")


@pytest.fixture
def tls_broker(tmp_path: Path, tls: TlsMaterial) -> Iterator[Mosquitto]:
    """TLS only, a password required, no anonymous clients."""
    server = Mosquitto(tmp_path / "tls-broker", users={USER: PASSWORD}, tls=tls)
    server.start()
    yield server
    server.stop()


def settings_for(broker: Mosquitto, **changes: object) -> MqttSettings:
    """Fast reconnects, so a restarted broker is found again within a second."""
    base: dict[str, object] = {
        "host": "127.0.0.1",
        "port": broker.port,
        "reconnect_min_s": 0.1,
        "reconnect_max_s": 0.5,
        "keepalive_s": 5,
    }
    base.update(changes)
    return MqttSettings(**base)  # type: ignore[arg-type]


def tls_settings_for(broker: Mosquitto, tls: TlsMaterial, **changes: object) -> MqttSettings:
    options: dict[str, object] = {
        "username": USER,
        "password": Secret(PASSWORD),
        "tls": TlsSettings(ca_file=tls.ca_file),
    }
    options.update(changes)
    return settings_for(broker, **options)


DISCOVERY = DiscoverySettings()
