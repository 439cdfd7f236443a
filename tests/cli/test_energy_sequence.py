"""Issue 14's script through real processes: `mepd run`, `mepd simulate`, a real Mosquitto.

Restart mepd, lose the state file, corrupt it, restart the simulator, a persistent
+117,000 kWh glitch on the import register, a -1000 kWh step; through all of it every energy
topic's published values never fall and never rise faster than the fuse allows. Then the
owner runs `mepd accept-energy` and the held value is published. Short read periods keep it
within about 20 s; the simulator is reached through a symlink, so it can be restarted under a
running mepd (which reopens the port).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from mepd.settings import PlausibilityLimits
from tests.mosquitto import Listener, Message, Mosquitto
from tests.processes import PYTHON, simulator

SERIAL = "SIM-GEN4-0001"
ENERGY = f"mepd/meter/{SERIAL}/energy"
HELD = f"mepd/meter/{SERIAL}/energy_held"
LIMITS = PlausibilityLimits()  # the configuration's defaults: 3 x 63 A
GLITCH_WH = 117_000_000
STEP_WH = -1_000_000


@contextmanager
def daemon(config: Path, broker: Mosquitto, port: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [
            *(PYTHON, "-m", "mepd", "run", "--config", str(config), "--serial", str(port)),
            *("--mqtt", f"mqtt://127.0.0.1:{broker.port}"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


class Script:
    """One mepd and one simulator at a time, each restartable."""

    def __init__(self, tmp_path: Path, config: Path, broker: Mosquitto) -> None:
        self.port = tmp_path / "mep0"  # a symlink to the simulator's current tty
        self.config, self.broker = config, broker
        self.state_directory = tmp_path / "state"
        self._mepd: ExitStack | None = None
        self._simulator: ExitStack | None = None
        self.logs: list[str] = []

    def start_simulator(self, *faults: str) -> None:
        stack = ExitStack()
        tty = stack.enter_context(simulator(*(f"--fault={fault}" for fault in faults)))
        link = self.port.with_name("mep0.new")
        link.symlink_to(tty)
        os.replace(link, self.port)
        if self._simulator is not None:
            self._simulator.close()
        self._simulator = stack

    def start_mepd(self) -> None:
        self.stop_mepd()
        stack = ExitStack()
        self._process = stack.enter_context(daemon(self.config, self.broker, self.port))
        self._mepd = stack

    def stop_mepd(self) -> None:
        if self._mepd is not None:
            self._mepd.close()
            assert self._process.returncode == 0
            self.logs.append(self._process.stderr.read() if self._process.stderr else "")
            self._mepd = None

    def state_file(self) -> Path:
        """The meter's state file (named by its serial; the configured name links to it)."""
        (path,) = [p for p in self.state_directory.glob("*.json") if not p.is_symlink()]
        return path

    def close(self) -> None:
        self.stop_mepd()
        if self._simulator is not None:
            self._simulator.close()


async def _wait_energy(listener: Listener, count: int = 1, within_s: float = 20.0) -> None:
    """One energy reading after a (re)start: each is checked against the last one published
    before it, by the previous process; the readings within one run are the soak's subject."""
    since = time.monotonic()
    await listener.wait_for(lambda m: m.topic == ENERGY and m.at > since, count, within_s)


async def _wait_held(
    listener: Listener,
    test: Callable[[dict[str, Decimal]], bool],
    within_s: float = 20.0,
    since: float | None = None,
) -> dict[str, Decimal]:
    since = time.monotonic() if since is None else since
    found = await listener.wait_for(
        lambda m: m.topic == HELD and m.at > since and test(_decimals(m)), 1, within_s
    )
    return _decimals(found[0])


def _decimals(message: Message) -> dict[str, Decimal]:
    """The payload's numbers as exact decimals (booleans stay booleans: see `_flag`)."""
    return json.loads(message.payload, parse_float=Decimal)  # type: ignore[no-any-return]


def _flag(payload: dict[str, Decimal], key: str) -> object:
    value: object = payload[key]
    return value


def _glitched(held: dict[str, Decimal]) -> bool:
    return bool(held["energy_held"]) and held["held_kwh"] > held["last_published_kwh"] + 100_000


def _stepped_back(held: dict[str, Decimal]) -> bool:
    return bool(held["energy_held"]) and held["held_kwh"] < held["last_published_kwh"] - 900


def _assert_physics(messages: list[Message]) -> int:
    """Every register in the energy payloads: never down, never faster than the fuse."""
    series: dict[str, list[tuple[float, Decimal]]] = {}
    for message in messages:
        payload = _decimals(message)
        moment = datetime.fromisoformat(str(payload.pop("ts"))).timestamp()
        for name, kwh in payload.items():
            series.setdefault(name, []).append((moment, kwh))
    assert "energy_import" in series
    for name, values in series.items():
        for (t0, kwh0), (t1, kwh1) in itertools.pairwise(values):
            rise_wh = (kwh1 - kwh0) * 1000
            assert rise_wh >= 0, f"{name} fell from {kwh0} to {kwh1} kWh"
            allowed = Decimal(repr(LIMITS.max_energy_increase_wh(t1 - t0)))
            assert rise_wh <= allowed, f"{name} rose {rise_wh} Wh in {t1 - t0:.1f} s"
    return sum(len(values) for values in series.values())


@pytest.mark.asyncio
async def test_a_scripted_sequence_never_publishes_a_fall_or_a_jump(
    daemon_config: Path, broker: Mosquitto, tmp_path: Path
) -> None:
    # One BT28 and one BT23 read per period: 1/8 + 1/1.5 + 1/300 = 0.79 reads/s (p.51).
    with daemon_config.open("a") as config:
        config.write("[schedule]\npresent_s = 8\nenergy_s = 1.5\n")
    script = Script(tmp_path, daemon_config, broker)
    started = time.monotonic()
    with Listener(broker.port, ("mepd/#",)) as listener:
        try:
            script.start_simulator()
            script.start_mepd()
            await _wait_energy(listener)
            script.start_mepd()  # restart mepd
            await _wait_energy(listener)
            script.stop_mepd()  # lose the state file
            script.state_file().unlink()
            script.start_mepd()
            await _wait_energy(listener)
            script.stop_mepd()  # corrupt the state file
            script.state_file().write_bytes(b'{"version": 1, "energy": {"energy_import": [1e3')
            script.start_mepd()
            await _wait_energy(listener)
            script.start_simulator()  # restart the simulator under a running mepd
            since = time.monotonic()
            await listener.wait_for(lambda m: m.topic in (ENERGY, HELD) and m.at > since, 1, 20.0)
            script.start_simulator(f"energy_offset_wh={GLITCH_WH}")  # +117,000 kWh
            glitch = await _wait_held(listener, _glitched)
            script.start_simulator(f"energy_offset_wh={STEP_WH}")  # -1000 kWh
            step = await _wait_held(listener, _stepped_back)
            before_accept = time.monotonic()
            accepted = await asyncio.to_thread(
                subprocess.run,
                [PYTHON, "-m", "mepd", "accept-energy", "--config", str(daemon_config)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert accepted.returncode == 0, accepted.stderr
            assert "the next energy reading will be the new baseline" in accepted.stdout
            after = await listener.wait_for(
                lambda m: (
                    m.topic == ENERGY and m.at > before_accept and "energy_import" in m.json()
                ),
                1,
                20.0,
            )
            cleared = await _wait_held(
                listener, lambda held: not held["energy_held"], since=before_accept
            )
        finally:
            script.close()
    elapsed = time.monotonic() - started

    published = [m for m in listener.messages if m.topic == ENERGY and m.at < before_accept]
    checked = _assert_physics(published)
    assert len(published) >= 4  # one energy read or more after each of the four mepd starts
    assert glitch["register"] == "energy_import"
    assert "the fuse allows" in str(glitch["reason"])
    assert "went down" in str(step["reason"])
    # The owner's word publishes the held value, 1000 kWh below the last published one.
    accepted_kwh = _decimals(after[0])["energy_import"]
    assert accepted_kwh < step["last_published_kwh"] - 900
    assert _flag(cleared, "energy_held") is False
    assert not list(script.state_directory.glob("*.accept-energy"))
    logs = "\n".join(script.logs)
    assert "Traceback" not in logs
    assert "is not a mepd state file" in logs  # the corrupt one was set aside, said once
    assert "carried out `mepd accept-energy`" in logs
    print(f"\nscripted sequence: {checked} energy values checked in {elapsed:.1f} s")
