"""Every `mepd` command as a user runs it: a real process, the simulator on a pty, Mosquitto.

`mepd simulate` runs in its own process and prints its tty; the daemon under test is
`python -m mepd`, so what is checked is what the console script does.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest

from mepd.drivers.simulator.factory import DEMO_MBK
from tests.mosquitto import Listener, Mosquitto, retained
from tests.processes import PYTHON, simulator

SERIAL = "SIM-GEN4-0001"


def mepd(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "mepd", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_help_lists_every_command() -> None:
    result = mepd("--help")
    assert result.returncode == 0
    for command in ("run", "check-config", "probe", "dump", "doctor", "simulate", "demo"):
        assert f"    {command}" in result.stdout, command


def test_check_config_summarises_a_valid_file(daemon_config: Path) -> None:
    result = mepd("check-config", str(daemon_config))
    assert result.returncode == 0, result.stderr
    assert f"{daemon_config}: valid" in result.stdout
    assert "no GPIO lines" in result.stdout
    assert DEMO_MBK not in result.stdout + result.stderr


def test_check_config_names_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[serial]\nport = "/dev/mep0"\nbaud = "fast"\n')
    result = mepd("check-config", str(path))
    assert result.returncode == 78  # EX_CONFIG: systemd does not restart into it
    assert "Traceback" not in result.stderr
    assert f"{path}, line 3" in result.stderr
    assert "serial.baud" in result.stderr


@pytest.mark.parametrize(
    ("options", "mode"), [((), "RC4 mode"), (("--require-tls", "--profile", "gen3"), "TLS-PSK")]
)
def test_probe_prints_identity_and_a_reading(
    daemon_config: Path, options: tuple[str, ...], mode: str
) -> None:
    with simulator(*options) as tty:
        result = mepd("probe", "--config", str(daemon_config), "--serial", tty)
    assert result.returncode == 0, result.stderr
    serial = "SIM-GEN3-0001" if "gen3" in options else SERIAL
    assert result.stdout.startswith(f"meter {serial}: ")
    assert mode in result.stdout.splitlines()[1]
    assert "  voltage_l1: " in result.stdout
    assert "  energy_import: " in result.stdout


def test_probe_with_a_wrong_key_exits_1_with_the_reason(
    daemon_config: Path, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("WRONG-KEY-WRONG-KEY!")
    wrong.chmod(0o600)
    with simulator() as tty:
        result = mepd(
            "probe", "--config", str(daemon_config), "--serial", tty, "--key-file", str(wrong)
        )
    assert result.returncode == 1
    assert "rejected the key" in result.stderr
    assert "Traceback" not in result.stderr
    assert "WRONG-KEY" not in result.stderr


def test_a_world_readable_key_file_is_refused(daemon_config: Path, tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.write_text(DEMO_MBK)
    loose.chmod(0o644)
    result = mepd("probe", "--config", str(daemon_config), "--key-file", str(loose))
    assert result.returncode == 78
    assert "chmod 600" in result.stderr


def test_dump_prints_hex_and_decoded_fields(daemon_config: Path) -> None:
    with simulator() as tty:
        result = mepd("dump", "BT01", "--config", str(daemon_config), "--serial", tty)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "BT01 (table 1), 24 bytes from offset 0:"
    assert lines[1].startswith("000000  ")
    assert "decoded:" in lines
    assert ["firmware", "4.32.02"] in [line.split() for line in lines]


def test_demo_prints_live_readings_from_the_broker_within_10_s() -> None:
    started = time.monotonic()
    process = subprocess.Popen(
        [PYTHON, "-m", "mepd", "demo", "--seconds", "30", "--mqtt", "mqtt://127.0.0.1:1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    seen: list[str] = []
    try:
        for line in process.stdout:
            seen.append(line)
            if " power +" in line:
                break
        first_power = time.monotonic() - started
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(20)
    assert any("embedded demo broker" in line for line in seen), seen
    assert any(f"{SERIAL} power +" in line for line in seen), seen
    assert first_power < 10.0
    assert process.returncode == 0


class NotifySocket:
    """A datagram socket standing in for systemd's $NOTIFY_SOCKET."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.received: list[str] = []

    def wait_for(self, field: str, within_s: float) -> None:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            try:
                message = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            self.received.extend(message.splitlines())
            if field in self.received:
                return
        raise AssertionError(f"{field} not received within {within_s} s: {self.received}")


@contextmanager
def daemon(
    daemon_config: Path, broker: Mosquitto, tty: str, *options: str, **env: str
) -> Iterator[subprocess.Popen[str]]:
    """`mepd run` as a process against `tty` and `broker`; `options` go on its command line."""
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "mepd",
            "run",
            "--config",
            str(daemon_config),
            "--serial",
            tty,
            "--mqtt",
            f"mqtt://127.0.0.1:{broker.port}",
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


@pytest.mark.asyncio
async def test_run_tells_systemd_it_is_ready_and_feeds_the_watchdog(
    daemon_config: Path, broker: Mosquitto, tmp_path: Path
) -> None:
    notify = NotifySocket(tmp_path / "notify")
    with (
        simulator() as tty,
        daemon(
            daemon_config, broker, tty, NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC="2000000"
        ) as process,
    ):
        await asyncio.to_thread(notify.wait_for, "READY=1", 15.0)
        await asyncio.to_thread(notify.wait_for, "WATCHDOG=1", 5.0)
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(notify.wait_for, "STOPPING=1", 10.0)
        assert await asyncio.to_thread(process.wait, 15) == 0
        stderr = process.stderr.read() if process.stderr else ""
    assert "Traceback" not in stderr
    assert any(line.startswith("STATUS=") for line in notify.received)
    status = await retained(broker.port, ("mepd/gateway/testgw/status",))
    assert status == {"mepd/gateway/testgw/status": b"offline"}  # a clean stop says so


@pytest.mark.asyncio
async def test_sigkill_lets_the_last_will_mark_everything_unavailable(
    daemon_config: Path, broker: Mosquitto
) -> None:
    gateway_status = "mepd/gateway/testgw/status"
    with (
        Listener(broker.port, ("mepd/#", "homeassistant/#")) as listener,
        simulator() as tty,
        daemon(daemon_config, broker, tty) as process,
    ):
        await listener.wait_topic(f"mepd/meter/{SERIAL}/present", within_s=20)
        config_topic = f"homeassistant/device/mepd_{SERIAL}/config"
        discovery = listener.last(config_topic).json()
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        await listener.wait_for(
            lambda m: m.topic == gateway_status and m.payload == b"offline", within_s=10
        )
    # Every meter entity depends on the gateway's status topic (availability_mode all).
    assert discovery["availability_mode"] == "all"
    assert {"topic": gateway_status} in [
        {"topic": entry["topic"]} for entry in discovery["availability"]
    ]
    snapshot = await retained(broker.port, (gateway_status,))
    assert snapshot[gateway_status] == b"offline"


@pytest.mark.asyncio
async def test_remove_discovery_clears_what_run_announced(
    daemon_config: Path, broker: Mosquitto
) -> None:
    config_topic = f"homeassistant/device/mepd_{SERIAL}/config"
    with (
        Listener(broker.port, ("homeassistant/#",)) as listener,
        simulator() as tty,
        daemon(daemon_config, broker, tty) as process,
    ):
        await listener.wait_topic(config_topic, within_s=20)
        process.send_signal(signal.SIGTERM)
        process.wait(15)
    before = await retained(broker.port, ("homeassistant/#",))
    assert config_topic in before
    result = await asyncio.to_thread(
        mepd,
        "remove-discovery",
        "--config",
        str(daemon_config),
        "--mqtt",
        f"mqtt://127.0.0.1:{broker.port}",
    )
    assert result.returncode == 0, result.stderr
    assert f"cleared {config_topic}" in result.stdout
    assert await retained(broker.port, ("homeassistant/#",)) == {}


@pytest.mark.asyncio
async def test_run_publishes_from_a_meter_that_requires_tls(
    daemon_config: Path, broker: Mosquitto
) -> None:
    with (
        Listener(broker.port, ("mepd/#",)) as listener,
        simulator("--require-tls") as tty,
        daemon(daemon_config, broker, tty) as process,
    ):
        found = await listener.wait_topic(f"mepd/meter/{SERIAL}/present", count=2, within_s=30)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 15) == 0
    assert "power_import" in found[-1].json()


@pytest.mark.slow  # about 10 s, mostly waiting for the read budget (p.51): scheduled first
@pytest.mark.asyncio
async def test_run_publishes_the_stored_intervals_once_and_keeps_the_cursor(
    daemon_config: Path, broker: Mosquitto
) -> None:
    """Issue 20 end to end: simulator pty, `mepd run`, Mosquitto. A meter keeping four to six
    1-minute intervals (the oldest is the base) and a slow schedule, so history has room."""
    with daemon_config.open("a") as config:
        config.write("[schedule]\npresent_s = 10\nenergy_s = 60\n")
    topic = f"mepd/meter/{SERIAL}/interval"
    knobs = ("lp_interval_min=1", "lp_blocks=2", "lp_block_intervals=3")
    with (
        Listener(broker.port, (topic,)) as listener,
        simulator(*(f"--fault={knob}" for knob in knobs)) as tty,
        daemon(daemon_config, broker, tty) as process,
    ):
        await listener.wait_topic(topic, count=2, within_s=20)
        state_file = daemon_config.parent / "state" / f"{SERIAL}.json"
        for _ in range(50):  # the PUBACKs move the cursor, saved at once when caught up
            if "load_profile" in state_file.read_text():
                break
            await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 15) == 0
    first, second, *_ = sent = [message.json() for message in listener.on(topic)]
    start, end = (datetime.fromisoformat(first[k]) for k in ("start", "end"))
    assert (end - start).total_seconds() == 60
    assert datetime.fromisoformat(second["start"]) == end
    assert set(first["values"]) == {"energy_import", "energy_export"}
    assert len({message["end"] for message in sent}) == len(sent)
    state = json.loads(state_file.read_text())
    cursor = json.loads(state["cursors"]["load_profile"])["end"]
    assert datetime.fromisoformat(cursor) == datetime.fromisoformat(sent[-1]["end"])
