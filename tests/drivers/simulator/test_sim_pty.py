"""A protocol client over a real pseudo-terminal at 9600 baud, and `mepd simulate`."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import termios
import time
import tty
from pathlib import Path

import pytest

from mepd.drivers.simulator.driver import PtyMeter
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.profiles import PROFILES
from mepd.protocol import (
    Complete,
    Exchange,
    Frame,
    FrameDecoder,
    MepKey,
    PartialRead,
    SequenceCounter,
)
from mepd.protocol.tables.bt01 import decode_bt01
from mepd.protocol.tables.bt21 import decode_bt21
from mepd.protocol.tables.bt23 import bt23_size, decode_bt23_summations
from mepd.protocol.tables.bt28 import bt28_size, decode_bt28
from mepd.protocol.tables.bt52 import decode_bt52
from mepd.protocol.tables.ids import BT01, BT21, BT23, BT28, BT52
from mepd.protocol.tables.measurements import Measurements
from mepd.protocol.timing import MIN_REQUEST_SPACING_S

KEY = MepKey.parse(DEMO_MBK)
MEPD = Path(sys.executable).with_name("mepd")


def open_raw(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[4] = attrs[5] = termios.B9600
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    return fd


class AsyncPtyClient:
    """A client on the event loop: one frame out, wait for one frame back (or time out)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.decoder = FrameDecoder()
        self.frames: asyncio.Queue[bytes] = asyncio.Queue()
        self.counter = SequenceCounter(0)
        asyncio.get_running_loop().add_reader(fd, self._readable)

    def _readable(self) -> None:
        for event in self.decoder.feed(os.read(self.fd, 4096)):
            if isinstance(event, Frame):
                self.frames.put_nowait(event.body)

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.fd)
        os.close(self.fd)

    async def read(self, table: int, offset: int, count: int) -> bytes:
        exchange = Exchange(PartialRead(table, offset, count), KEY, self.counter)
        send = exchange.start()
        while True:
            await asyncio.sleep(MIN_REQUEST_SPACING_S + 0.01)  # p.21
            os.write(self.fd, send.frame)
            try:
                body = await asyncio.wait_for(self.frames.get(), timeout=1.5)
            except TimeoutError:
                send = exchange.on_timeout()
                continue
            outcome = exchange.on_response(body)
            if isinstance(outcome, Complete):
                return outcome.response.data
            send = outcome


def raw(measurements: Measurements, name: str) -> int:
    """The raw value of register `name`, which the meter must have sent."""
    found = measurements.get(name)
    assert found is not None, f"no {name}"
    return found.raw


@pytest.mark.asyncio
@pytest.mark.parametrize("profile", ["gen3", "gen4"])
async def test_client_reads_a_consistent_meter_over_a_pty(profile: str) -> None:
    port = simulated_meter(
        PROFILES[profile], seed=3, epoch=time.monotonic(), start_wall=1_718_971_200.0
    )
    async with PtyMeter(port) as meter:
        client = AsyncPtyClient(open_raw(meter.path))
        try:
            started = time.monotonic()
            clock = decode_bt52(await client.read(BT52, 0, 7))  # first one resyncs (0x0C)
            assert port.stats.sequence_errors == 1
            info = decode_bt01(await client.read(BT01, 0, 24))
            dims = decode_bt21(await client.read(BT21, 0, 10))
            a_size = 1 if dims.demand_reset_counter else 0
            first = decode_bt23_summations(await client.read(BT23, 0, a_size + 16), dims)
            present = decode_bt28(await client.read(BT28, 0, bt28_size(dims)), dims)
            second = decode_bt23_summations(await client.read(BT23, 0, a_size + 16), dims)
            later = decode_bt52(await client.read(BT52, 0, 7))
            elapsed = time.monotonic() - started
        finally:
            client.close()
    assert info.manufacturer in ("NES", "ELON")
    assert info.firmware.major == PROFILES[profile].firmware.major
    assert (dims.summations, bt23_size(dims) > 465) == (
        {"gen3": (11, False), "gen4": (19, True)}[profile]
    )
    values = present.values
    per_phase = sum(
        raw(values, f"power_import_l{n}") - raw(values, f"power_export_l{n}") for n in (1, 2, 3)
    )
    assert raw(values, "power_import") - raw(values, "power_export") == per_phase
    assert raw(values, "power_export_l1") > 0  # noon: the inverter phase exports
    for name in ("energy_import", "energy_export"):
        assert raw(second.summations, name) >= raw(first.summations, name)
    assert later.time >= clock.time
    # 9600 baud is 960 bytes/s: the BT28 frame alone takes a measurable time.
    assert elapsed > (bt28_size(dims) + 11) / 960


def blocking_exchange(
    fd: int, counter: SequenceCounter, table: int, count: int, key: MepKey = KEY
) -> bytes:
    exchange = Exchange(PartialRead(table, 0, count), key, counter)
    send = exchange.start()
    decoder = FrameDecoder()
    for _ in range(4):
        time.sleep(0.11)
        os.write(fd, send.frame)
        deadline = time.monotonic() + 1.5
        body = None
        while body is None and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                frames = [e for e in decoder.feed(os.read(fd, 4096)) if isinstance(e, Frame)]
                body = frames[0].body if frames else None
        outcome = exchange.on_response(body) if body else exchange.on_timeout()
        if isinstance(outcome, Complete):
            return outcome.response.data
        send = outcome
    raise AssertionError("no answer from the simulator")


def test_mepd_simulate_prints_the_tty_and_serves_it() -> None:
    process = subprocess.Popen(
        [str(MEPD), "simulate", "--profile", "gen3", "--seed", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        path = process.stdout.readline().strip()
        assert path.startswith("/dev/")
        fd = open_raw(path)
        try:
            data = blocking_exchange(fd, SequenceCounter(0), BT01, 16)
        finally:
            os.close(fd)
        assert data[:4] == b"NES "
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    "arguments",
    [["--fault", "no_such_fault=1"], ["--fault", "tx_drop_rate=lots"], ["--key", "too short"]],
)
def test_mepd_simulate_rejects_bad_arguments_in_one_line(arguments: list[str]) -> None:
    result = subprocess.run(
        [str(MEPD), "simulate", *arguments],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


@pytest.mark.asyncio
async def test_in_process_link_paces_segments_at_the_baud_rate() -> None:
    from mepd.drivers.simulator.driver import InProcessLink
    from mepd.protocol import sign_request

    port = simulated_meter(
        PROFILES["gen4"], seed=1, epoch=time.monotonic(), response_delay_s=(0.04, 0.04)
    )
    port.meter.sequence = 99
    async with InProcessLink(port) as link:
        signed = sign_request(PartialRead(BT28, 0, 300), 100, KEY)
        sent = time.monotonic()
        link.write(signed.frame)
        decoder, arrivals, frame = FrameDecoder(), [], None
        while frame is None:
            chunk = await asyncio.wait_for(link.read(), timeout=2)
            arrivals.append(time.monotonic())
            frames = [e for e in decoder.feed(chunk) if isinstance(e, Frame)]
            frame = frames[0] if frames else None
    size = 2 + len(frame.body)  # 2 + 1 + 2 + 300 + 8 = 313 bytes: 3 segments, 2 gaps
    assert arrivals[0] - sent >= 0.035  # the response delay
    expected = size / 960 + 2 * 0.025
    assert expected * 0.9 <= arrivals[-1] - arrivals[0] + 0.004 <= expected + 0.1


SECRET_KEY = "Zq-simulated-key-042"  # 20 printable characters: a valid MBK


def test_mepd_simulate_reads_its_key_from_a_file_not_the_command_line(tmp_path: Path) -> None:
    """Issue 18 item 9: `simulate --key` showed the key to every user in `ps`."""
    key_file = tmp_path / "mbk"
    key_file.write_text(SECRET_KEY + "\n")
    key_file.chmod(0o600)
    process = subprocess.Popen(
        [str(MEPD), "simulate", "--profile", "gen3", "--key-file", str(key_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        path = process.stdout.readline().strip()
        command_line = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        assert SECRET_KEY.encode() not in command_line
        fd = open_raw(path)
        try:
            key = MepKey.parse(SECRET_KEY)
            data = blocking_exchange(fd, SequenceCounter(0), BT01, 16, key=key)
        finally:
            os.close(fd)
        assert data[:4] == b"NES "
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "warning" not in stderr
    assert SECRET_KEY not in stderr


def test_mepd_simulate_refuses_a_key_file_others_can_read(tmp_path: Path) -> None:
    key_file = tmp_path / "mbk"
    key_file.write_text(SECRET_KEY)
    key_file.chmod(0o644)
    result = subprocess.run(
        [str(MEPD), "simulate", "--key-file", str(key_file)],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 2
    assert "chmod 600" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert SECRET_KEY not in result.stderr


def test_mepd_simulate_warns_about_a_key_on_the_command_line() -> None:
    process = subprocess.Popen(
        [str(MEPD), "simulate", "--key", SECRET_KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("/dev/")
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert "visible to every user in ps" in stderr
    assert SECRET_KEY not in stderr
