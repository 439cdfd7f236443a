"""The HAT's lines on gpiozero's MockFactory: safe defaults and the power-cycle order."""

from __future__ import annotations

from collections.abc import Iterator

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


def test_claiming_the_lines_keeps_everything_off(factory: MockFactory) -> None:
    control = GpioLinkControl(pin_factory=factory)
    assert _level(factory, DEFAULT_PINS.transceiver_power) is False  # active high: off
    assert _level(factory, DEFAULT_PINS.mep_enable) is True  # active low: inactive
    assert _level(factory, DEFAULT_PINS.link_led) is False
    control.close()


def test_start_powers_then_enables(factory: MockFactory) -> None:
    control = GpioLinkControl(pin_factory=factory)
    control.start()
    assert _level(factory, DEFAULT_PINS.transceiver_power) is True
    assert _level(factory, DEFAULT_PINS.mep_enable) is False  # asserted
    assert _level(factory, DEFAULT_PINS.power_led) is True
    control.stop()
    assert _level(factory, DEFAULT_PINS.transceiver_power) is False
    assert _level(factory, DEFAULT_PINS.mep_enable) is True
    control.close()


@pytest.mark.asyncio
async def test_power_cycle_order_and_off_time(factory: MockFactory) -> None:
    control = GpioLinkControl(pin_factory=factory, power_off_s=1.0, settle_s=0.2)
    control.start()
    power = factory.pin(DEFAULT_PINS.transceiver_power)
    enable = factory.pin(DEFAULT_PINS.mep_enable)
    power.clear_states()
    enable.clear_states()
    await control.power_cycle()
    # ENABLE goes inactive (high) before the supply drops, and active again only after
    # the supply has been back for the settle time.
    enable.assert_states_and_times([(0.0, False), (0.0, True), (1.2, False)])
    power.assert_states_and_times([(0.0, True), (0.0, False), (1.0, True)])
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
