"""The HAT's lines on gpiozero's MockFactory: safe defaults and the power-cycle order.

Revision B parks the logic lines low while the transceiver is off (no back-powering through
its input clamps, hardware/pi-hat/DESIGN.md): GPIO23 driven low, TXD held low by a UART break.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from mepd.drivers.gpio import GpioLinkControl, NoLinkControl
from mepd.drivers.hat import DEFAULT_PINS
from mepd.settings import GpioLines


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    pins = MockFactory()
    yield pins
    pins.reset()


def _level(factory: MockFactory, pin: int) -> bool:
    return bool(factory.pin(pin).state)


Event = tuple[str, bool]


class FakeUart:
    """The serial port's side: records breaks and flushes, with the GPIO levels at the time."""

    def __init__(self, factory: MockFactory, log: list[Event]) -> None:
        self.factory = factory
        self.log = log
        self.pending = 0
        self.breaking = False

    def set_break(self, on: bool) -> None:
        self.breaking = on
        self.log.append(("break", on))

    def discard_input(self) -> int:
        dropped, self.pending = self.pending, 0
        self.log.append(("flush", dropped > 0))
        return dropped


def _record(factory: MockFactory, log: list[Event], **pins: int) -> None:
    """Log every level change of the named pins, in order across pins."""
    for name, number in pins.items():
        pin = factory.pin(number)
        original: Callable[[bool], bool] = pin._change_state

        def change(
            value: bool, original: Callable[[bool], bool] = original, name: str = name
        ) -> bool:
            changed = original(value)
            if changed:
                log.append((name, bool(value)))
            return changed

        pin._change_state = change


def test_claiming_the_lines_keeps_everything_off(factory: MockFactory) -> None:
    control = GpioLinkControl(pin_factory=factory)
    assert _level(factory, DEFAULT_PINS.transceiver_power) is False  # active high: off
    # parked: GPIO23 low feeds nothing into the switched-off transceiver, and on the HAT
    # ENABLE cannot rise without the transceiver supply (rev A held it high: 0.3 mA in)
    assert _level(factory, DEFAULT_PINS.mep_enable) is False
    assert _level(factory, DEFAULT_PINS.link_led) is False
    control.close()


def test_claiming_holds_txd_low_with_a_break(factory: MockFactory) -> None:
    log: list[Event] = []
    uart = FakeUart(factory, log)
    control = GpioLinkControl(pin_factory=factory, uart=uart)
    assert uart.breaking
    assert log == [("break", True)]
    control.close()


def test_without_a_supply_switch_enable_is_never_parked_low(factory: MockFactory) -> None:
    # the transceiver is always powered: a low GPIO23 would assert the active-low ENABLE
    log: list[Event] = []
    lines = GpioLines(transceiver_power=None)
    _record(factory, log, enable=DEFAULT_PINS.mep_enable)
    control = GpioLinkControl(lines, pin_factory=factory)
    assert _level(factory, DEFAULT_PINS.mep_enable) is True
    control.stop()
    assert _level(factory, DEFAULT_PINS.mep_enable) is True
    assert ("enable", False) not in log
    control.close()


def test_start_powers_then_enables(factory: MockFactory) -> None:
    control = GpioLinkControl(pin_factory=factory)
    control.start()
    assert _level(factory, DEFAULT_PINS.transceiver_power) is True
    assert _level(factory, DEFAULT_PINS.mep_enable) is False  # asserted
    assert _level(factory, DEFAULT_PINS.power_led) is True
    control.stop()
    assert _level(factory, DEFAULT_PINS.transceiver_power) is False
    assert _level(factory, DEFAULT_PINS.mep_enable) is False  # parked
    control.close()


def test_start_and_stop_order_of_supply_enable_break_and_flush(factory: MockFactory) -> None:
    log: list[Event] = []
    uart = FakeUart(factory, log)
    control = GpioLinkControl(pin_factory=factory, uart=uart)
    _record(factory, log, power=DEFAULT_PINS.transceiver_power, enable=DEFAULT_PINS.mep_enable)
    log.clear()
    uart.pending = 3  # a break and garbage, received while the receiver came up
    control.start()
    # ENABLE (active low) inactive before the supply rises, break released after it,
    # input dropped, then ENABLE asserted
    assert log == [
        ("enable", True),
        ("power", True),
        ("break", False),
        ("flush", True),
        ("enable", False),
    ]
    log.clear()
    control.stop()
    # ENABLE inactive before the supply drops, then the lines parked low
    assert log == [("enable", True), ("power", False), ("enable", False), ("break", True)]
    control.close()


@pytest.mark.asyncio
async def test_power_cycle_order_and_off_time(factory: MockFactory) -> None:
    log: list[Event] = []
    uart = FakeUart(factory, log)
    control = GpioLinkControl(pin_factory=factory, power_off_s=1.0, settle_s=0.2, uart=uart)
    control.start()
    power = factory.pin(DEFAULT_PINS.transceiver_power)
    enable = factory.pin(DEFAULT_PINS.mep_enable)
    power.clear_states()
    enable.clear_states()
    _record(factory, log, power=DEFAULT_PINS.transceiver_power, enable=DEFAULT_PINS.mep_enable)
    log.clear()
    await control.power_cycle()
    # ENABLE goes inactive (high) before the supply drops, is parked low while it is off,
    # goes inactive again just before the supply returns, and active only after the supply
    # has been back for the settle time (times are since the previous change).
    enable.assert_states_and_times(
        [(0.0, False), (0.0, True), (0.0, False), (1.0, True), (0.2, False)]
    )
    assert len(enable.states) == 5
    power.assert_states_and_times([(0.0, True), (0.0, False), (1.0, True)])
    assert log == [
        ("enable", True),
        ("power", False),
        ("enable", False),
        ("break", True),
        ("enable", True),
        ("power", True),
        ("break", False),
        ("flush", False),
        ("enable", False),
    ]
    assert control.can_power_cycle
    control.close()


def test_meter_sense_reads_the_v_plus_line(factory: MockFactory) -> None:
    # revision B: the sense transistor pulls GPIO24 low while the meter supplies V+
    assert DEFAULT_PINS.meter_sense_active_high is False
    control = GpioLinkControl(pin_factory=factory)
    factory.pin(DEFAULT_PINS.meter_sense).drive_high()
    assert control.meter_present() is False
    factory.pin(DEFAULT_PINS.meter_sense).drive_low()
    assert control.meter_present() is True
    control.close()


def test_unwired_lines_are_skipped(factory: MockFactory) -> None:
    lines = GpioLines(transceiver_power=None, meter_sense=None, link_led=None, power_led=None)
    control = GpioLinkControl(lines, pin_factory=factory)
    assert not control.can_power_cycle
    assert control.meter_present() is None
    control.start()
    control.close()


def test_plain_cable_has_nothing_to_switch() -> None:
    control = NoLinkControl()
    assert not control.can_power_cycle
    assert control.meter_present() is None


def test_a_pin_in_use_is_a_clear_link_error(factory: MockFactory) -> None:
    from mepd.errors import LinkError

    first = GpioLinkControl(pin_factory=factory)
    with pytest.raises(LinkError, match="gpio"):
        GpioLinkControl(pin_factory=factory)
    first.close()
