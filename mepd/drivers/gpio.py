"""The HAT's control lines through gpiozero: transceiver power, MEP ENABLE, sense, LEDs.

Cheap MAX3232-class transceivers latch up and go silent until their supply is cut
(hardware-notes.md); a power cycle from a GPIO cures them without touching the Pi. Plain
USB-RS232 cables have none of these lines: `NoLinkControl` stands in for them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from mepd.errors import LinkError
from mepd.settings import GpioLines

log = logging.getLogger(__name__)

# hardware-notes.md: supply off for at least 1 s (1.1 s: margin for a slow load switch), then
# let the charge pump come up before ENABLE is raised. The community's "about 1 s" of waiting is
# generous for a pump that starts in milliseconds; 0.5 s keeps latch-up recovery under 5 s.
POWER_OFF_S = 1.1
POWER_SETTLE_S = 0.5


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
    """The HAT's lines. `pin_factory` is gpiozero's (MockFactory in tests; None = default)."""

    def __init__(
        self,
        lines: GpioLines = GpioLines(),
        *,
        pin_factory: Any = None,
        power_off_s: float = POWER_OFF_S,
        settle_s: float = POWER_SETTLE_S,
    ) -> None:
        # gpiozero only when the HAT's lines are used: a USB adapter never needs its megabytes.
        from gpiozero import DigitalInputDevice, DigitalOutputDevice  # noqa: PLC0415
        from gpiozero.exc import GPIOZeroError  # noqa: PLC0415

        self._lines = lines
        self._power_off_s = power_off_s
        self._settle_s = settle_s
        self._devices: list[Any] = []

        def output(pin: int | None, active_high: bool = True) -> Any:
            if pin is None:
                return None
            device = DigitalOutputDevice(
                pin, active_high=active_high, initial_value=False, pin_factory=pin_factory
            )
            self._devices.append(device)
            return device

        try:
            # Order matters at start-up: ENABLE is claimed (inactive) before power comes on.
            self._enable = output(lines.mep_enable, lines.mep_enable_active_high)
            self._power = output(lines.transceiver_power, lines.transceiver_power_active_high)
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
                f"'gpio' group; without the HAT, set [gpio] enabled = false"
            ) from None

    @property
    def can_power_cycle(self) -> bool:
        return self._power is not None

    def start(self) -> None:
        if self._power is not None:
            self._power.on()
        if self._power_led is not None:
            self._power_led.on()
        if self._enable is not None:
            self._enable.on()

    def stop(self) -> None:
        if self._enable is not None:
            self._enable.off()
        if self._power is not None:
            self._power.off()
        if self._power_led is not None:
            self._power_led.off()
        self.show_link(False)

    async def power_cycle(self) -> None:
        """ENABLE low, supply off for at least 1 s, on, settle, ENABLE high."""
        self.stop()
        await asyncio.sleep(self._power_off_s)
        if self._power is not None:
            self._power.on()
        if self._power_led is not None:
            self._power_led.on()
        await asyncio.sleep(self._settle_s)
        if self._enable is not None:
            self._enable.on()

    def meter_present(self) -> bool | None:
        return None if self._sense is None else bool(self._sense.value)

    def show_link(self, up: bool) -> None:
        if self._link_led is not None:
            self._link_led.value = up

    def close(self) -> None:
        for device in reversed(self._devices):
            device.close()
        self._devices.clear()
