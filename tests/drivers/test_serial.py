"""The serial driver over a real pseudo-terminal, and its error messages."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from mepd.drivers.serial import SerialPort, describe_open_failure, power_ir_head
from mepd.drivers.transport import ReadPausing
from mepd.errors import LinkError


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    yield master, path
    for fd in (master, slave):
        with contextlib.suppress(OSError):
            os.close(fd)


@pytest.mark.asyncio
async def test_bytes_flow_both_ways(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    port = SerialPort(path)
    await port.open()
    await port.write(b"\x00\x14request")
    await asyncio.sleep(0.05)
    assert os.read(master, 100) == b"\x00\x14request"
    os.write(master, b"\x00\x37answer")
    assert await port.read(1.0) == b"\x00\x37answer"
    assert await port.read(0.05) == b""
    await port.close()


@pytest.mark.asyncio
async def test_discard_input_drops_what_already_arrived(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    port = SerialPort(path)
    await port.open()
    os.write(master, b"stale")
    await asyncio.sleep(0.05)
    assert port.discard_input() == 5
    assert await port.read(0.05) == b""
    await port.close()


@pytest.mark.asyncio
async def test_a_paused_port_leaves_bytes_in_the_tty_until_resumed(
    pty_pair: tuple[int, str],
) -> None:
    master, path = pty_pair
    port = SerialPort(path)
    await port.open()
    assert isinstance(port, ReadPausing)
    port.pause_reading()
    for piece in (b"\x00\x05", b"ans", b"wer"):
        os.write(master, piece)
        await asyncio.sleep(0.01)
    assert port.discard_input() == 0  # nothing taken from the tty while paused
    port.resume_reading()
    assert await port.read(1.0) == b"\x00\x05answer"  # all of it, in one read
    await port.close()
    port.pause_reading()  # closed: nothing to pause, no error
    port.resume_reading()


@pytest.mark.asyncio
async def test_exclusive_open_refuses_a_second_user(pty_pair: tuple[int, str]) -> None:
    _, path = pty_pair
    first = SerialPort(path)
    await first.open()
    with pytest.raises(LinkError, match="in use"):
        await SerialPort(path).open()
    await first.close()


@pytest.mark.asyncio
async def test_a_missing_port_says_how_to_find_it() -> None:
    with pytest.raises(LinkError) as caught:
        await SerialPort("/dev/does-not-exist-mep0").open()
    message = str(caught.value)
    assert "does not exist" in message
    assert "mepd doctor" in message


def test_permission_denied_names_the_group(tmp_path: object) -> None:
    error = PermissionError(errno.EACCES, "Permission denied")
    message = describe_open_failure("/dev/null", error)
    assert "no permission to open /dev/null" in message
    assert "usermod -aG" in message


@pytest.mark.asyncio
async def test_reading_a_closed_port_is_a_link_error() -> None:
    with pytest.raises(LinkError, match="not open"):
        await SerialPort("/dev/null").read(0.01)


@pytest.mark.asyncio
async def test_a_vanished_device_is_a_link_error_not_a_hang(tmp_path: Path) -> None:
    # A USB adapter pulled out: the far side of the pty goes away.
    master, slave = os.openpty()
    tty.setraw(slave)
    link = tmp_path / "mep0"  # opened by a stable name, as /dev/serial/by-id/... would be
    link.symlink_to(os.ttyname(slave))
    port = SerialPort(str(link))
    await port.open()
    os.close(master)
    os.close(slave)

    async def read_until_gone() -> None:
        for _ in range(20):
            await port.read(0.05)

    with pytest.raises(LinkError, match="went away"):
        await read_until_gone()
    await port.close()
    # Plugged back in (a new device behind the same name): a reopen works.
    master, slave = os.openpty()
    tty.setraw(slave)
    link.unlink()
    link.symlink_to(os.ttyname(slave))
    await port.open()
    os.write(master, b"back")
    assert await port.read(1.0) == b"back"
    await port.close()
    os.close(master)
    os.close(slave)


@pytest.mark.asyncio
async def test_a_break_asked_for_while_closed_is_held_once_the_port_opens(
    pty_pair: tuple[int, str],
) -> None:
    # The HAT parks TXD low (a break) while the transceiver is off (DESIGN.md).
    _, path = pty_pair
    port = SerialPort(path)
    port.set_break(True)  # closed: remembered
    await port.open()
    held = port.break_held
    port.set_break(False)
    released = port.break_held
    await port.close()
    port.set_break(True)  # closed again: no error
    assert (held, released, port.break_held) == (True, False, False)


class _ProbeLines(serial.SerialBase):  # type: ignore[misc]  # pyserial has no types
    """A port that records its control lines, as an RS-232-powered IR probe sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, bool]] = []

    def _update_rts_state(self) -> None:
        self.lines.append(("rts", self._rts_state))

    def _update_dtr_state(self) -> None:
        self.lines.append(("dtr", self._dtr_state))


def test_an_ir_head_gets_rts_on_and_dtr_off() -> None:
    port = _ProbeLines()
    port.is_open = True
    power_ir_head(port, "/dev/ir0")
    assert port.lines == [("rts", True), ("dtr", False)]  # c1218 notes §1.1


@pytest.mark.asyncio
async def test_an_ir_head_on_a_port_without_modem_lines_still_opens(
    pty_pair: tuple[int, str],
) -> None:
    master, path = pty_pair  # a pty has no RTS/DTR (ENOTTY): an FTDI-like head needs none
    port = SerialPort(path, ir_head=True)
    await port.open()
    os.write(master, b"\x06")
    assert await port.read(1.0) == b"\x06"
    await port.close()
