"""Host checks for `mepd doctor`: the Pi's UART, consoles, Bluetooth, device access, the key.

Each check looks at files only (no MQTT, no meter, no systemd D-Bus) below an injectable `root`
("/" on a real Pi), so the tests build a fake Pi in a temporary directory. Each returns one
`Check`: a level, one line saying what was found, and for anything not OK the exact command or
edit that fixes it. Paths in those lines are the real ones (/boot/firmware/config.txt), never the
fake root's.

Nothing here ever prints or logs a key: key checks describe its shape (length, hex or text).

Which Pi UART is the meter's (hardware-notes.md): the first PL011, UART0, on GPIO14/15, which is
`/dev/ttyAMA0` once set up. On a Pi 3/4/400/Zero W/Zero 2 W Bluetooth takes it unless
`dtoverlay=disable-bt`, and `/dev/serial0` then points at the mini UART (ttyS0). On a Pi 5 the
header UART0 is ttyAMA0 after `dtparam=uart0=on`, and serial0 is the debug connector (ttyAMA10).
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import stat
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from mepd.protocol.errors import KeyFormatError
from mepd.protocol.keys import MepKey

SERVICE_USER = "mepd"
SERVICE_GROUPS = ("dialout", "gpio")  # the unit's SupplementaryGroups=
KEY_FILE = "/etc/mepd/mbk"
METER_UART = "ttyAMA0"

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


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    """One finding. `fix` is the exact command or edit that cures it (None when OK)."""

    name: str
    level: Level
    detail: str
    fix: str | None = None

    @property
    def ok(self) -> bool:
        """Not a failure (warnings pass)."""
        return self.level is not Level.FAIL


# --- where things are -------------------------------------------------------------------------


def _root(root: str | os.PathLike[str]) -> Path:
    return Path(root)


def _shown(root: Path, path: Path) -> str:
    """`path` as it is called on the real system."""
    try:
        return "/" + path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def boot_file(name: str, root: str | os.PathLike[str] = "/") -> Path | None:
    """/boot/firmware/NAME (Raspberry Pi OS bookworm), else /boot/NAME; None if neither."""
    base = _root(root)
    for folder in _BOOT_DIRS:
        candidate = base / folder / name
        if candidate.is_file():
            return candidate
    return None


def pi_model(root: str | os.PathLike[str] = "/") -> str | None:
    """The device tree's model string ("Raspberry Pi 4 Model B Rev 1.4"), None if not a Pi."""
    path = _root(root) / "proc/device-tree/model"
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
        return path.read_text(errors="replace"), _shown(root, path)
    except OSError:
        return "", _shown(root, path)


def _link_target(path: Path) -> str | None:
    """The name a /dev symlink points at ("ttyAMA0"), None if it is missing or not a link."""
    try:
        return Path(os.readlink(path)).name
    except OSError:
        return None


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
    base = _root(root)
    model = pi_model(base)
    config_text, config_path = _config_text(base)
    if model is None:
        return Check("uart", Level.OK, "not a Raspberry Pi: no on-board UART to check")
    if is_pi5(model):
        return _pi5_uart(base, config_path)
    serial0 = base / "dev/serial0"
    target = _link_target(serial0)
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
        if _link_target(root / "dev/serial0") == METER_UART:
            holders.add("serial0")
        return holders
    return {"serial0", METER_UART, "ttyS0"}


def check_serial_console(root: str | os.PathLike[str] = "/") -> Check:
    """Is a kernel console or a login prompt (getty) on the meter's UART?"""
    base = _root(root)
    model = pi_model(base)
    if model is None:
        return Check("serial console", Level.OK, "not a Raspberry Pi: no boot console to check")
    holders = _console_holders(base, model)
    problems: list[str] = []
    fixes: list[str] = []
    cmdline = boot_file("cmdline.txt", base)
    if cmdline is not None:
        shown = _shown(base, cmdline)
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
    base = _root(root)
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


@dataclass(frozen=True)
class _Account:
    name: str
    uid: int
    gids: frozenset[int]


class _UserDb:
    """Users and groups: NSS (pwd/grp) on the real root, the root's /etc files on a fake one."""

    def __init__(self, root: Path) -> None:
        self._native = root.resolve() == Path("/")
        self._passwd = self._read(root / "etc/passwd")
        self._group = self._read(root / "etc/group")

    @staticmethod
    def _read(path: Path) -> list[list[str]]:
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            return []
        return [line.split(":") for line in lines if line and not line.startswith("#")]

    def account(self, name: str) -> _Account | None:
        if self._native:
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                return None
            gids = {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if name in g.gr_mem}
            return _Account(name, entry.pw_uid, frozenset(gids))
        for fields in self._passwd:
            if len(fields) >= 4 and fields[0] == name:
                gids = {int(fields[3])}
                gids |= {int(g[2]) for g in self._group if len(g) >= 4 and name in g[3].split(",")}
                return _Account(name, int(fields[2]), frozenset(gids))
        return None

    def gid(self, group: str) -> int | None:
        if self._native:
            try:
                return grp.getgrnam(group).gr_gid
            except KeyError:
                return None
        for fields in self._group:
            if len(fields) >= 3 and fields[0] == group:
                return int(fields[2])
        return None

    def group_name(self, gid: int) -> str:
        if self._native:
            try:
                return grp.getgrgid(gid).gr_name
            except KeyError:
                return str(gid)
        for fields in self._group:
            if len(fields) >= 3 and fields[2] == str(gid):
                return fields[0]
        return str(gid)


def _missing_user(name: str, user: str) -> Check:
    return Check(
        name,
        Level.FAIL,
        f"the service user {user} does not exist",
        f"sudo useradd --system --user-group --home-dir /var/lib/mepd --no-create-home "
        f"--shell /usr/sbin/nologin {user} && sudo usermod -aG {','.join(SERVICE_GROUPS)} {user}"
        " (or re-run scripts/install)",
    )


def _access(
    name: str,
    device: str,
    path: Path,
    *,
    account: _Account,
    users: _UserDb,
    service_groups: Sequence[str],
) -> Check:
    info = path.stat()
    mode = stat.S_IMODE(info.st_mode)
    group = users.group_name(info.st_gid)
    target = path.resolve().name
    shown = device if Path(device).name == target else f"{device} -> {target}"
    via_unit = {g for g in (users.gid(n) for n in service_groups) if g is not None}
    if info.st_uid == account.uid and mode & 0o600 == 0o600:
        return Check(name, Level.OK, f"{shown}: owned by {account.name}")
    if info.st_gid in account.gids | via_unit and mode & 0o060 == 0o060:
        how = "is in it" if info.st_gid in account.gids else "gets it from the unit"
        return Check(name, Level.OK, f"{shown}: group {group} rw, {account.name} {how}")
    if mode & 0o006 == 0o006:
        return Check(name, Level.WARN, f"{shown}: anybody may read and write it (mode {mode:04o})")
    member = info.st_gid in account.gids | via_unit
    return _denied(name, shown, target, group, mode=mode, outsider=None if member else account.name)


def _denied(
    name: str, shown: str, target: str, group: str, *, mode: int, outsider: str | None
) -> Check:
    """Why the service user may not use a device, and the fix; `outsider`: not in its group."""
    if group == "tty" and mode & 0o040 == 0:
        return Check(
            name,
            Level.FAIL,
            f"{shown}: group tty, mode {mode:04o}: a console or login prompt holds it",
            "remove the console from cmdline.txt and disable its getty "
            "(see the serial console check), then: sudo reboot",
        )
    if group == "root":
        usual = "gpio" if target.startswith("gpiochip") else "dialout"
        return Check(
            name,
            Level.FAIL,
            f"{shown}: owned by root, mode {mode:04o}: only root may use it",
            f"sudo chgrp {usual} /dev/{target} && sudo chmod 660 /dev/{target}  (until reboot; "
            "90-mepd.rules does this at boot: sudo udevadm trigger)",
        )
    if outsider is not None:
        return Check(
            name,
            Level.FAIL,
            f"{shown}: group {group}, mode {mode:04o}: {outsider} is not in group {group}",
            f"sudo usermod -aG {group} {outsider}\n"
            f"sudo systemctl edit mepd  (add: [Service] SupplementaryGroups={group})",
        )
    return Check(
        name,
        Level.FAIL,
        f"{shown}: group {group}, mode {mode:04o}: the group may not read and write it",
        f"sudo chmod 660 /dev/{target}  (until reboot; 90-mepd.rules sets MODE=0660 at boot)",
    )


def check_device_access(
    device: str,
    user: str = SERVICE_USER,
    *,
    root: str | os.PathLike[str] = "/",
    service_groups: Sequence[str] = SERVICE_GROUPS,
) -> Check:
    """May `user` read and write `device` (the serial port), counting the unit's groups?"""
    base = _root(root)
    path = base / device.lstrip("/")
    name = "port access"
    if not path.exists():
        if Path(device).name == "mep0":
            fix = (
                "ls -l /dev/ttyAMA0 (the udev rule 90-mepd.rules links mep0 to it; on a Pi 3/4/"
                "Zero W see the uart check), then: sudo udevadm trigger --subsystem-match=tty"
            )
        else:
            fix = "set the right port in /etc/mepd/config.toml: ls -l /dev/serial* /dev/ttyUSB*"
        return Check(name, Level.FAIL, f"{device} does not exist", fix)
    users = _UserDb(base)
    account = users.account(user)
    if account is None:
        return _missing_user(name, user)
    return _access(name, device, path, account=account, users=users, service_groups=service_groups)


def check_gpio_access(
    user: str = SERVICE_USER,
    *,
    root: str | os.PathLike[str] = "/",
    service_groups: Sequence[str] = SERVICE_GROUPS,
) -> Check:
    """May `user` use every /dev/gpiochip* (transceiver power, MEP ENABLE, sense, LEDs)?"""
    base = _root(root)
    name = "gpio access"
    chips = sorted((base / "dev").glob("gpiochip*"))
    if not chips:
        return Check(
            name,
            Level.WARN,
            "no /dev/gpiochip*: the HAT's transceiver power and MEP ENABLE lines cannot be "
            "driven (fine with a USB-RS232 adapter)",
        )
    users = _UserDb(base)
    account = users.account(user)
    if account is None:
        return _missing_user(name, user)
    results = [
        _access(
            name,
            f"/dev/{chip.name}",
            chip,
            account=account,
            users=users,
            service_groups=service_groups,
        )
        for chip in chips
    ]
    for result in results:
        if result.level is not Level.OK:
            return result
    return Check(name, Level.OK, "; ".join(r.detail for r in results))


# --- the key ----------------------------------------------------------------------------------

_HEX = frozenset(string.hexdigits)


def describe_key_shape(text: str) -> str:
    """What a key looks like ("20 printable characters", "32 hex digits"), never what it is."""
    candidate = text.strip()
    digits = re.sub(r"[ :-]", "", candidate)
    if digits[:2].lower() == "0x":
        digits = digits[2:]
    if digits and len(digits) in (32, 40) and all(ch in _HEX for ch in digits):
        return f"{len(digits)} hex digits ({len(digits) // 2} bytes)"
    if candidate.isascii() and candidate.isprintable():
        return f"{len(candidate)} printable characters"
    return f"{len(candidate)} characters, some not printable ASCII"


def check_key_text(text: str, name: str = "key") -> Check:
    """Is this a key in a form the utility hands out? The result shows its shape only."""
    try:
        MepKey.parse(text)
    except KeyFormatError as error:
        return Check(
            name,
            Level.FAIL,
            f"the key is not usable: {error}",
            "write the key exactly as your utility printed it (20 characters, or 32 or 40 hex "
            "digits), alone on one line",
        )
    return Check(
        name, Level.OK, f"the key is {describe_key_shape(text)}; mepd uses its first 16 bytes"
    )


def _key_file_mode(path: str, real: Path, owner_uid: int, enter: str) -> Check | None:
    """A failure of the file itself (missing, not a file, mode, owner), or None."""
    name = "key file"
    if not real.exists():
        return Check(name, Level.FAIL, f"{path} does not exist", enter)
    info = real.stat()
    if not stat.S_ISREG(info.st_mode):
        return Check(
            name, Level.FAIL, f"{path} is not a regular file", f"sudo rm -r {path}\n{enter}"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        return Check(
            name,
            Level.FAIL,
            f"{path} has mode {mode:04o}: other users can read the key",
            f"sudo chmod 600 {path}",
        )
    if info.st_uid != owner_uid:
        return Check(
            name,
            Level.FAIL,
            f"{path} is owned by uid {info.st_uid}, not root",
            f"sudo chown root:root {path}",
        )
    return None


def check_key_file(
    path: str = KEY_FILE,
    *,
    root: str | os.PathLike[str] = "/",
    owner_uid: int = 0,
) -> Check:
    """The key file systemd hands the service (LoadCredential=mbk:/etc/mepd/mbk): 0600, root's."""
    real = _root(root) / path.lstrip("/")
    name = "key file"
    enter = f"sudo sh -c 'umask 077 && cat > {path}'  (paste the key, press Enter, then Ctrl-D)"
    problem = _key_file_mode(path, real, owner_uid, enter)
    if problem is not None:
        return problem
    owner = "root" if owner_uid == 0 else f"uid {owner_uid}"
    where = f"{path}: mode {stat.S_IMODE(real.stat().st_mode):04o}, owner {owner}"
    try:
        text = real.read_text(encoding="utf-8", errors="replace")
    except PermissionError:
        return Check(
            name,
            Level.WARN,
            f"{where}; cannot read it as this user to check the key",
            "sudo mepd doctor",
        )
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        return Check(
            name,
            Level.FAIL,
            f"{path} has {len(lines)} non-empty lines; it must hold the key alone",
            f"sudo nano {path}  (leave only the key)",
        )
    found = check_key_text(text, name)
    if not found.ok:
        return Check(name, found.level, f"{path}: {found.detail}", found.fix)
    return Check(name, Level.OK, f"{where}; {found.detail}")


def all_host_checks(
    *,
    port: str = "/dev/mep0",
    user: str = SERVICE_USER,
    root: str | os.PathLike[str] = "/",
    key_file: str | None = KEY_FILE,
) -> Iterable[Check]:
    """Everything above for one configuration, in the order a person would fix them."""
    if uses_pi_uart(port, root):
        yield from uart_checks(root)
    yield check_device_access(port, user, root=root)
    yield check_gpio_access(user, root=root)
    if key_file is not None:
        yield check_key_file(key_file, root=root)


def uses_pi_uart(port: str, root: str | os.PathLike[str] = "/") -> bool:
    """Is `port` the Pi's own UART (so the UART checks apply), not a USB adapter?"""
    name = Path(port).name
    if name in ("mep0", "serial0", METER_UART, "ttyS0"):
        return True
    target = _link_target(_root(root) / port.lstrip("/"))
    return target is not None and target.startswith(("ttyAMA", "ttyS"))


_on_pi_uart = uses_pi_uart  # the name mepd.cli.doctor imported first
