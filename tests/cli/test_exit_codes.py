"""The README's exit-code table, one test per row, and the options each command accepts.

The rows are read from the README, so a row added there without a test here fails.
"""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import pytest

from mepd.drivers.simulator.factory import DEMO_MBK
from tests.cli.test_cli import daemon, mepd
from tests.conftest import REPO
from tests.mosquitto import Mosquitto
from tests.processes import simulator

TESTED_CODES = {0, 1, 2, 78, 130}


def test_every_exit_code_of_the_readme_has_a_test_here() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    sentence = readme[readme.index("Exit codes: ") :].split("\n\n")[0]
    assert {int(code) for code in re.findall(r"(?:^|[:;]\s+)(\d+)\b", sentence)} == TESTED_CODES


def _key(tmp_path: Path) -> Path:
    key = tmp_path / "mbk"
    key.write_text(DEMO_MBK + "\n")
    key.chmod(0o600)
    return key


@pytest.mark.parametrize("example", ["config.example.toml", "config.multi-meter.example.toml"])
def test_0_every_shipped_example_passes_check_config(example: str) -> None:
    result = mepd("check-config", str(REPO / example))
    assert result.returncode == 0, result.stderr
    assert "warning: the key is not there yet (`mepd run` needs it): " in result.stdout
    assert "/etc/mepd/mbk" in result.stdout  # where `run` will look


def test_0_check_config_takes_the_key_file(tmp_path: Path) -> None:
    result = mepd(
        "check-config", str(REPO / "config.example.toml"), "--key-file", str(_key(tmp_path))
    )
    assert result.returncode == 0, result.stderr
    assert f"key from key file {tmp_path / 'mbk'}" in result.stdout
    assert "warning" not in result.stdout
    assert DEMO_MBK not in result.stdout + result.stderr


def test_1_a_problem_mepd_explains_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "ttyNONE"
    result = mepd("probe", "--serial", str(missing), "--key-file", str(_key(tmp_path)), "--no-gpio")
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.startswith("mepd: ")] != []
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "arguments",
    [
        ("dump", "XYZ"),
        ("probe", "--mqtt", "mqtt://localhost"),
        ("probe", "--discovery-prefix", "ha"),
        ("dump", "BT28", "--mqtt", "mqtt://localhost"),
        ("remove-discovery", "--serial", "/dev/ttyUSB0"),
        ("remove-discovery", "--key-file", "mbk"),
        ("check-config", "--serial", "/dev/ttyUSB0", "config.toml"),
    ],
)
def test_2_a_malformed_command_line(arguments: tuple[str, ...]) -> None:
    result = mepd(*arguments)
    assert result.returncode == 2, result.stderr
    assert "usage: " in result.stderr


def test_78_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[gpio]\nenabled = "yes"\n')
    result = mepd("check-config", str(path))
    assert result.returncode == 78
    assert f"{path}, line 2" in result.stderr


@pytest.mark.asyncio
async def test_130_sigint_interrupts_run(daemon_config: Path, broker: Mosquitto) -> None:
    with simulator() as tty, daemon(daemon_config, broker, tty) as process:
        assert process.stderr is not None
        # started when it says so: the signal handlers are in place by then
        line = ""
        while "meter(s), MQTT" not in line:
            line = await asyncio.to_thread(process.stderr.readline)
            assert line, "mepd run ended before it started"
        process.send_signal(signal.SIGINT)
        assert await asyncio.to_thread(process.wait, 15) == 130


@pytest.mark.parametrize(
    ("command", "options"),
    [
        (
            "run",
            {"--config", "--serial", "--mqtt", "--key-file", "--discovery-prefix", "--no-gpio"},
        ),
        ("probe", {"--config", "--serial", "--key-file", "--no-gpio"}),
        ("dump", {"--config", "--serial", "--key-file", "--no-gpio"}),
        ("remove-discovery", {"--config", "--mqtt", "--discovery-prefix"}),
        ("check-config", {"--key-file"}),
    ],
)
def test_each_command_offers_only_what_means_something_to_it(
    command: str, options: set[str]
) -> None:
    overrides = {"--config", "--serial", "--mqtt", "--key-file", "--discovery-prefix", "--no-gpio"}
    text = mepd(command, "--help").stdout
    offered = {option for option in overrides if re.search(rf"^\s+{option}\b", text, re.M)}
    assert offered == options


def test_probe_dump_and_check_config_leave_no_state(daemon_config: Path) -> None:
    state = daemon_config.parent / "state"
    with simulator() as tty:
        for command in (("probe",), ("dump", "BT28")):
            result = mepd(*command, "--config", str(daemon_config), "--serial", tty)
            assert result.returncode == 0, result.stderr
    assert not state.exists()


def test_1_a_wrong_key_is_said_once_and_nothing_misleading_comes_first(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("WRONG-KEY-WRONG-KEY!")
    wrong.chmod(0o600)
    with simulator() as tty:
        result = mepd("probe", "--serial", tty, "--key-file", str(wrong))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    said = [line for line in lines if "rejected the key (0x0B) in RC4 mode" in line]
    assert len(said) == 1, lines
    assert said[0].startswith("mepd: ")
    assert said[0] == lines[-1]
    assert not any("re-established" in line or "ERROR" in line for line in lines), lines
