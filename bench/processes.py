"""Starting the pieces: a generated configuration, the simulator host, the daemon, strace."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
# The simulator's documented demo key (mepd.drivers.simulator.factory.DEMO_MBK): not a secret.
DEMO_KEY = "MEPD-DEMO-KEY-000001"
GATEWAY_ID = "bench"


def child_env() -> dict[str, str]:
    """The environment for our children: this checkout first on the path, logs unbuffered."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("NOTIFY_SOCKET", None)  # never talk to a real systemd
    env.pop("WATCHDOG_USEC", None)
    return env


def write_config(
    directory: Path, ttys: list[str], mqtt_port: int, *, meter_options: tuple[str, ...] = ()
) -> Path:
    """A configuration as a user would write it: key file 0600, no GPIO, our broker;
    `meter_options`: more TOML lines for one meter's table (e.g. `interface = "optical"`)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "mbk"
    key.write_text(DEMO_KEY)
    key.chmod(0o600)
    state = directory / "state"
    state.mkdir(exist_ok=True)
    lines = [f'state_directory = "{state}"', ""]
    if len(ttys) == 1:
        lines += ["[meter]", 'name = "m1"', f'key_file = "{key}"', *meter_options, ""]
        lines += ["[serial]"]
        lines += [f'port = "{ttys[0]}"', ""]
    else:
        for index, tty in enumerate(ttys, 1):
            lines += ["[[meters]]", f'name = "m{index}"', f'key_file = "{key}"']
            lines += ["[meters.serial]", f'port = "{tty}"', ""]
    lines += ["[gpio]", "enabled = false", ""]
    lines += ["[mqtt]", 'host = "127.0.0.1"', f"port = {mqtt_port}", ""]
    lines += ["[homeassistant]", f'gateway_id = "{GATEWAY_ID}"', ""]
    path = directory / "config.toml"
    path.write_text("\n".join(lines))
    return path


@dataclass
class SimHost:
    process: subprocess.Popen[str]
    ttys: list[str]
    serials: list[str]
    report_path: Path

    @classmethod
    def start(
        cls,
        meters: int,
        directory: Path,
        poll_interval_s: float,
        *,
        options: tuple[str, ...] = (),
    ) -> SimHost:
        """`options`: more simhost.py arguments (`--interface optical`, `--fault X=Y` ...)."""
        report = directory / "simhost.json"
        process = subprocess.Popen(
            [
                sys.executable,
                str(BENCH / "simhost.py"),
                "--meters",
                str(meters),
                "--report",
                str(report),
                "--poll-interval",
                str(poll_interval_s),
                *options,
            ],
            stdout=subprocess.PIPE,
            stderr=(directory / "simhost.log").open("w"),
            text=True,
            cwd=ROOT,
            env=child_env(),
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulator host did not start: {directory / 'simhost.log'}")
        header = json.loads(line)
        return cls(process, header["ttys"], header["serials"], report)

    def stop(self) -> dict[str, Any]:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)
        result: dict[str, Any] = json.loads(self.report_path.read_text())
        return result


def start_daemon(
    config: Path, log: IO[str], *, python_args: tuple[str, ...] = ()
) -> subprocess.Popen[str]:
    """`python -m mepd run --config FILE`, in a process of its own (its CPU and RSS only)."""
    return subprocess.Popen(
        [sys.executable, *python_args, "-m", "mepd", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
        cwd=ROOT,
        env=child_env(),
    )


def stop_daemon(process: subprocess.Popen[str], timeout_s: float = 15.0) -> float | None:
    """SIGTERM as systemd sends it; seconds until it exited (None: it had to be killed)."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None
    return time.monotonic() - started


# --- strace -------------------------------------------------------------------------------------

_STRACE_ROW = re.compile(
    r"^\s*(?P<pct>[\d.]+)\s+(?P<seconds>[\d.]+)\s+(?P<usecs>\d+)\s+(?P<calls>\d+)"
    r"\s+(?:(?P<errors>\d+)\s+)?(?P<name>\w+)\s*$"
)


def strace_available() -> str | None:
    """None if `strace -c -p` can be used here, else why not."""
    if shutil.which("strace") is None:
        return "strace is not installed"
    scope = Path("/proc/sys/kernel/yama/ptrace_scope")
    if os.geteuid() != 0 and scope.exists() and scope.read_text().strip() not in ("0",):
        return "ptrace is restricted (kernel.yama.ptrace_scope != 0 and not root)"
    return None


def strace_count(pid: int, seconds: float, directory: Path) -> dict[str, int] | str:
    """Syscalls by name over `seconds` (all threads), or why they could not be counted."""
    why = strace_available()
    if why:
        return why
    output = directory / "strace.txt"
    tracer = subprocess.Popen(
        ["strace", "-c", "-f", "-o", str(output), "-p", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(seconds)
    tracer.send_signal(signal.SIGINT)
    try:
        _, error = tracer.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        tracer.kill()
        return "strace did not detach"
    if not output.exists():
        return f"strace failed: {error.strip()[:200]}"
    counts: dict[str, int] = {}
    for line in output.read_text().splitlines():
        match = _STRACE_ROW.match(line)
        if match and match["name"] != "total":
            counts[match["name"]] = int(match["calls"])
    return counts or f"strace printed no counts: {error.strip()[:200]}"


class Rig:
    """Broker + simulator host + generated configuration, in a temporary directory."""

    def __init__(
        self,
        meters: int,
        directory: Path,
        poll_interval_s: float = 0.005,
        *,
        broker_nodelay: bool = True,
    ) -> None:
        from bench.broker import Broker  # noqa: PLC0415

        self.directory = directory
        self.broker = Broker(directory / "broker", nodelay=broker_nodelay)
        self.broker.start()
        try:
            self.sim = SimHost.start(meters, directory, poll_interval_s)
        except BaseException:
            self.broker.stop()
            raise
        self.config = write_config(directory / "config", self.sim.ttys, self.broker.port)

    def close(self) -> dict[str, Any] | None:
        report = None
        if self.sim.process.poll() is None:
            report = self.sim.stop()
        self.broker.stop()
        return report
