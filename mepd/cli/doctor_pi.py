"""Host checks for `mepd doctor`: the Pi's UART, its consoles and Bluetooth, from files only.

Which Pi UART is the meter's (hardware-notes.md): the first PL011, UART0, on GPIO14/15, which is
`/dev/ttyAMA0` once set up. On a Pi 3/4/400/Zero W/Zero 2 W Bluetooth takes it unless
`dtoverlay=disable-bt`, and `/dev/serial0` then points at the mini UART (ttyS0). On a Pi 5 the
header UART0 is ttyAMA0 after `dtparam=uart0=on`, and serial0 is the debug connector (ttyAMA10).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mepd.cli.doctor_checks import (
    METER_UART,
    Check,
    Level,
    host_path,
    link_target,
    shown_path,
)

_BOOT_DIRS = ("boot/firmware", "boot")  # Raspberry Pi OS bookworm, then older releases
_PI5 = re.compile(r"Raspberry Pi (5|500)\b|Compute Module 5")
# Models whose Bluetooth sits on the PL011 (UART0) by default. CM4 may or may not have wireless.
_PL011_BLUETOOTH = re.compile(
    r"Raspberry Pi (3 Model|4 Model|400\b|Zero W|Zero 2 W|Compute Module 4)"
)
_PL011_FOR_HEADER_OVERLAYS = frozenset(
    {"disable-bt", "pi3-disable-bt", "miniuart-bt", "pi3-miniuart-bt"}
)
_DISABLE_BT_OVERLAYS = frozenset({"disable-bt", "pi3-disable-bt"})
# config.txt conditional sections, matched against /proc/device-tree/model.
_FILTERS = {
    "pi0": r"Raspberry Pi Zero",
    "pi0w": r"Raspberry Pi Zero (2 )?W",
    "pi02": r"Raspberry Pi Zero 2 W",
    "pi1": r"Raspberry Pi (Model|Compute Module Rev)",
    "pi2": r"Raspberry Pi 2",
    "pi3": r"Raspberry Pi (3|Compute Module 3)|Raspberry Pi Zero 2 W",
    "pi3+": r"Raspberry Pi 3 Model [AB] Plus",
    "pi4": r"Raspberry Pi (4|400|Compute Module 4)",
    "pi400": r"Raspberry Pi 400",
    "cm4": r"Compute Module 4",
    "cm4s": r"Compute Module 4S",
    "pi5": r"Raspberry Pi (5|500)|Compute Module 5",
    "pi500": r"Raspberry Pi 500",
    "cm5": r"Compute Module 5",
}


def boot_file(name: str, root: str | os.PathLike[str] = "/") -> Path | None:
    """/boot/firmware/NAME (Raspberry Pi OS bookworm), else /boot/NAME; None if neither."""
    base = host_path(root)
    for folder in _BOOT_DIRS:
        candidate = base / folder / name
        if candidate.is_file():
            return candidate
    return None


def pi_model(root: str | os.PathLike[str] = "/") -> str | None:
    """The device tree's model string ("Raspberry Pi 4 Model B Rev 1.4"), None if not a Pi."""
    path = host_path(root) / "proc/device-tree/model"
    try:
        model = path.read_bytes().decode("ascii", errors="replace").rstrip("\0\n ")
    except OSError:
        return None
    return model if model.startswith("Raspberry Pi") else None


def is_pi5(model: str | None) -> bool:
    return model is not None and _PI5.search(model) is not None


def has_pl011_bluetooth(model: str | None) -> bool:
    return model is not None and not is_pi5(model) and _PL011_BLUETOOTH.search(model) is not None


def _filter_applies(section: str | None, model: str | None) -> bool:
    if section is None or section == "all":
        return True
    if section == "none":
        return False
    pattern = _FILTERS.get(section)
    if pattern is None or model is None:
        return True  # a filter we cannot evaluate (gpio, edid, serial numbers): assume it holds
    return re.search(pattern, model) is not None


def config_directives(config_text: str, model: str | None = None) -> list[tuple[str, str]]:
    """(key, value) of config.txt lines in effect on `model`, in order; comments dropped."""
    effective: list[tuple[str, str]] = []
    section: str | None = None
    for raw in config_text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
            continue
        if "=" not in line or not _filter_applies(section, model):
            continue
        key, value = line.split("=", 1)
        effective.append((key.strip(), value.strip()))
    return effective


def _overlays(config_text: str, model: str | None) -> set[str]:
    return {
        value.split(",", 1)[0].strip()
        for key, value in config_directives(config_text, model)
        if key == "dtoverlay"
    }


def _config_text(root: Path) -> tuple[str, str]:
    """config.txt's text and its real path ("" if missing)."""
    path = boot_file("config.txt", root)
    if path is None:
        return "", "/boot/firmware/config.txt"
    try:
        return path.read_text(errors="replace"), shown_path(root, path)
    except OSError:
        return "", shown_path(root, path)


def _unit_enabled(root: Path, target_wants: str, unit: str) -> bool:
    wants = root / "etc/systemd/system" / target_wants / unit
    masked = root / "etc/systemd/system" / unit
    if masked.is_symlink() and os.readlink(masked) == "/dev/null":
        return False
    return wants.is_symlink() or wants.exists()


# --- UART checks ------------------------------------------------------------------------------


def _pi5_uart(base: Path, config_path: str) -> Check:
    if (base / "dev" / METER_UART).exists():
        return Check("uart", Level.OK, "Raspberry Pi 5: UART0 on GPIO14/15 is /dev/ttyAMA0")
    return Check(
        "uart",
        Level.FAIL,
        "Raspberry Pi 5: UART0 on GPIO14/15 is not enabled (no /dev/ttyAMA0)",
        f"add dtparam=uart0=on to {config_path}, then: sudo reboot",
    )


def _mini_uart(config_text: str, config_path: str, model: str) -> Check:
    if _overlays(config_text, model) & _PL011_FOR_HEADER_OVERLAYS:
        fix = f"{config_path} already frees the PL011; reboot to apply it: sudo reboot"
    else:
        fix = (
            f"add dtoverlay=disable-bt to {config_path}, then: "
            "sudo systemctl disable hciuart && sudo reboot"
        )
    return Check(
        "uart",
        Level.FAIL,
        "/dev/serial0 -> ttyS0, the mini UART: Bluetooth has the PL011, and the mini UART's "
        "baud rate follows the VPU core clock",
        fix,
    )


def check_serial0(root: str | os.PathLike[str] = "/") -> Check:
    """Is the meter's UART (PL011 UART0 on GPIO14/15) enabled and free of Bluetooth?"""
    base = host_path(root)
    model = pi_model(base)
    config_text, config_path = _config_text(base)
    if model is None:
        return Check("uart", Level.OK, "not a Raspberry Pi: no on-board UART to check")
    if is_pi5(model):
        return _pi5_uart(base, config_path)
    serial0 = base / "dev/serial0"
    target = link_target(serial0)
    if target == METER_UART:
        return Check("uart", Level.OK, "/dev/serial0 -> ttyAMA0, the PL011 UART")
    if target == "ttyS0":
        return _mini_uart(config_text, config_path, model)
    if target is None and not serial0.exists():
        return Check(
            "uart",
            Level.FAIL,
            "no /dev/serial0: the UART on GPIO14/15 is disabled",
            f"add enable_uart=1 to {config_path}, then: sudo reboot",
        )
    return Check(
        "uart",
        Level.WARN,
        f"/dev/serial0 -> {target}, not the PL011 ttyAMA0 the mepd HAT is wired to",
        f"check the dtoverlay= lines in {config_path} (the HAT needs UART0 on GPIO14/15)",
    )


def _console_holders(root: Path, model: str) -> set[str]:
    """Console device names that mean the meter's UART."""
    if is_pi5(model):
        holders = {METER_UART}
        if link_target(root / "dev/serial0") == METER_UART:
            holders.add("serial0")
        return holders
    return {"serial0", METER_UART, "ttyS0"}


def check_serial_console(root: str | os.PathLike[str] = "/") -> Check:
    """Is a kernel console or a login prompt (getty) on the meter's UART?"""
    base = host_path(root)
    model = pi_model(base)
    if model is None:
        return Check("serial console", Level.OK, "not a Raspberry Pi: no boot console to check")
    holders = _console_holders(base, model)
    problems: list[str] = []
    fixes: list[str] = []
    cmdline = boot_file("cmdline.txt", base)
    if cmdline is not None:
        shown = shown_path(base, cmdline)
        try:
            tokens = cmdline.read_text(errors="replace").split()
        except OSError:
            tokens = []
        for token in tokens:
            if not token.startswith("console="):
                continue
            device = token.removeprefix("console=").split(",", 1)[0]
            if device in holders:
                problems.append(f"{shown} has {token}")
                fixes.append(f"sudo sed -i 's/ *{re.escape(token)}//' {shown}")
    for device in sorted(holders):
        unit = f"serial-getty@{device}.service"
        if _unit_enabled(base, "getty.target.wants", unit):
            problems.append(f"{unit} is enabled")
            fixes.append(f"sudo systemctl disable --now {unit}")
    if not problems:
        return Check("serial console", Level.OK, "no console or login prompt on the meter's UART")
    fixes.append("sudo reboot")
    return Check(
        "serial console",
        Level.FAIL,
        "a console holds the meter's UART: " + "; ".join(problems),
        "\n".join(fixes),
    )


def _bluetooth_config(base: Path, model: str) -> Check:
    config_text, config_path = _config_text(base)
    overlays = _overlays(config_text, model)
    if overlays & _DISABLE_BT_OVERLAYS:
        if _unit_enabled(base, "multi-user.target.wants", "hciuart.service"):
            return Check(
                "bluetooth",
                Level.WARN,
                "config.txt has dtoverlay=disable-bt but hciuart.service is still enabled",
                "sudo systemctl disable hciuart",
            )
        return Check("bluetooth", Level.OK, "config.txt has dtoverlay=disable-bt")
    if overlays & _PL011_FOR_HEADER_OVERLAYS:
        return Check(
            "bluetooth",
            Level.OK,
            "config.txt has dtoverlay=miniuart-bt (Bluetooth on the mini UART)",
        )
    return Check(
        "bluetooth",
        Level.FAIL,
        f"Bluetooth holds the PL011 UART: {config_path} has no dtoverlay=disable-bt",
        f"add dtoverlay=disable-bt to {config_path}, then: "
        "sudo systemctl disable hciuart && sudo reboot",
    )


def check_bluetooth(root: str | os.PathLike[str] = "/") -> Check:
    """On models whose Bluetooth uses the PL011: has config.txt given it back to GPIO14/15?"""
    base = host_path(root)
    model = pi_model(base)
    if model is None:
        return Check("bluetooth", Level.OK, "not a Raspberry Pi: nothing to check")
    if is_pi5(model):
        return Check("bluetooth", Level.OK, "Raspberry Pi 5: Bluetooth has a UART of its own")
    if not has_pl011_bluetooth(model):
        return Check("bluetooth", Level.OK, f"{model}: no on-board Bluetooth on the UART")
    return _bluetooth_config(base, model)


def uart_checks(root: str | os.PathLike[str] = "/") -> list[Check]:
    """The three UART checks, for a port on the Pi's own UART (/dev/mep0, serial0, ttyAMA0)."""
    return [check_serial0(root), check_serial_console(root), check_bluetooth(root)]


# --- device access ----------------------------------------------------------------------------


def uses_pi_uart(port: str, root: str | os.PathLike[str] = "/") -> bool:
    """Is `port` the Pi's own UART (so the UART checks apply), not a USB adapter?"""
    name = Path(port).name
    if name in ("mep0", "serial0", METER_UART, "ttyS0"):
        return True
    target = link_target(host_path(root) / port.lstrip("/"))
    return target is not None and target.startswith(("ttyAMA", "ttyS"))
