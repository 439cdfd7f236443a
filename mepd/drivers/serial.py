"""The serial port (pyserial-asyncio): 9600 8N1 by default, exclusive, and honest errors.

A USB adapter can vanish and come back; the port then raises `LinkError`, and the recovery
ladder above reopens it. Permission problems name the group the user has to join.
"""

from __future__ import annotations

import asyncio
import errno
import grp
import logging
import os
from pathlib import Path

import serial
import serial_asyncio

from mepd.errors import LinkError
from mepd.protocol.timing import DEFAULT_BAUD

log = logging.getLogger(__name__)


class _Receiver(asyncio.Protocol):
    """Collects bytes from the event loop; the port reads them on demand."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.arrived = asyncio.Event()
        self.lost: Exception | None = None
        self.closed = False

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.arrived.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.lost = exc
        self.arrived.set()


# c1218 notes §1.1: optical probes powered from the RS-232 control lines need RTS on and DTR
# off; termineter, the openHAB binding and its fork set them so after opening, and a commercial
# C12 stack (MS) gives the probe 50 ms to power up. USB FTDI heads ignore both lines.
IR_HEAD_RTS = True
IR_HEAD_DTR = False
IR_HEAD_POWER_UP_S = 0.05


class SerialPort:
    """A `Transport` over a tty: a Pi UART, a USB adapter or a pty."""

    def __init__(
        self,
        path: str,
        baud: int = DEFAULT_BAUD,
        *,
        exclusive: bool = True,
        ir_head: bool = False,
    ) -> None:
        """`ir_head`: an optical IR head, whose probe may live on RTS and DTR."""
        self._path = path
        self._baud = baud
        self._exclusive = exclusive
        self._ir_head = ir_head
        self._transport: asyncio.BaseTransport | None = None
        self._break = False
        self._receiver: _Receiver | None = None

    @property
    def description(self) -> str:
        return self._path

    @property
    def baud(self) -> int:
        return self._baud

    @property
    def is_open(self) -> bool:
        return self._receiver is not None and not self._receiver.closed

    async def open(self) -> None:
        await self.close()
        loop = asyncio.get_running_loop()
        receiver = _Receiver()
        try:
            transport, _ = await serial_asyncio.create_serial_connection(
                loop,
                lambda: receiver,
                self._path,
                baudrate=self._baud,
                bytesize=serial.EIGHTBITS,
                parity=serial.PARITY_NONE,  # the guide names no format; 8N1 (notes §5)
                stopbits=serial.STOPBITS_ONE,
                exclusive=self._exclusive,
            )
        except (serial.SerialException, OSError) as error:
            raise LinkError(describe_open_failure(self._path, error)) from None
        self._transport, self._receiver = transport, receiver
        self._apply_break()
        if self._ir_head:
            power_ir_head(getattr(transport, "serial", None), self._path)
            await asyncio.sleep(IR_HEAD_POWER_UP_S)
        # pyserial-asyncio connects the protocol and starts reading in callbacks it has only
        # scheduled: let them run, so the port reads (and can be paused) once open returns.
        await asyncio.sleep(0)
        log.debug("opened %s at %d baud", self._path, self._baud)

    def set_break(self, on: bool) -> None:
        """Hold TXD low (a UART break) while `on`: the HAT parks its logic lines this way while
        the transceiver's supply is off (hardware/pi-hat/DESIGN.md, "No back-powering").

        Remembered while the port is closed and applied when it opens. An adapter that cannot
        send a break is not an error: the HAT's series resistor limits what TXD can feed.
        """
        self._break = on
        self._apply_break()

    @property
    def break_held(self) -> bool:
        """Whether the open port holds TXD in a break now (False while closed)."""
        port = getattr(self._transport, "serial", None)
        return bool(port is not None and port.break_condition)

    def _apply_break(self) -> None:
        port = getattr(self._transport, "serial", None)
        if port is None:
            return
        try:
            port.break_condition = self._break
        except (serial.SerialException, OSError) as error:
            log.debug("%s cannot hold a break: %s", self._path, error)

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            await asyncio.sleep(0)  # let the loop run connection_lost
        self._transport = None
        self._receiver = None

    async def write(self, data: bytes) -> None:
        receiver = self._live()
        transport = self._transport
        assert isinstance(transport, asyncio.WriteTransport)
        try:
            transport.write(data)
        except (serial.SerialException, OSError) as error:
            raise LinkError(f"writing to {self._path} failed: {error}") from None
        if receiver.closed:
            raise self._lost(receiver)

    async def read(self, wait_s: float) -> bytes:
        receiver = self._live()
        if not receiver.buffer:
            receiver.arrived.clear()
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # races with the data arriving, and the poll loop would never stop.
            try:
                async with asyncio.timeout(wait_s):
                    await receiver.arrived.wait()
            except TimeoutError:
                return b""
        data = bytes(receiver.buffer)
        receiver.buffer.clear()
        if not data and receiver.closed:
            raise self._lost(receiver)
        return data

    def pause_reading(self) -> None:
        """Take the port off the event loop's selector: bytes wait in the tty's buffer (4 KiB
        on Linux, several frames) and wake nobody until `resume_reading()`."""
        if isinstance(self._transport, asyncio.ReadTransport) and self.is_open:
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        """Back on the selector; what came meanwhile arrives in one read."""
        if isinstance(self._transport, asyncio.ReadTransport) and self.is_open:
            self._transport.resume_reading()

    def discard_input(self) -> int:
        if self._receiver is None:
            return 0
        dropped = len(self._receiver.buffer)
        self._receiver.buffer.clear()
        return dropped

    def _live(self) -> _Receiver:
        receiver = self._receiver
        if receiver is None:
            raise LinkError(f"{self._path} is not open")
        if receiver.closed and not receiver.buffer:
            raise self._lost(receiver)
        return receiver

    def _lost(self, receiver: _Receiver) -> LinkError:
        reason = f": {receiver.lost}" if receiver.lost else ""
        return LinkError(f"{self._path} went away{reason} (unplugged?)")


def power_ir_head(port: serial.SerialBase | None, path: str) -> None:
    """RTS on, DTR off: the supply of a probe powered from the control lines (notes §1.1).
    A port without modem lines (a pty, a socket URL) is not an error: its head needs none."""
    if port is None:
        return
    try:
        port.rts = IR_HEAD_RTS
        port.dtr = IR_HEAD_DTR
    except (serial.SerialException, OSError) as error:
        log.debug("%s has no RTS/DTR to power an IR probe: %s", path, error)


def describe_open_failure(path: str, error: BaseException) -> str:
    """One line that says what is wrong with the port and how to fix it."""
    code = getattr(error, "errno", None)
    text = str(error)
    if code == errno.ENOENT or "No such file" in text or not os.path.exists(path):
        return (
            f"serial port {path} does not exist. Check the cable or adapter, the path "
            f"(ls -l /dev/serial* /dev/ttyUSB* /dev/ttyAMA*), and on a Pi that the UART is "
            f"enabled (enable_uart=1 in config.txt); `mepd doctor` checks all of this"
        )
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        group = _owning_group(path)
        return (
            f"no permission to open {path}: add the mepd user to the '{group}' group "
            f"(sudo usermod -aG {group} $USER, then log in again), or use the systemd unit, "
            f"which has it"
        )
    if code == errno.EBUSY or "busy" in text.lower() or "exclusive" in text.lower():
        return (
            f"{path} is in use by another program (a serial console, ModemManager, or a "
            f"second mepd); stop it or remove console=serial0 from cmdline.txt"
        )
    return f"cannot open serial port {path}: {text}"


def _owning_group(path: str) -> str:
    try:
        return grp.getgrgid(Path(path).stat().st_gid).gr_name
    except (OSError, KeyError):
        return "dialout"
