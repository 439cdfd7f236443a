"""README.md's "Drive it by hand", run as written: the blocks are read from the README.

Only two things are put in: the tty the simulator prints (the README's example `/dev/pts/3`)
and the broker's address (a test Mosquitto on a free loopback port instead of localhost:1883).
Everything else, `. .venv/bin/activate` included, runs as a user would type it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from tests.conftest import REPO
from tests.mosquitto import Mosquitto

SECTION = "## Drive it by hand"
_SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return _SH_BLOCK.findall(text[start:end])


def test_the_section_has_the_three_terminals() -> None:
    simulate, watch, commands = blocks()
    assert "mepd simulate" in simulate
    assert watch.startswith("mosquitto_sub ")
    for command in ("mepd probe", "mepd dump BT28", "mepd run"):
        assert command in commands


Shell = subprocess.Popen[str]


def _put_in(block: str, *, tty: str, port: int) -> str:
    block = re.sub(r"^TTY=\S+", f"TTY={tty}", block, flags=re.MULTILINE)
    return block.replace("localhost:1883", f"127.0.0.1:{port}").replace(
        "-h localhost -p 1883", f"-h 127.0.0.1 -p {port}"
    )


def _shell(block: str, cwd: Path, *, stdout: IO[str] | int, stderr: IO[str] | int) -> Shell:
    return subprocess.Popen(
        ["bash", "-e", "-c", block],
        cwd=cwd,
        text=True,
        start_new_session=True,  # Ctrl-C goes to the whole group, as in a terminal
        stdout=stdout,
        stderr=stderr,
    )


def _stop(process: subprocess.Popen[str]) -> int:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
    try:
        return process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait(5)


def test_the_commands_work_as_written(tmp_path: Path, broker: Mosquitto) -> None:
    simulate, watch, commands = blocks()
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))  # `. .venv/bin/activate` as written
    terminal1 = _shell(simulate, tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert terminal1.stdout is not None
    tty = terminal1.stdout.readline().strip()
    assert tty.startswith("/dev/"), tty
    seen = tmp_path / "mosquitto_sub.out"
    with seen.open("w") as sub_out:
        terminal2 = _shell(
            _put_in(watch, tty=tty, port=broker.port), tmp_path, stdout=sub_out, stderr=sub_out
        )
    out3, err3 = tmp_path / "terminal3.out", tmp_path / "terminal3.err"
    with out3.open("w") as stdout, err3.open("w") as stderr:
        terminal3 = _shell(
            _put_in(commands, tty=tty, port=broker.port), tmp_path, stdout=stdout, stderr=stderr
        )
    try:
        deadline = time.monotonic() + 60
        while "/present " not in seen.read_text() and time.monotonic() < deadline:
            assert terminal3.poll() is None, out3.read_text() + err3.read_text()
            time.sleep(0.2)
        assert "mepd/meter/SIM-GEN4-0001/present {" in seen.read_text()
    finally:
        run_exit = _stop(terminal3)
        _stop(terminal2)
        _stop(terminal1)
    output, errors = out3.read_text(), err3.read_text()
    assert output.startswith("meter SIM-GEN4-0001: "), output + errors  # probe
    assert re.search(r"^  demands\.power_import +\d+ W$", output, re.MULTILINE), output  # dump
    assert run_exit == 130, errors  # Ctrl-C
    assert "Traceback" not in errors
    assert "mepd.drivers.gpio: no mepd HAT found" in errors  # off a Pi, said once per command
    # only `run` keeps state, in a file named by the meter's serial, not by the tty
    assert (tmp_path / "state" / "SIM-GEN4-0001.json").is_file()


def test_the_readmes_systemd_security_figure_is_what_systemd_analyze_says() -> None:
    """Issue 15 item 15: the README said 1.5 where the run said 1.6."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    command = "systemd-analyze security --offline=true systemd/mepd.service"
    written = re.search(rf"`{command}` rates\s+it (\d+\.\d+), \"(\w+)\"", readme)
    assert written, "the README names the command and its figure"
    result = subprocess.run(
        command.split(), cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    measured = re.search(
        r"Overall exposure level for mepd\.service: (\d+\.\d+) (\w+)", result.stdout
    )
    assert measured, result.stdout
    assert written.groups() == measured.groups()
