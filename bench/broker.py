"""A real Mosquitto on a free loopback port, for the benchmarks (no TLS, no passwords).

The bench is not a test, so it carries its own launcher (tests/mosquitto.py may change
under the tests' feet). `restart()` keeps the port, as a `systemctl restart mosquitto` would.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = Path("/usr/sbin/mosquitto")
START_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def find_mosquitto() -> Path | None:
    if MOSQUITTO.exists():
        return MOSQUITTO
    found = shutil.which("mosquitto")
    return Path(found) if found else None


class Broker:
    def __init__(self, workdir: Path, port: int | None = None, *, nodelay: bool = True) -> None:
        binary = find_mosquitto()
        if binary is None:
            raise RuntimeError(
                "mosquitto is not installed (Debian: apt-get install mosquitto, or "
                "scripts/setup --test); the benchmarks need a real broker"
            )
        self.binary = binary
        self.workdir = workdir
        self.port = port or free_port()
        self.nodelay = nodelay
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start and wait until the port accepts connections; returns that monotonic time."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "mosquitto.conf"
        config.write_text(
            "\n".join(
                [
                    f"user {getpass.getuser()}",
                    "persistence false",
                    f"log_dest file {self.workdir / 'mosquitto.log'}",
                    "log_type error",
                    "log_type warning",
                    f"listener {self.port} 127.0.0.1",
                    "allow_anonymous true",
                    # Nagle off towards subscribers: what the bench's subscriber receives is
                    # then what reached the broker, without a delayed-ACK stall of its own
                    # (Mosquitto's default is false: --broker-nagle keeps it).
                    f"set_tcp_nodelay {'true' if self.nodelay else 'false'}",
                ]
            )
            + "\n"
        )
        self.process = subprocess.Popen(
            [str(self.binary), "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited at start (port {self.port})")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return time.monotonic()
            except OSError:
                time.sleep(0.005)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on port {self.port}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> tuple[float, float]:
        """Stop, then start on the same port: (monotonic when it went down, when it was back)."""
        self.stop()
        down = time.monotonic()
        return down, self.start()

    def __enter__(self) -> Broker:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
