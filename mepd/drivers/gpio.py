"""The HAT's control lines through gpiozero: transceiver power, MEP ENABLE, sense, LEDs.

Cheap MAX3232-class transceivers latch up and go silent until their supply is cut
(hardware-notes.md); a power cycle from a GPIO cures them without touching the Pi. Plain
USB-RS232 cables have none of these lines: `NoLinkControl` stands in for them.

While the supply is off no logic line may feed the transceiver: a clone with input clamp
diodes would be half powered through them and keep its latch-up (hardware/pi-hat/DESIGN.md,
"No back-powering"). So the lines are parked low while it is off: GPIO23 (ENABLE) is driven
low, which on the HAT cannot raise ENABLE because both ENABLE drivers need the switched
supply, and TXD (GPIO14) is held low by a UART break, not by taking the pin from the UART.
After power-up the input collected while the receiver came up (a break, framing garbage) is
discarded before ENABLE is raised.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path
from typing import Any, Protocol

from mepd.errors import LinkError
from mepd.settings import GpioLines

log = logging.getLogger(__name__)

# hardware-notes.md: supply off for at least 1 s (1.1 s: margin for a slow load switch), then
# let the charge pump come up before ENABLE is raised. The community's "about 1 s" of waiting is
# generous for a pump that starts in milliseconds; 0.5 s keeps latch-up recovery under 5 s.
POWER_OFF_S = 1.1
POWER_SETTLE_S = 0.5


# The HAT+ EEPROM's product string (hardware/pi-hat/eeprom/mepd-hat-eeprom.txt). The firmware
# reads the EEPROM at boot and publishes its atoms under /proc/device-tree/hat/ (`product`,
# `vendor`, `uuid`, ...: NUL-terminated strings), whatever OS runs.
HAT_PRODUCT_PREFIX = "mepd "
HAT_PRODUCT_FILE = Path("proc/device-tree/hat/product")

_said_no_hat = False  # "no HAT: no GPIO" is said once per process, not once per meter


def hat_present(root: Path = Path("/")) -> bool:
    """Is the mepd HAT on the header? True only when its HAT+ EEPROM names it.

    `root` is the file system root (a tmp dir in tests). A Pi without an EEPROM'd HAT, or a
    PC, has no such file: no GPIO, so a USB adapter or `mepd simulate` works without a config.
    """
    try:
        product = (root / HAT_PRODUCT_FILE).read_bytes()
    except OSError:
        return False
    return product.rstrip(b"\0").decode("ascii", "replace").startswith(HAT_PRODUCT_PREFIX)


def link_control_for(
    lines: GpioLines | None,
    *,
    auto: bool,
    root: Path = Path("/"),
    **options: Any,
) -> LinkControl:
    """The HAT's lines when configured (or, for `auto`, when the HAT is found), else none.

    `options` go to `GpioLinkControl` (pin_factory, uart, timings).
    """
    global _said_no_hat  # noqa: PLW0603 - one message per process, however many meters
    if lines is None:
        return NoLinkControl()
    if auto and not hat_present(root):
        if not _said_no_hat:
            log.info(
                "no mepd HAT found (no %s): running without GPIO lines; set [gpio] "
                "enabled = true to use them anyway",
                root / HAT_PRODUCT_FILE,
            )
            _said_no_hat = True
        return NoLinkControl()
    return GpioLinkControl(lines, **options)


class UartLine(Protocol):
    """The serial port's side of a power cycle: TXD held low, and stale input dropped."""

    def set_break(self, on: bool) -> None:
        """Hold TXD low (a UART break) while on; idle high again when off."""
        ...

    def discard_input(self) -> int:
        """Drop what has been received so far; returns the number of bytes dropped."""
        ...


class LinkControl(Protocol):
    """What the recovery ladder may do to the hardware between the Pi and the meter."""

    @property
    def can_power_cycle(self) -> bool: ...

    def start(self) -> None:
        """Power the transceiver and tell the meter a client is attached."""
        ...

    def stop(self) -> None:
        """ENABLE off, transceiver off: the state the board powers up in."""
        ...

    async def power_cycle(self) -> None: ...

    def meter_present(self) -> bool | None:
        """True/False from the V+ sense line; None when there is no sense line."""
        ...

    def show_link(self, up: bool) -> None: ...

    def close(self) -> None: ...


class NoLinkControl:
    """A plain USB-RS232 cable: nothing to switch, nothing to sense."""

    can_power_cycle = False

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    async def power_cycle(self) -> None:
        pass

    def meter_present(self) -> bool | None:
        return None

    def show_link(self, up: bool) -> None:
        pass

    def close(self) -> None:
        pass


class GpioLinkControl:
    """The HAT's lines. `pin_factory` is gpiozero's (MockFactory in tests; None = default).

    `uart`, when given, is the port on the transceiver's logic side: held in a break while the
    supply is off and flushed after power-up. Without it TXD idles high into the switched-off
    transceiver through the board's 10 kOhm (at most 0.28 mA, sunk by the load switch's quick
    output discharge), and the session drops stale input before each request anyway.
    """

    def __init__(
        self,
        lines: GpioLines = GpioLines(),
        *,
        pin_factory: Any = None,
        power_off_s: float = POWER_OFF_S,
        settle_s: float = POWER_SETTLE_S,
        uart: UartLine | None = None,
    ) -> None:
        # gpiozero only when the HAT's lines are used: a USB adapter never needs its megabytes.
        from gpiozero import DigitalInputDevice, DigitalOutputDevice  # noqa: PLC0415
        from gpiozero.exc import GPIOZeroError  # noqa: PLC0415

        self._lines = lines
        self._uart = uart
        self._power_off_s = power_off_s
        self._settle_s = settle_s
        self._devices: list[Any] = []

        def output(pin: int | None, active_high: bool = True, initial: bool = False) -> Any:
            if pin is None:
                return None
            device = DigitalOutputDevice(
                pin, active_high=active_high, initial_value=initial, pin_factory=pin_factory
            )
            self._devices.append(device)
            return device

        try:
            with warnings.catch_warnings():
                # gpiozero warns (PinFactoryFallback) for each pin library it tries and
                # cannot load; the one LinkError below says what matters.
                warnings.simplefilter("ignore")
                # The supply is claimed off first; ENABLE is then parked (see `_park`). ENABLE is
                # driven by level, not through gpiozero's active_high, because its parked level
                # is a level, not "on" or "off".
                self._power = output(lines.transceiver_power, lines.transceiver_power_active_high)
                # without a supply switch the parked level is the inactive one (`_park`)
                parked_level = self._power is None and not lines.mep_enable_active_high
                self._enable = output(lines.mep_enable, initial=parked_level)
                self._park()
                self._link_led = output(lines.link_led)
                self._power_led = output(lines.power_led)
                self._sense = None
                if lines.meter_sense is not None:
                    self._sense = DigitalInputDevice(
                        lines.meter_sense,
                        pull_up=None,
                        active_state=lines.meter_sense_active_high,
                        pin_factory=pin_factory,
                    )
                    self._devices.append(self._sense)
        except (GPIOZeroError, OSError, RuntimeError) as error:
            self.close()
            raise LinkError(
                f"cannot use the GPIO lines ({error}). On a Pi, add the mepd user to the "
                f"'gpio' group; without the HAT, set [gpio] enabled = false or pass --no-gpio"
            ) from None

    @property
    def can_power_cycle(self) -> bool:
        return self._power is not None

    def _set_enable(self, asserted: bool) -> None:
        if self._enable is not None:
            self._enable.value = asserted == self._lines.mep_enable_active_high

    def _park(self) -> None:
        """Supply off: no logic line may feed the transceiver (module docstring).

        GPIO23 goes low whatever its polarity, but only with a supply switch: without one the
        transceiver stays powered and a low GPIO23 would assert an active-low ENABLE.
        """
        if self._power is None:
            self._set_enable(False)
            return
        if self._enable is not None:
            self._enable.off()
        if self._uart is not None:
            self._uart.set_break(True)

    def _power_up(self) -> None:
        """ENABLE inactive before the supply rises (it would otherwise follow the rail)."""
        self._set_enable(False)
        if self._power is not None:
            self._power.on()
        if self._uart is not None:
            self._uart.set_break(False)
        if self._power_led is not None:
            self._power_led.on()

    def _flush(self) -> None:
        """Drop what the receiver made of the power-up (a break, framing garbage)."""
        if self._uart is not None:
            dropped = self._uart.discard_input()
            if dropped:
                log.debug("dropped %d bytes received while the transceiver powered up", dropped)

    def start(self) -> None:
        self._power_up()
        self._flush()
        self._set_enable(True)

    def stop(self) -> None:
        self._set_enable(False)
        if self._power is not None:
            self._power.off()
        self._park()
        if self._power_led is not None:
            self._power_led.off()
        self.show_link(False)

    async def power_cycle(self) -> None:
        """ENABLE off, supply off (lines parked) at least 1 s, on, settle, flush, ENABLE on."""
        self.stop()
        await asyncio.sleep(self._power_off_s)
        self._power_up()
        await asyncio.sleep(self._settle_s)
        self._flush()
        self._set_enable(True)

    def meter_present(self) -> bool | None:
        return None if self._sense is None else bool(self._sense.value)

    def show_link(self, up: bool) -> None:
        if self._link_led is not None:
            self._link_led.value = up

    def close(self) -> None:
        for device in reversed(self._devices):
            device.close()
        self._devices.clear()
