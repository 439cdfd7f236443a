"""Issue 15 item 1: the HAT's GPIO lines only where the HAT is, or where the user says so.

The HAT is recognised by its HAT+ EEPROM, which the firmware publishes under
/proc/device-tree/hat/ (hardware/pi-hat/eeprom/mepd-hat-eeprom.txt: `product "mepd MEP meter
HAT+"`). The root is a tmp dir here; gpiozero's MockFactory stands in for the pins.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from mepd.cli import common
from mepd.config.load import load_config
from mepd.config.overrides import Overrides
from mepd.drivers import gpio
from mepd.drivers.gpio import GpioLinkControl, NoLinkControl, hat_present, link_control_for
from mepd.errors import ConfigError, LinkError
from mepd.settings import GpioLines
from tests.conftest import REPO

_EEPROM = REPO / "hardware/pi-hat/eeprom/mepd-hat-eeprom.txt"


def _product_in_eeprom_settings() -> str:
    found = re.search(r'^product "([^"]*)"', _EEPROM.read_text(encoding="utf-8"), re.MULTILINE)
    assert found is not None
    return found.group(1)


def _pi_with_hat(root: Path, product: str) -> Path:
    hat = root / "proc/device-tree/hat"
    hat.mkdir(parents=True)
    (hat / "product").write_bytes(product.encode() + b"\0")  # device-tree strings end in NUL
    (hat / "vendor").write_bytes(b"mepd project\0")
    return root


def test_our_eeprom_product_string_is_recognised(tmp_path: Path) -> None:
    assert hat_present(_pi_with_hat(tmp_path, _product_in_eeprom_settings()))


def test_another_hat_or_none_is_not_ours(tmp_path: Path) -> None:
    assert not hat_present(tmp_path)  # a PC: no /proc/device-tree/hat
    assert not hat_present(_pi_with_hat(tmp_path, "Sense HAT"))


@pytest.fixture
def fresh_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpio, "_said_no_hat", False)


@pytest.mark.usefixtures("fresh_message")
def test_auto_without_the_hat_uses_no_lines_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mepd.drivers.gpio")
    controls = [link_control_for(GpioLines(), auto=True, root=tmp_path) for _ in range(3)]
    assert all(isinstance(control, NoLinkControl) for control in controls)
    said = [record for record in caplog.records if "no mepd HAT found" in record.getMessage()]
    assert len(said) == 1
    assert said[0].levelno == logging.INFO


def test_auto_with_the_hat_drives_the_lines(tmp_path: Path) -> None:
    root = _pi_with_hat(tmp_path, _product_in_eeprom_settings())
    factory = MockFactory()
    try:
        control = link_control_for(GpioLines(), auto=True, root=root, pin_factory=factory)
        assert isinstance(control, GpioLinkControl)
        control.close()
    finally:
        factory.reset()


def test_enabled_true_drives_the_lines_without_looking(tmp_path: Path) -> None:
    factory = MockFactory()
    try:
        control = link_control_for(GpioLines(), auto=False, root=tmp_path, pin_factory=factory)
        assert isinstance(control, GpioLinkControl)
        control.close()
    finally:
        factory.reset()


def test_gpiozero_fallback_warnings_never_reach_the_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """Off a Pi gpiozero warns once per pin library it cannot load, then fails: one error."""
    monkeypatch.setattr(Device, "pin_factory", None)
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(LinkError, match="--no-gpio"):
            GpioLinkControl(GpioLines())
    assert [str(w.message) for w in caught] == []


def _toml(tmp_path: Path, gpio: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f"[gpio]\n{gpio}\n")
    return path


@pytest.mark.parametrize(
    ("gpio_table", "lines", "auto"),
    [("", True, True), ('enabled = "auto"', True, True), ("enabled = true", True, False)],
)
def test_the_setting_is_auto_by_default(
    tmp_path: Path, gpio_table: str, lines: bool, auto: bool
) -> None:
    config = load_config(_toml(tmp_path, gpio_table), environ={}, require_key=False)
    assert (config.meters[0].gpio is not None) == lines
    assert config.meters[0].gpio_auto == auto


def test_enabled_false_and_no_gpio_use_no_lines(tmp_path: Path) -> None:
    off = load_config(_toml(tmp_path, "enabled = false"), environ={}, require_key=False)
    assert off.meters[0].gpio is None
    forced = load_config(
        _toml(tmp_path, "enabled = true"),
        environ={},
        require_key=False,
        overrides=Overrides(no_gpio=True),
    )
    assert forced.meters[0].gpio is None
    assert isinstance(common.make_control(forced.meters[0]), NoLinkControl)


def test_a_word_other_than_auto_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"gpio\.enabled"):
        load_config(_toml(tmp_path, 'enabled = "yes"'), environ={}, require_key=False)
