"""The mepd Pi HAT's GPIO wiring: the one place software and board agree on pins.

The board's netlist is cross-checked against these numbers in tests/hardware, so the two
cannot drift apart. Numbers are BCM GPIO numbers, not header pins.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HatPins:
    """GPIO lines of the HAT, with the level that means "on" for each."""

    # Load switch feeding the RS-232 transceiver. Pulled down on the board: off at power-up,
    # so nothing drives the meter's port until mepd asks for it.
    transceiver_power: int = 22
    transceiver_power_active_high: bool = True
    # MEP ENABLE (terminal pin 2) goes through a transceiver driver, which inverts: GPIO low
    # puts the RS-232 level high, which tells the meter a client is attached. Pulled up on
    # the board so ENABLE is inactive while the GPIO is still an input.
    mep_enable: int = 23
    mep_enable_active_high: bool = False
    # Meter V+ (terminal pin 5, 24-26 V) through a divider and clamp: high = meter present.
    meter_sense: int = 24
    meter_sense_active_high: bool = True
    link_led: int = 25
    power_led: int = 27

    # Fixed by the Pi: never free for the above (PL011 UART and the HAT+ ID EEPROM bus).
    UART_TXD = 14
    UART_RXD = 15
    ID_SD = 0
    ID_SC = 1


DEFAULT_PINS = HatPins()
