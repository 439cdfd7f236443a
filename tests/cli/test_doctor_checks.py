"""Host checks against fake Pi filesystems: each good and each bad case, with its fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mepd.cli.doctor import all_host_checks
from mepd.cli.doctor_access import check_device_access, check_gpio_access
from mepd.cli.doctor_checks import Check, Level
from mepd.cli.doctor_key import check_key_file, check_key_text, describe_key_shape
from mepd.cli.doctor_pi import (
    boot_file,
    check_bluetooth,
    check_serial0,
    check_serial_console,
    config_directives,
    pi_model,
)
from tests.fake_pi import CMDLINE_WITHOUT_CONSOLE, CONFIG_TXT, PI2, PI3, PI4, PI5, ZERO2W, FakePi

TEXT_KEY = "MEPD-DEMO-KEY-000001"
HEX40 = "4d4550442d44454d4f2d4b45592d303030303031"
HEX32 = "00112233445566778899aabbccddeeff"


@pytest.fixture
def pi(tmp_path: Path) -> FakePi:
    return FakePi(tmp_path)


# --- where things are -----------------------------------------------------------------------


def test_model_and_boot_files(pi: FakePi) -> None:
    assert pi_model(pi.root) == PI4
    assert boot_file("config.txt", pi.root) == pi.boot / "config.txt"


def test_older_releases_keep_boot_files_in_boot(tmp_path: Path) -> None:
    pi = FakePi(tmp_path, boot="boot")
    assert boot_file("cmdline.txt", pi.root) == tmp_path / "boot/cmdline.txt"


def test_not_a_pi(tmp_path: Path) -> None:
    assert pi_model(tmp_path) is None
    for check in (check_serial0(tmp_path), check_serial_console(tmp_path)):
        assert check.level is Level.OK
        assert "not a Raspberry Pi" in check.detail


def test_config_sections_follow_the_model() -> None:
    text = "enable_uart=1\n[pi3]\ndtoverlay=disable-bt\n[pi4]\ndtoverlay=miniuart-bt\n[all]\nx=1\n"
    assert config_directives(text, PI4) == [
        ("enable_uart", "1"),
        ("dtoverlay", "miniuart-bt"),
        ("x", "1"),
    ]
    assert ("dtoverlay", "disable-bt") in config_directives(text, PI3)
    assert config_directives("# dtoverlay=disable-bt\n[none]\ny=2\n", PI4) == []


# --- /dev/serial0 -----------------------------------------------------------------------------


def test_serial0_on_the_pl011_is_good(pi: FakePi) -> None:
    pi.link("serial0", "ttyAMA0")
    check = check_serial0(pi.root)
    assert check == Check("uart", Level.OK, "/dev/serial0 -> ttyAMA0, the PL011 UART")


def test_serial0_on_the_mini_uart_fails_with_disable_bt_as_fix(pi: FakePi) -> None:
    pi.link("serial0", "ttyS0")
    check = check_serial0(pi.root)
    assert check.level is Level.FAIL
    assert "mini UART" in check.detail
    assert check.fix == (
        "add dtoverlay=disable-bt to /boot/firmware/config.txt, then: "
        "sudo systemctl disable hciuart && sudo reboot"
    )


def test_mini_uart_with_disable_bt_already_configured_needs_a_reboot(pi: FakePi) -> None:
    pi.config(CONFIG_TXT + "[all]\ndtoverlay=disable-bt\n")
    pi.link("serial0", "ttyS0")
    check = check_serial0(pi.root)
    assert check.level is Level.FAIL
    assert check.fix is not None
    assert check.fix.endswith("sudo reboot")
    assert "already frees the PL011" in check.fix


def test_no_serial0_means_the_uart_is_disabled(pi: FakePi) -> None:
    check = check_serial0(pi.root)
    assert check.level is Level.FAIL
    assert check.detail == "no /dev/serial0: the UART on GPIO14/15 is disabled"
    assert check.fix == "add enable_uart=1 to /boot/firmware/config.txt, then: sudo reboot"


def test_serial0_elsewhere_is_a_warning(pi: FakePi) -> None:
    pi.link("serial0", "ttyAMA1")
    assert check_serial0(pi.root).level is Level.WARN


def test_pi5_needs_uart0_on_the_header(tmp_path: Path) -> None:
    pi = FakePi(tmp_path, PI5)
    pi.link("serial0", "ttyAMA10")  # the debug connector: not ours, not a problem
    check = check_serial0(pi.root)
    assert check.level is Level.FAIL
    assert check.fix == "add dtparam=uart0=on to /boot/firmware/config.txt, then: sudo reboot"
    pi.device("ttyAMA0")
    assert check_serial0(pi.root).level is Level.OK


# --- serial console ---------------------------------------------------------------------------


def test_console_on_serial0_in_cmdline_fails_with_exact_edit(pi: FakePi) -> None:
    check = check_serial_console(pi.root)
    assert check.level is Level.FAIL
    assert "console=serial0,115200" in check.detail
    assert check.fix == (
        "sudo sed -i 's/ *console=serial0,115200//' /boot/firmware/cmdline.txt\nsudo reboot"
    )


@pytest.mark.parametrize("token", ["console=ttyAMA0,115200", "console=ttyS0,9600"])
def test_console_on_the_uart_by_name(pi: FakePi, token: str) -> None:
    pi.cmdline(f"{token} console=tty1 root=/dev/mmcblk0p2 rootwait\n")
    check = check_serial_console(pi.root)
    assert check.level is Level.FAIL
    assert token in check.detail


def test_no_serial_console_is_good(pi: FakePi) -> None:
    pi.cmdline(CMDLINE_WITHOUT_CONSOLE)
    assert check_serial_console(pi.root).level is Level.OK


def test_enabled_serial_getty_fails(pi: FakePi) -> None:
    pi.cmdline(CMDLINE_WITHOUT_CONSOLE)
    pi.enable("getty.target.wants", "serial-getty@ttyAMA0.service")
    check = check_serial_console(pi.root)
    assert check.level is Level.FAIL
    assert check.fix == "sudo systemctl disable --now serial-getty@ttyAMA0.service\nsudo reboot"


def test_masked_serial_getty_is_fine(pi: FakePi) -> None:
    pi.cmdline(CMDLINE_WITHOUT_CONSOLE)
    pi.enable("getty.target.wants", "serial-getty@ttyAMA0.service")
    pi.mask("serial-getty@ttyAMA0.service")
    assert check_serial_console(pi.root).level is Level.OK


def test_pi5_console_on_the_debug_connector_is_fine(tmp_path: Path) -> None:
    pi = FakePi(tmp_path, PI5)
    pi.link("serial0", "ttyAMA10")
    assert check_serial_console(pi.root).level is Level.OK  # console=serial0 is ttyAMA10
    pi.cmdline("console=ttyAMA0,115200 root=/dev/nvme0n1p2\n")
    assert check_serial_console(pi.root).level is Level.FAIL


# --- Bluetooth --------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [PI3, PI4, ZERO2W])
def test_bluetooth_on_the_pl011_fails_without_disable_bt(tmp_path: Path, model: str) -> None:
    pi = FakePi(tmp_path, model)
    check = check_bluetooth(pi.root)
    assert check.level is Level.FAIL
    assert check.detail == (
        "Bluetooth holds the PL011 UART: /boot/firmware/config.txt has no dtoverlay=disable-bt"
    )
    assert check.fix == (
        "add dtoverlay=disable-bt to /boot/firmware/config.txt, then: "
        "sudo systemctl disable hciuart && sudo reboot"
    )


def test_disable_bt_under_another_models_filter_does_not_count(pi: FakePi) -> None:
    pi.config(CONFIG_TXT + "dtoverlay=disable-bt\n")  # still inside [cm5]
    assert check_bluetooth(pi.root).level is Level.FAIL


def test_commented_disable_bt_does_not_count(pi: FakePi) -> None:
    pi.config(CONFIG_TXT + "[all]\n#dtoverlay=disable-bt\n")
    assert check_bluetooth(pi.root).level is Level.FAIL


def test_disable_bt_is_good(pi: FakePi) -> None:
    pi.config(CONFIG_TXT + "[all]\nenable_uart=1\ndtoverlay=disable-bt\n")
    assert check_bluetooth(pi.root) == Check(
        "bluetooth", Level.OK, "config.txt has dtoverlay=disable-bt"
    )


def test_miniuart_bt_is_good(pi: FakePi) -> None:
    pi.config(CONFIG_TXT + "[all]\ndtoverlay=miniuart-bt\n")
    assert check_bluetooth(pi.root).level is Level.OK


def test_hciuart_still_enabled_is_a_warning(pi: FakePi) -> None:
    pi.config(CONFIG_TXT + "[all]\ndtoverlay=disable-bt\n")
    pi.enable("multi-user.target.wants", "hciuart.service")
    check = check_bluetooth(pi.root)
    assert check.level is Level.WARN
    assert check.fix == "sudo systemctl disable hciuart"


@pytest.mark.parametrize("model", [PI2, PI5])
def test_models_without_bluetooth_on_the_uart(tmp_path: Path, model: str) -> None:
    assert check_bluetooth(FakePi(tmp_path, model).root).level is Level.OK


# --- device access ----------------------------------------------------------------------------


def test_port_in_the_units_group_is_good(pi: FakePi) -> None:
    pi.device("ttyAMA0", 0o660)
    pi.link("mep0", "ttyAMA0")
    check = check_device_access("/dev/mep0", root=pi.root)
    assert check.level is Level.OK
    assert check.detail == "/dev/mep0 -> ttyAMA0: group dialout rw, mepd gets it from the unit"


def test_port_group_membership_counts_without_the_unit(pi: FakePi) -> None:
    pi.accounts(members={"dialout": ["pi", "mepd"]})
    pi.device("ttyUSB0", 0o660)
    check = check_device_access("/dev/ttyUSB0", root=pi.root, service_groups=())
    assert check.detail == "/dev/ttyUSB0: group dialout rw, mepd is in it"


def test_port_in_another_group_fails_with_usermod(pi: FakePi) -> None:
    pi.accounts(members={}, device_group="plugdev")
    pi.device("ttyUSB0", 0o660)
    check = check_device_access("/dev/ttyUSB0", root=pi.root)
    assert check.level is Level.FAIL
    assert "mepd is not in group plugdev" in check.detail
    assert check.fix is not None
    assert check.fix.splitlines()[0] == "sudo usermod -aG plugdev mepd"


def test_not_in_dialout_without_the_unit_fails_with_usermod(pi: FakePi) -> None:
    pi.device("ttyAMA0", 0o660)
    check = check_device_access("/dev/ttyAMA0", root=pi.root, service_groups=())
    assert check.level is Level.FAIL
    assert check.fix is not None
    assert check.fix.startswith("sudo usermod -aG dialout mepd")


def test_port_held_by_a_getty(pi: FakePi) -> None:
    pi.accounts(members={}, device_group="tty")
    pi.device("ttyAMA0", 0o620)
    check = check_device_access("/dev/ttyAMA0", root=pi.root, service_groups=("tty",))
    assert check.level is Level.FAIL
    assert "console or login prompt holds it" in check.detail


def test_port_without_group_rw(pi: FakePi) -> None:
    pi.device("ttyAMA0", 0o600)
    check = check_device_access("/dev/ttyAMA0", root=pi.root)
    assert check.level is Level.FAIL
    assert check.fix is not None
    assert check.fix.startswith("sudo chmod 660 /dev/ttyAMA0")


def test_missing_port(pi: FakePi) -> None:
    check = check_device_access("/dev/mep0", root=pi.root)
    assert check.level is Level.FAIL
    assert check.detail == "/dev/mep0 does not exist"
    assert check.fix is not None
    assert "sudo udevadm trigger --subsystem-match=tty" in check.fix


def test_missing_service_user(pi: FakePi) -> None:
    pi.accounts(user=None, members={})
    pi.device("ttyAMA0")
    check = check_device_access("/dev/ttyAMA0", root=pi.root)
    assert check.level is Level.FAIL
    assert check.detail == "the service user mepd does not exist"
    assert check.fix is not None
    assert "useradd --system" in check.fix


def test_gpio_chips(pi: FakePi) -> None:
    assert check_gpio_access(root=pi.root).level is Level.WARN  # none: a USB adapter setup
    pi.accounts(members={}, device_group="gpio", other_gid_group="dialout")
    pi.device("gpiochip0", 0o660)
    pi.device("gpiochip1", 0o660)
    check = check_gpio_access(root=pi.root)
    assert check.level is Level.OK
    assert "/dev/gpiochip0: group gpio rw" in check.detail
    pi.device("gpiochip1", 0o600)
    bad = check_gpio_access(root=pi.root)
    assert bad.level is Level.FAIL
    assert bad.fix is not None
    assert bad.fix.startswith("sudo chmod 660 /dev/gpiochip1")


def test_gpio_root_only_chip_without_gpio_group(pi: FakePi) -> None:
    pi.accounts(members={}, device_group="root", other_gid_group="gpio")
    pi.device("gpiochip0", 0o660)
    check = check_gpio_access(root=pi.root)
    assert check.level is Level.FAIL
    assert check.fix is not None
    assert check.detail == "/dev/gpiochip0: owned by root, mode 0660: only root may use it"
    assert check.fix.startswith("sudo chgrp gpio /dev/gpiochip0 && sudo chmod 660 /dev/gpiochip0")


def test_real_root_uses_the_system_user_database() -> None:
    check = check_device_access("/dev/null", "root")
    assert check.level is Level.OK
    assert "/dev/null" in check.detail


# --- the key ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        (TEXT_KEY, "20 printable characters"),
        (HEX40, "40 hex digits (20 bytes)"),
        (HEX32.upper(), "32 hex digits (16 bytes)"),
        ("00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff", "32 hex digits (16 bytes)"),
    ],
)
def test_good_keys_show_their_shape_only(text: str, shape: str) -> None:
    check = check_key_text(text + "\n")
    assert check.level is Level.OK
    assert check.detail == f"the key is {shape}; mepd uses its first 16 bytes"
    assert text not in check.detail
    assert describe_key_shape(text) == shape


@pytest.mark.parametrize(
    "text", ["MEPD-DEMO-KEY-00000", '"MEPD-DEMO-KEY-000001"', HEX32[:-1] + "g"]
)
def test_bad_keys_fail_without_echoing_them(text: str) -> None:
    check = check_key_text(text)
    assert check.level is Level.FAIL
    assert text not in check.detail
    assert text[2:-2] not in check.detail
    assert check.fix is not None
    assert "as your utility printed it" in check.fix


def _key_file(root: Path, text: str, mode: int = 0o600) -> Path:
    path = root / "etc/mepd/mbk"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_key_file_good(tmp_path: Path) -> None:
    _key_file(tmp_path, TEXT_KEY + "\n")
    check = check_key_file(root=tmp_path, owner_uid=os.getuid())
    assert check.level is Level.OK
    assert check.detail.startswith("/etc/mepd/mbk: mode 0600")
    assert "20 printable characters" in check.detail
    assert TEXT_KEY not in check.detail


def test_key_file_readable_by_others(tmp_path: Path) -> None:
    _key_file(tmp_path, TEXT_KEY, 0o644)
    check = check_key_file(root=tmp_path, owner_uid=os.getuid())
    assert check.level is Level.FAIL
    assert check.detail == "/etc/mepd/mbk has mode 0644: other users can read the key"
    assert check.fix == "sudo chmod 600 /etc/mepd/mbk"


def test_key_file_wrong_owner(tmp_path: Path) -> None:
    _key_file(tmp_path, TEXT_KEY)
    check = check_key_file(root=tmp_path, owner_uid=os.getuid() + 1)
    assert check.level is Level.FAIL
    assert check.fix == "sudo chown root:root /etc/mepd/mbk"


def test_key_file_missing(tmp_path: Path) -> None:
    check = check_key_file(root=tmp_path)
    assert check.level is Level.FAIL
    assert check.fix is not None
    assert check.fix.startswith("sudo sh -c 'umask 077 && cat > /etc/mepd/mbk'")


def test_key_file_with_a_malformed_key(tmp_path: Path) -> None:
    _key_file(tmp_path, "MEPD-DEMO-KEY-0000011\n")
    check = check_key_file(root=tmp_path, owner_uid=os.getuid())
    assert check.level is Level.FAIL
    assert "21 characters" in check.detail
    assert "MEPD-DEMO" not in check.detail


def test_key_file_with_more_than_the_key(tmp_path: Path) -> None:
    _key_file(tmp_path, f"mbk = {TEXT_KEY}\n{TEXT_KEY}\n")
    check = check_key_file(root=tmp_path, owner_uid=os.getuid())
    assert check.level is Level.FAIL
    assert "2 non-empty lines" in check.detail
    assert TEXT_KEY not in check.detail


# --- together ---------------------------------------------------------------------------------


def test_a_fully_set_up_pi_passes_everything(pi: FakePi) -> None:
    pi.config(CONFIG_TXT + "[all]\nenable_uart=1\ndtoverlay=disable-bt\n")
    pi.cmdline(CMDLINE_WITHOUT_CONSOLE)
    pi.device("ttyAMA0")
    pi.link("serial0", "ttyAMA0")
    pi.link("mep0", "ttyAMA0")
    pi.accounts(members={}, device_group="dialout", other_gid_group="gpio")
    _key_file(pi.root, TEXT_KEY + "\n")
    checks = list(all_host_checks(root=pi.root, key_file=None))
    assert [c.name for c in checks] == [
        "uart",
        "serial console",
        "bluetooth",
        "port access",
        "gpio access",
    ]
    assert all(c.ok for c in checks), checks
    assert check_key_file(root=pi.root, owner_uid=os.getuid()).ok


def test_a_usb_adapter_skips_the_uart_checks(pi: FakePi) -> None:
    pi.device("ttyUSB0")
    names = [c.name for c in all_host_checks(port="/dev/ttyUSB0", root=pi.root, key_file=None)]
    assert names == ["port access", "gpio access"]
