"""Whether the simulated meter's RS-232 transceiver has power: the pin the daemon drives.

The HAT switches the transceiver's supply with BCM22, active high (mepd.drivers.hat). A latched-up
transceiver passes nothing until that supply has been off for at least a second (the
simulator's latch-up fault), so the simulator needs to see the pin the daemon drives.
"""

from __future__ import annotations

from typing import Protocol

from gpiozero import Device

from mepd.drivers.hat import DEFAULT_PINS


class TransceiverPower(Protocol):
    def powered(self) -> bool: ...


class AlwaysPowered:
    """For the CLI and a pty client: no GPIO, the transceiver is always on."""

    def powered(self) -> bool:
        return True


class SwitchedPower:
    """A plain switch for tests that drive the simulator directly."""

    def __init__(self, on: bool = True) -> None:
        self.on = on

    def powered(self) -> bool:
        return self.on


class GpioPinPower:
    """Reads the transceiver-power pin under gpiozero's MockFactory (what the daemon drives).

    gpiozero 2.0: `Device.pin_factory.pin(n)` returns the factory's one pin object for BCM n
    (MockFactory keeps them in a registry), whose `state` is the level the daemon's
    OutputDevice last wrote.
    """

    def __init__(
        self,
        pin: int = DEFAULT_PINS.transceiver_power,
        active_high: bool = DEFAULT_PINS.transceiver_power_active_high,
    ) -> None:
        self._pin = pin
        self._active_high = active_high

    def powered(self) -> bool:
        factory = Device.pin_factory
        if factory is None:
            return False
        level = bool(factory.pin(self._pin).state)
        return level if self._active_high else not level
