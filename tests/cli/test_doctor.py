"""`mepd doctor` end to end: a fake Pi's files, a real broker, the simulator on a pty."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mepd.drivers.simulator.factory import DEMO_MBK
from tests.fake_pi import FakePi
from tests.mosquitto import Mosquitto
from tests.processes import simulator


def doctor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mepd", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_a_healthy_setup_passes_with_the_meter_read(
    tmp_path: Path, daemon_config: Path, broker: Mosquitto
) -> None:
    pi = FakePi(tmp_path / "pi")
    pi.accounts(members={"dialout": ["mepd"], "gpio": ["mepd"]})
    with simulator() as tty:
        (pi.root / tty.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        pi.device(tty.removeprefix("/dev/"))
        result = doctor(
            "--root",
            str(pi.root),
            "--config",
            str(daemon_config),
            "--serial",
            tty,
            "--mqtt",
            f"mqtt://127.0.0.1:{broker.port}",
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   port access" in result.stdout
    assert "ok   MQTT broker" in result.stdout
    assert "ok   test read" in result.stdout
    assert "SIM-GEN4-0001" in result.stdout
    assert result.stdout.rstrip().endswith("no problems found")
    assert DEMO_MBK not in result.stdout + result.stderr
    assert result.stderr == ""  # the checks speak; the logs stay quiet without -v


def test_a_fresh_pi_gets_a_fix_for_every_failure(tmp_path: Path, daemon_config: Path) -> None:
    pi = FakePi(tmp_path / "pi")  # serial console on serial0, Bluetooth on the PL011
    pi.link("serial0", "ttyS0")
    pi.device("ttyS0")
    result = doctor(
        "--root",
        str(pi.root),
        "--config",
        str(daemon_config),
        "--serial",
        "/dev/serial0",
        "--mqtt",
        "mqtt://127.0.0.1:1",
        "--no-read",
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    failures = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert any("console" in line for line in failures), result.stdout
    assert any("MQTT broker" in line for line in failures)
    lines = result.stdout.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("FAIL"):
            assert lines[index + 1].startswith("     fix: "), line
    assert "console=serial0" in result.stdout
    assert "disable-bt" in result.stdout


def test_an_unreadable_key_is_reported_and_the_other_checks_still_run(
    tmp_path: Path, daemon_config: Path, broker: Mosquitto
) -> None:
    loose = tmp_path / "loose"
    loose.write_text(DEMO_MBK)
    loose.chmod(0o644)
    result = doctor(
        "--config",
        str(daemon_config),
        "--key-file",
        str(loose),
        "--mqtt",
        f"mqtt://127.0.0.1:{broker.port}",
        "--no-read",
        "--root",
        str(FakePi(tmp_path / "pi").root),
    )
    assert result.returncode == 1
    assert "FAIL key: " in result.stdout
    assert "chmod 600" in result.stdout
    assert "ok   MQTT broker" in result.stdout
