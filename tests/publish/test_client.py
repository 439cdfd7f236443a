"""The connection: TLS, passwords, one clear line per problem, the Last Will on a crash."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mepd.publish import Publisher
from mepd.publish.client import MqttConnection
from mepd.publish.topics import Topics
from mepd.settings import MqttSettings, Secret, TlsSettings
from tests.mosquitto import Listener, Mosquitto, TlsMaterial, free_port, retained, tls_material
from tests.publish.conftest import (
    DISCOVERY,
    GATEWAY,
    PASSWORD,
    USER,
    settings_for,
    tls_settings_for,
)

REPO = Path(__file__).resolve().parents[2]
TOPICS = Topics("mepd", GATEWAY.gateway_id)


async def until(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.mark.asyncio
async def test_tls_with_a_password_works(tls_broker: Mosquitto, tls: TlsMaterial) -> None:
    publisher = Publisher(tls_settings_for(tls_broker, tls), DISCOVERY, GATEWAY)
    await publisher.start()
    try:
        await until(lambda: publisher.connected)
        assert publisher.problem is None
        snapshot = await retained(
            tls_broker.port, ("#",), username=USER, password=PASSWORD, ca_file=tls.ca_file
        )
    finally:
        await publisher.stop()
    assert snapshot[TOPICS.gateway_status] == b"online"


@pytest.mark.asyncio
async def test_a_wrong_password_is_one_clear_line_and_slow_retries(
    tls_broker: Mosquitto, tls: TlsMaterial, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "not-the-password-42"
    settings = tls_settings_for(tls_broker, tls, password=Secret(wrong), reconnect_max_s=0.3)
    publisher = Publisher(settings, DISCOVERY, GATEWAY)
    with caplog.at_level(logging.DEBUG, logger="mepd"):
        await publisher.start()  # does not raise
        await until(lambda: publisher.problem is not None)
        await until(lambda: tls_broker.log().count("not authorised") >= 3)  # it keeps trying
        assert not publisher.connected
        await publisher.stop()  # does not raise either
    problem = str(publisher.problem)
    assert problem.startswith(f"the MQTT broker at 127.0.0.1:{tls_broker.port} refused the")
    assert "username/password (CONNACK: Not authorized)" in problem
    assert problem.endswith("check [mqtt] username and password")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [problem]  # said once, not per attempt
    assert wrong not in caplog.text
    assert PASSWORD not in caplog.text


@pytest.mark.asyncio
async def test_no_password_for_a_broker_that_wants_one(
    tls_broker: Mosquitto, tls: TlsMaterial
) -> None:
    settings = settings_for(tls_broker, tls=TlsSettings(ca_file=tls.ca_file))
    publisher = Publisher(settings, DISCOVERY, GATEWAY)
    await publisher.start()
    try:
        await until(lambda: publisher.problem is not None)
    finally:
        await publisher.stop()
    assert "wants a username and password" in str(publisher.problem)


@pytest.mark.asyncio
async def test_a_certificate_from_another_ca_is_refused(
    tls_broker: Mosquitto, tmp_path: Path
) -> None:
    stranger = tls_material(tmp_path / "stranger")
    settings = settings_for(
        tls_broker,
        username=USER,
        password=Secret(PASSWORD),
        tls=TlsSettings(ca_file=stranger.ca_file),
    )
    publisher = Publisher(settings, DISCOVERY, GATEWAY)
    await publisher.start()
    try:
        await until(lambda: publisher.problem is not None)
    finally:
        await publisher.stop()
    assert "certificate that does not verify" in str(publisher.problem)
    assert str(stranger.ca_file) in str(publisher.problem)


@pytest.mark.asyncio
async def test_a_missing_ca_file_is_named(tls_broker: Mosquitto, tmp_path: Path) -> None:
    settings = settings_for(tls_broker, tls=TlsSettings(ca_file=tmp_path / "nope.pem"))
    publisher = Publisher(settings, DISCOVERY, GATEWAY)
    await publisher.start()
    try:
        await until(lambda: publisher.problem is not None)
    finally:
        await publisher.stop()
    assert "nope.pem" in str(publisher.problem)
    assert "[mqtt.tls]" in str(publisher.problem)


@pytest.mark.asyncio
async def test_a_client_certificate_is_presented(tmp_path: Path, tls: TlsMaterial) -> None:
    broker = Mosquitto(tmp_path / "mtls", tls=tls, require_client_cert=True)
    broker.start()
    try:
        with_cert = TlsSettings(
            ca_file=tls.ca_file, cert_file=tls.client_cert, key_file=tls.client_key
        )
        good = Publisher(settings_for(broker, tls=with_cert), DISCOVERY, GATEWAY)
        bad = Publisher(
            settings_for(broker, tls=TlsSettings(ca_file=tls.ca_file), client_id="no-cert"),
            DISCOVERY,
            GATEWAY,
        )
        await good.start()
        await bad.start()
        try:
            await until(lambda: good.connected)
            await until(lambda: bad.problem is not None)
            assert not bad.connected
        finally:
            await good.stop()
            await bad.stop()
    finally:
        broker.stop()


def test_reconnect_delays_double_up_to_the_cap_with_jitter() -> None:
    settings = MqttSettings(reconnect_min_s=1.0, reconnect_max_s=120.0)
    connection = MqttConnection(settings, "mepd-test", rng=random.Random(7))
    for failures in range(12):
        base = min(120.0, 2.0**failures)
        draws = [connection.retry_delay(failures) for _ in range(20)]
        assert all(0.8 * base <= d <= 1.2 * base for d in draws), failures
        assert len(set(draws)) > 1  # jittered, not in step with every other gateway
    assert 0.8 * 120 <= connection.retry_delay(10**6) <= 1.2 * 120  # no float overflow
    refused = [connection.retry_delay(0, credentials_refused=True) for _ in range(20)]
    assert min(refused) >= 0.8 * 120  # a wrong password is retried slowly from the start


@pytest.mark.asyncio
async def test_an_unreachable_broker_never_blocks_or_raises() -> None:
    settings = settings_for(Mosquitto(Path("/nonexistent"), port=free_port()))
    connection = MqttConnection(settings, "mepd-test")
    started = time.monotonic()
    await connection.start()
    assert time.monotonic() - started < 0.1
    assert connection.publish("mepd/x", b"1") is None  # dropped, not queued
    await until(lambda: connection.problem is not None)
    assert "connection refused" in str(connection.problem)
    assert "[mqtt] host and port" in str(connection.problem)
    await connection.stop()


@pytest.mark.asyncio
async def test_an_unknown_host_name_is_named() -> None:
    connection = MqttConnection(settings_for_host("no-such-broker.invalid"), "mepd-test")
    await connection.start()
    try:
        await until(lambda: connection.problem is not None, within_s=10)
    finally:
        await connection.stop()
    assert "'no-such-broker.invalid'" in str(connection.problem)
    assert "check [mqtt] host" in str(connection.problem)


def settings_for_host(host: str) -> MqttSettings:
    return MqttSettings(host=host, port=1883, reconnect_min_s=0.1, reconnect_max_s=0.5)


PUBLISHER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from mepd.publish import Publisher, GatewayInfo
    from mepd.settings import DiscoverySettings, MqttSettings

    async def main():
        settings = MqttSettings(host="127.0.0.1", port=int(sys.argv[1]), keepalive_s=30)
        publisher = Publisher(settings, DiscoverySettings(), GatewayInfo(sys.argv[2], "test"))
        await publisher.start()
        while not publisher.connected:
            await asyncio.sleep(0.02)
        print("connected", flush=True)
        await asyncio.sleep(60)

    asyncio.run(main())
    """
)


@pytest.mark.asyncio
async def test_a_killed_publisher_leaves_its_last_will(broker: Mosquitto) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PUBLISHER_SCRIPT,
        str(broker.port),
        GATEWAY.gateway_id,
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        with Listener(broker.port, (TOPICS.gateway_status,)) as heard:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), 10)
            assert line == b"connected\n"
            await heard.wait_for(lambda m: m.payload == b"online")
            process.send_signal(signal.SIGKILL)
            await heard.wait_for(lambda m: m.payload == b"offline", within_s=5)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
    snapshot = await retained(broker.port, (TOPICS.gateway_status,))
    assert snapshot[TOPICS.gateway_status] == b"offline"  # retained, for whoever comes later
