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
    # MEP ENABLE (terminal pin 2), active low in both of the board's options (DESIGN.md):
    # A (default) a level shifter and high-side switch put 11 V from the meter's own V+ on
    # pin 2; B the transceiver's T2 driver (about 5.4 V), which inverts. Either way ENABLE
    # can only rise while the transceiver supply is on, so GPIO23 may rest low (no current
    # into a switched-off transceiver) while the supply is off.
    mep_enable: int = 23
    mep_enable_active_high: bool = False
    # Meter V+ (terminal pin 5, 24-26 V) through a divider into a transistor with a pull-up
    # to the Pi's 3.3 V: low = meter present. A transistor, not a clamped divider, so a
    # powered meter feeds nothing into the rail of a Pi that is off (rev A's D5 path).
    meter_sense: int = 24
    meter_sense_active_high: bool = False
    link_led: int = 25
    power_led: int = 27

    # Fixed by the Pi: never free for the above (PL011 UART and the HAT+ ID EEPROM bus).
    UART_TXD = 14
    UART_RXD = 15
    ID_SD = 0
    ID_SC = 1


DEFAULT_PINS = HatPins()
